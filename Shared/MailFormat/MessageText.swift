import Foundation

/// Text a person would read in a message, for searching (IMAP SEARCH BODY/TEXT/SUBJECT…, RFC 9051
/// §6.4.4): header values with RFC 2047 encoded words decoded, and the text parts of the body with their
/// transfer encoding undone and their charset converted. Pure and lenient: malformed input yields what
/// can be read, never an error.
public enum MessageText {
    /// The text of every text/* part (a part without Content-Type is text/plain), and of the header and
    /// text of attached messages, one after another. Attachments of other types are not text and are
    /// left out.
    public static func body(of message: [UInt8], entity: MIMEEntity? = nil) -> String {
        let root = entity ?? MIMEParser.parse(message)
        var text = ""
        var budget = 5_000
        Self.collect(root, in: message, into: &text, budget: &budget)
        return text
    }

    private static func collect(_ entity: MIMEEntity, in message: [UInt8], into text: inout String, budget: inout Int) {
        guard budget > 0 else { return }
        budget -= 1
        if entity.isMultipart {
            for child in entity.children { Self.collect(child, in: message, into: &text, budget: &budget) }
        } else if let inner = entity.enclosed.first {
            for field in inner.fields { text += "\(field.name): \(EncodedWords.decode(field.value))\n" }
            Self.collect(inner, in: message, into: &text, budget: &budget)
        } else if entity.type == "text" || entity.type.isEmpty {
            let raw = message[entity.body]
            let decoded = TransferEncoding.decode(raw, encoding: entity.field("content-transfer-encoding")) ?? Array(raw)
            text += Charsets.string(decoded, charset: entity.parameter("charset"))
            text += "\n"
        }
    }
}

/// RFC 2047 encoded words (`=?charset?B?…?=`, `=?charset?Q?…?=`) in header values.
public enum EncodedWords {
    /// The value with its encoded words decoded; white space between two adjacent encoded words is
    /// dropped (RFC 2047 §6.2). Anything malformed stays as written.
    public static func decode(_ value: String) -> String {
        // Most values hold no encoded word: a scan of the UTF-8 buffer, not a string search (nor a zip
        // of the views, which cost as much again), says so.
        var scanned = value
        let mayHoldWord = scanned.withUTF8 { bytes in
            bytes.count > 1 && (0..<(bytes.count - 1)).contains { bytes[$0] == UInt8(ascii: "=") && bytes[$0 + 1] == UInt8(ascii: "?") }
        }
        guard mayHoldWord else { return value }
        var output = ""
        var rest = Substring(value)
        var lastWasEncoded = false
        while let start = rest.range(of: "=?") {
            let before = rest[..<start.lowerBound]
            guard let word = Self.word(in: rest[start.lowerBound...]) else {
                output += before + "=?"
                lastWasEncoded = false
                rest = rest[start.upperBound...]
                continue
            }
            // Only white space between two encoded words: it goes.
            if !(lastWasEncoded && before.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })) {
                output += before
            }
            output += word.text
            lastWasEncoded = true
            rest = rest[word.end...]
        }
        return output + rest
    }

    private static func word(in text: Substring) -> (text: String, end: Substring.Index)? {
        // =?charset?encoding?encoded-text?=
        let parts = text.dropFirst(2)
        guard let q1 = parts.firstIndex(of: "?") else { return nil }
        let charset = parts[..<q1]
        let afterCharset = parts[parts.index(after: q1)...]
        guard let q2 = afterCharset.firstIndex(of: "?") else { return nil }
        let encoding = afterCharset[..<q2].uppercased()
        let encoded = afterCharset[afterCharset.index(after: q2)...]
        guard let close = encoded.range(of: "?=") else { return nil }
        let payload = encoded[..<close.lowerBound]
        guard !charset.isEmpty, !payload.contains(" "), payload.count <= 998 else { return nil }
        // RFC 2231 §5: a language may follow the charset after '*'.
        let charsetName = String(charset.split(separator: "*", maxSplits: 1).first ?? charset)
        let bytes: [UInt8]
        switch encoding {
        case "B": bytes = TransferEncoding.base64(Array(payload.utf8))
        case "Q":
            let underscored = payload.utf8.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: " ") : $0 }
            bytes = TransferEncoding.quotedPrintable(underscored)
        default: return nil
        }
        return (Charsets.string(bytes, charset: charsetName), close.upperBound)
    }
}

/// Character sets named in MIME, to Swift strings.
public enum Charsets {
    /// `bytes` in `charset`; UTF-8 (then ISO-8859-1, which every byte sequence is) when the charset is
    /// missing, unknown, or wrong for the bytes.
    public static func string(_ bytes: [UInt8], charset: String?) -> String {
        if let encoding = charset.flatMap(Self.encoding(named:)), let text = String(bytes: bytes, encoding: encoding) {
            return text
        }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return String(bytes: bytes, encoding: .isoLatin1) ?? String(decoding: bytes, as: UTF8.self)
    }

    static func encoding(named name: String) -> String.Encoding? {
        switch name.trimmingCharacters(in: .whitespaces).lowercased() {
        case "utf-8", "utf8": .utf8
        case "us-ascii", "ascii", "ansi_x3.4-1968": .utf8  // a subset; UTF-8 reads it and forgives 8-bit strays
        case "iso-8859-1", "latin1", "iso8859-1", "l1": .isoLatin1
        case "iso-8859-2", "latin2", "iso8859-2": .isoLatin2
        case "windows-1250", "cp1250": .windowsCP1250
        case "windows-1251", "cp1251": .windowsCP1251
        case "windows-1252", "cp1252": .windowsCP1252
        case "windows-1253", "cp1253": .windowsCP1253
        case "windows-1254", "cp1254": .windowsCP1254
        case "utf-16": .utf16
        case "utf-16be": .utf16BigEndian
        case "utf-16le": .utf16LittleEndian
        case "iso-2022-jp": .iso2022JP
        case "shift_jis", "shift-jis", "sjis": .shiftJIS
        case "euc-jp": .japaneseEUC
        default: nil
        }
    }
}
