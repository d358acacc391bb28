import Foundation

/// A message's preview (IMAP PREVIEW, RFC 8970): the start of the text a reader sees first, as one
/// line of at most 256 characters. Pure and bounded: it reads at most `maximumSourceBytes` of one part.
public enum MessagePreview {
    /// RFC 8970 §3: a preview holds no more than 256 characters.
    public static let maximumCharacters = 256
    /// Octets of the chosen part read at most, as stored (transfer-encoded): enough for a preview of
    /// any text part, HTML markup and quoted-printable included.
    public static let maximumSourceBytes = 32_768

    /// The part whose text the preview shows: the message's first text/plain part that is not an
    /// attachment (in multipart/alternative the plain text rather than the HTML), else its first such
    /// text/html part; attached messages are not the message's own text. nil when there is none.
    public static func part(of root: MIMEEntity) -> MIMEEntity? {
        var budget = 1_000
        return Self.find(in: root, html: false, budget: &budget) ?? Self.find(in: root, html: true, budget: &budget)
    }

    /// The preview of `part`, from the start of its body as stored (the rest, if any, cut off).
    public static func text(of part: MIMEEntity, body: some Collection<UInt8>) -> String {
        var decoder = TextPartDecoder(encoding: part.field("content-transfer-encoding"), charset: part.parameter("charset"))
        var text = decoder.decode(body.prefix(Self.maximumSourceBytes))
        text += decoder.finish()
        if part.subtype == "html" { text = Self.htmlText(text) }
        return Self.oneLine(text)
    }

    /// The preview of a whole message held in memory.
    public static func text(of message: [UInt8], root: MIMEEntity) -> String {
        guard let part = Self.part(of: root) else { return "" }
        let body = part.body.clamped(to: 0..<message.count)
        return Self.text(of: part, body: message[body])
    }

    private static func find(in entity: MIMEEntity, html: Bool, budget: inout Int) -> MIMEEntity? {
        guard budget > 0 else { return nil }
        budget -= 1
        if entity.isMultipart {
            for child in entity.children {
                if let found = Self.find(in: child, html: html, budget: &budget) { return found }
            }
            return nil
        }
        let disposition = entity.field("content-disposition")?.lowercased() ?? ""
        guard entity.enclosed.isEmpty, !disposition.hasPrefix("attachment") else { return nil }
        let isText = entity.type == "text" || entity.type.isEmpty
        let subtype = entity.type.isEmpty ? "plain" : entity.subtype
        return isText && subtype == (html ? "html" : "plain") ? entity : nil
    }

    /// The text of HTML: no script or style content, no comments or tags, character references
    /// decoded (the common named ones and every numeric one).
    static func htmlText(_ html: String) -> String {
        var text = ""
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            text += Self.decodedReferences(rest[..<open])
            let tag = rest[open...]
            let lowered = tag.prefix(8).lowercased()
            var closing = ">"
            if lowered.hasPrefix("<!--") {
                closing = "-->"
            } else if lowered.hasPrefix("<script") {
                closing = "</script>"
            } else if lowered.hasPrefix("<style") {
                closing = "</style>"
            }
            guard let end = tag.range(of: closing, options: .caseInsensitive) else { return text }
            text += " "  // a tag separates words (<br>, </p>, </td>)
            rest = tag[end.upperBound...]
        }
        return text + Self.decodedReferences(rest)
    }

    private static let namedReferences: [Substring: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "copy": "©", "reg": "®", "hellip": "…",
        "mdash": "—", "ndash": "–", "rsquo": "’", "lsquo": "‘", "rdquo": "”", "ldquo": "“", "euro": "€", "zwnj": "",
    ]

    private static func decodedReferences(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            if let semicolon = after.prefix(10).firstIndex(of: ";") {
                let name = after[..<semicolon]
                var decoded: String?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    decoded = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
                } else if name.hasPrefix("#") {
                    decoded = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
                } else {
                    decoded = Self.namedReferences[name]
                }
                if let decoded {
                    result += decoded
                    rest = after[after.index(after: semicolon)...]
                    continue
                }
            }
            result += "&"
            rest = after
        }
        return result + rest
    }

    /// Every run of white space and control characters made one space, the ends trimmed, cut to
    /// `maximumCharacters`.
    static func oneLine(_ text: String) -> String {
        var line = ""
        var count = 0
        var pendingSpace = false
        for character in text {
            if character.isWhitespace || character.unicodeScalars.allSatisfy({ $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }) {
                pendingSpace = !line.isEmpty
                continue
            }
            if pendingSpace {
                guard count + 1 < Self.maximumCharacters else { break }
                line.append(" ")
                count += 1
                pendingSpace = false
            }
            guard count < Self.maximumCharacters else { break }
            line.append(character)
            count += 1
        }
        return line
    }
}
