import Foundation
import IMAPProtocol
import MailFormat

/// ENVELOPE and BODY/BODYSTRUCTURE of a message (RFC 9051 §7.5.2), from its MIME structure, as values
/// for `IMAPFetchWriter`. Header strings are sent as they are in the message (clients decode RFC 2047
/// words themselves).
struct IMAPMessageStructure {
    let root: MIMEEntity

    init(_ bytes: [UInt8]) {
        self.init(root: MIMEParser.parse(bytes))
    }

    /// From a structure worked out already (a large message's, read a piece at a time).
    init(root: MIMEEntity) {
        self.root = root
    }

    // MARK: ENVELOPE

    func envelope() -> IMAPEnvelope { Self.envelope(of: self.root) }

    static func envelope(of entity: MIMEEntity) -> IMAPEnvelope {
        let from = entity.field("From")
        return IMAPEnvelope(
            date: entity.field("Date"), subject: entity.field("Subject"), from: Self.addresses(from),
            sender: Self.addresses(entity.field("Sender") ?? from), replyTo: Self.addresses(entity.field("Reply-To") ?? from),
            to: Self.addresses(entity.field("To")), cc: Self.addresses(entity.field("Cc")), bcc: Self.addresses(entity.field("Bcc")),
            inReplyTo: entity.field("In-Reply-To"), messageID: entity.field("Message-ID"))
    }

    /// An address list with its groups (RFC 9051 §7.5.2: a member with no host starts a group), so an
    /// address without a domain gets a placeholder host (as Dovecot does) lest it read as a group.
    static func addresses(_ value: String?) -> [IMAPAddress]? {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        var items: [IMAPAddress] = []
        for entry in AddressList(parsing: value).entries {
            if let group = entry.group { items.append(.groupStart(group)) }
            for member in entry.members {
                let mailbox = member.localPart.isEmpty ? "MISSING_MAILBOX" : member.localPart
                let host = member.domain.map { $0.isEmpty ? "MISSING_DOMAIN" : $0 } ?? "MISSING_DOMAIN"
                items.append(.mailbox(name: member.displayName, mailbox: mailbox, host: host))
            }
            if entry.group != nil { items.append(.groupEnd) }
        }
        return items.isEmpty ? nil : items
    }

    // MARK: BODY and BODYSTRUCTURE

    func bodyStructure() -> IMAPBodyStructure { Self.body(self.root) }

    private static func parameters(_ parameters: [(name: String, value: String)]) -> [IMAPBodyParameter] {
        parameters.map { IMAPBodyParameter($0.name, $0.value) }
    }

    private static func body(_ entity: MIMEEntity) -> IMAPBodyStructure {
        if entity.isMultipart && !entity.children.isEmpty {
            return .multipart(
                parts: entity.children.map(Self.body), subtype: entity.subtype, parameters: Self.parameters(entity.parameters),
                extensionData: Self.extensionData(entity))
        }
        // A multipart without parts is described as what it is, with no children.
        let fields = IMAPBodyFields(
            type: entity.type, subtype: entity.subtype, parameters: Self.parameters(entity.parameters), id: entity.field("Content-ID"),
            description: entity.field("Content-Description"),
            encoding: (entity.field("Content-Transfer-Encoding") ?? "7BIT").trimmingCharacters(in: .whitespaces), size: entity.body.count)
        let md5 = entity.field("Content-MD5")
        if entity.type == "message", entity.subtype == "rfc822", let inner = entity.enclosed.first {
            return .message(
                fields, envelope: Self.envelope(of: inner), body: Self.body(inner), lines: entity.bodyLines, md5: md5,
                extensionData: Self.extensionData(entity))
        }
        return .single(fields, lines: entity.type == "text" ? entity.bodyLines : nil, md5: md5, extensionData: Self.extensionData(entity))
    }

    /// body-fld-dsp body-fld-lang body-fld-loc.
    private static func extensionData(_ entity: MIMEEntity) -> IMAPBodyExtension {
        let disposition = entity.field("Content-Disposition").flatMap(MIMEParser.disposition).map {
            IMAPBodyDisposition($0.0, Self.parameters($0.1))
        }
        return IMAPBodyExtension(
            disposition: disposition, language: entity.field("Content-Language").map { $0.trimmingCharacters(in: .whitespaces) },
            location: entity.field("Content-Location"))
    }
}
