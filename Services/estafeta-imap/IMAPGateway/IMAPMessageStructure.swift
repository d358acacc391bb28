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

    /// An address list as `((name adl mailbox host) ...)`, groups as RFC 9051 §7.5.2 writes them.
    func addresses(_ value: String?) -> String {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return "NIL" }
        var items: [String] = []
        for (group, members) in Self.parseAddressList(value).prefix(1000) {
            if let group { items.append("(NIL NIL \(self.string(group)) NIL)") }
            for member in members {
                let at = member.address.lastIndex(of: "@")
                let mailbox = at.map { String(member.address[..<$0]) } ?? member.address
                let host = at.map { String(member.address[member.address.index(after: $0)...]) }
                items.append("(\(self.string(member.name)) NIL \(self.string(mailbox)) \(self.string(host)))")
            }
            if group != nil { items.append("(NIL NIL NIL NIL)") }
        }
        return items.isEmpty ? "NIL" : "(" + items.joined() + ")"
    }

    /// Splits an address list (RFC 5322 §3.4) into groups of (display name, address); tolerant of
    /// malformed input: whatever it cannot read becomes an address as written.
    static func parseAddressList(_ value: String) -> [(group: String?, members: [(name: String?, address: String)])] {
        var result: [(group: String?, members: [(name: String?, address: String)])] = []
        var members: [(name: String?, address: String)] = []
        var group: String?
        var current = ""
        var quoted = false
        var angle = false
        var comment = 0
        func finish() {
            let text = current.trimmingCharacters(in: .whitespaces)
            current = ""
            guard !text.isEmpty else { return }
            if let open = text.firstIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
                var name = text[..<open].trimmingCharacters(in: .whitespaces)
                if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
                var address = String(text[text.index(after: open)..<close])
                if let colon = address.lastIndex(of: ":"), address.hasPrefix("@") { address = String(address[address.index(after: colon)...]) }
                members.append((name.isEmpty ? nil : name, address))
            } else {
                members.append((nil, text))
            }
        }
        for character in value {
            if comment > 0 {
                if character == "(" { comment += 1 } else if character == ")" { comment -= 1 }
                continue
            }
            switch character {
            case "\"": quoted.toggle(); current.append(character)
            case "(" where !quoted: comment += 1
            case "<" where !quoted: angle = true; current.append(character)
            case ">" where !quoted: angle = false; current.append(character)
            case "," where !quoted && !angle: finish()
            case ":" where !quoted && !angle && group == nil:
                group = current.trimmingCharacters(in: .whitespaces)
                current = ""
                if !members.isEmpty { result.append((nil, members)); members = [] }
            case ";" where !quoted && !angle && group != nil:
                finish()
                result.append((group, members))
                group = nil
                members = []
            default: current.append(character)
            }
        }
        finish()
        if group != nil || !members.isEmpty { result.append((group, members)) }
        return result
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
