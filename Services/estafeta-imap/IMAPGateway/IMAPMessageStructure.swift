import Foundation
import IMAPProtocol
import MailFormat

/// ENVELOPE and BODY/BODYSTRUCTURE of a message (RFC 9051 §7.5.2), from its MIME structure. Header
/// strings are sent as they are in the message (clients decode RFC 2047 words themselves).
struct IMAPMessageStructure {
    let root: MIMEEntity
    /// UTF-8 may be sent in quoted strings (UTF8=ACCEPT or IMAP4rev2); literals otherwise.
    let utf8: Bool

    init(_ bytes: [UInt8], utf8: Bool) {
        self.init(root: MIMEParser.parse(bytes), utf8: utf8)
    }

    /// From a structure worked out already (a large message's, read a piece at a time).
    init(root: MIMEEntity, utf8: Bool) {
        self.root = root
        self.utf8 = utf8
    }

    private func string(_ text: String?) -> String {
        guard let text else { return "NIL" }
        return String(decoding: IMAPEncoding.string(text, utf8: self.utf8), as: UTF8.self)
    }

    // MARK: ENVELOPE

    func envelope() -> String { self.envelope(of: self.root) }

    func envelope(of entity: MIMEEntity) -> String {
        let from = entity.field("From")
        let fields = [
            self.string(entity.field("Date")), self.string(entity.field("Subject")),
            self.addresses(from), self.addresses(entity.field("Sender") ?? from),
            self.addresses(entity.field("Reply-To") ?? from), self.addresses(entity.field("To")),
            self.addresses(entity.field("Cc")), self.addresses(entity.field("Bcc")),
            self.string(entity.field("In-Reply-To")), self.string(entity.field("Message-ID")),
        ]
        return "(" + fields.joined(separator: " ") + ")"
    }

    /// An address list as `((name adl mailbox host) ...)`, groups as RFC 9051 §7.5.2 writes them: a
    /// member with a NIL host starts a group and one of all NIL ends it, so an address without a
    /// domain gets a placeholder host instead of NIL (as Dovecot does) lest it read as a group.
    func addresses(_ value: String?) -> String {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return "NIL" }
        var items: [String] = []
        for entry in AddressList(parsing: value).entries {
            if let group = entry.group { items.append("(NIL NIL \(self.string(group)) NIL)") }
            for member in entry.members {
                let mailbox = member.localPart.isEmpty ? "MISSING_MAILBOX" : member.localPart
                let host = member.domain.map { $0.isEmpty ? "MISSING_DOMAIN" : $0 } ?? "MISSING_DOMAIN"
                items.append("(\(self.string(member.displayName)) NIL \(self.string(mailbox)) \(self.string(host)))")
            }
            if entry.group != nil { items.append("(NIL NIL NIL NIL)") }
        }
        return items.isEmpty ? "NIL" : "(" + items.joined() + ")"
    }

    // MARK: BODY and BODYSTRUCTURE

    func bodyStructure(extensible: Bool) -> String { self.body(self.root, extensible: extensible) }

    private func parameterList(_ parameters: [(name: String, value: String)]) -> String {
        guard !parameters.isEmpty else { return "NIL" }
        return "(" + parameters.map { "\(self.string($0.name.uppercased())) \(self.string($0.value))" }.joined(separator: " ") + ")"
    }

    private func body(_ entity: MIMEEntity, extensible: Bool) -> String {
        if entity.isMultipart && !entity.children.isEmpty {
            var text = "(" + entity.children.map { self.body($0, extensible: extensible) }.joined()
            text += " " + self.string(entity.subtype.uppercased())
            if extensible {
                text += " " + self.parameterList(entity.parameters) + " " + self.extensionTail(entity)
            }
            return text + ")"
        }
        let size = entity.body.count
        // A multipart without parts is described as what it is, with no children.
        var fields = [
            self.string(entity.type.uppercased()), self.string(entity.subtype.uppercased()), self.parameterList(entity.parameters),
            self.string(entity.field("Content-ID")), self.string(entity.field("Content-Description")),
            self.string((entity.field("Content-Transfer-Encoding") ?? "7BIT").trimmingCharacters(in: .whitespaces).uppercased()),
            "\(size)",
        ]
        if entity.type == "message", entity.subtype == "rfc822", let inner = entity.enclosed.first {
            fields += [self.envelope(of: inner), self.body(inner, extensible: extensible), "\(entity.bodyLines)"]
        } else if entity.type == "text" {
            fields.append("\(entity.bodyLines)")
        }
        if extensible {
            fields += [self.string(entity.field("Content-MD5")), self.extensionTail(entity)]
        }
        return "(" + fields.joined(separator: " ") + ")"
    }

    /// body-fld-dsp body-fld-lang body-fld-loc.
    private func extensionTail(_ entity: MIMEEntity) -> String {
        var disposition = "NIL"
        if let value = entity.field("Content-Disposition"), let parsed = MIMEParser.disposition(value) {
            disposition = "(" + self.string(parsed.0.uppercased()) + " " + self.parameterList(parsed.1) + ")"
        }
        let language = entity.field("Content-Language").map { self.string($0.trimmingCharacters(in: .whitespaces)) } ?? "NIL"
        return disposition + " " + language + " " + self.string(entity.field("Content-Location"))
    }
}
