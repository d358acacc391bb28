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
        var text = ""
        for step in Self.steps(of: entity ?? MIMEParser.parse(message)) {
            switch step {
            case .text(let words):
                text += words
            case .part(let range, let encoding, let charset):
                var decoder = TextPartDecoder(encoding: encoding, charset: charset)
                text += decoder.decode(message[range]) + decoder.finish() + "\n"
            }
        }
        return text
    }

    /// What the text of a message is made of, in order: text as it is (the header fields of attached
    /// messages), and text parts to decode. A large message's text is read this way a part at a time.
    public enum Step: Sendable {
        case text(String)
        case part(Range<Int>, encoding: String?, charset: String?)
    }

    public static func steps(of root: MIMEEntity) -> [Step] {
        var steps: [Step] = []
        var budget = 5_000
        Self.collect(root, into: &steps, budget: &budget)
        return steps
    }

    private static func collect(_ entity: MIMEEntity, into steps: inout [Step], budget: inout Int) {
        guard budget > 0 else { return }
        budget -= 1
        if entity.isMultipart {
            for child in entity.children { Self.collect(child, into: &steps, budget: &budget) }
        } else if let inner = entity.enclosed.first {
            steps.append(.text(inner.fields.map { "\($0.name): \(EncodedWords.decode($0.value))\n" }.joined()))
            Self.collect(inner, into: &steps, budget: &budget)
        } else if entity.type == "text" || entity.type.isEmpty {
            steps.append(.part(entity.body, encoding: entity.field("content-transfer-encoding"), charset: entity.parameter("charset")))
        }
    }
}

/// A text part's octets to text a piece at a time: its transfer encoding undone (kept as it is when
/// unknown) and its charset converted. Text is converted in stretches that end at a line end, where
/// every charset mail uses is back in its initial state; fed at once, the part is converted whole.
public struct TextPartDecoder: Sendable {
    private var transfer: TransferDecoder
    private let charset: String?
    private let utf16: Bool
    /// Decoded octets not yet converted.
    private var pending: [UInt8] = []
    /// UTF-16's byte order mark, read at the start and given to every later stretch.
    private var byteOrderMark: [UInt8] = []
    private var started = false

    /// Decoded octets held before a stretch is converted.
    static let stretchBytes = 256 * 1024

    public init(encoding: String?, charset: String?) {
        self.transfer = TransferDecoder(encoding: encoding) ?? TransferDecoder(.identity)
        self.charset = charset
        self.utf16 = charset.map { $0.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("utf-16") } ?? false
    }

    /// The text of the octets so far that can be converted yet.
    public mutating func decode(_ piece: some Collection<UInt8>) -> String {
        if piece.withContiguousStorageIfAvailable({ self.transfer.decode(UnsafeRawBufferPointer($0), into: &self.pending) }) == nil {
            Array(piece).withUnsafeBytes { self.transfer.decode($0, into: &self.pending) }
        }
        guard self.pending.count >= Self.stretchBytes, let cut = self.cut() else { return "" }
        let stretch = Array(self.pending[..<cut])
        self.pending.removeSubrange(..<cut)
        return self.convert(stretch)
    }

    /// The text of what is left.
    public mutating func finish() -> String {
        self.transfer.finish(into: &self.pending)
        defer { self.pending = [] }
        return self.convert(self.pending)
    }

    private mutating func convert(_ stretch: [UInt8]) -> String {
        if !self.started {
            self.started = true
            if self.utf16, stretch.count >= 2, (stretch[0] == 0xFE && stretch[1] == 0xFF) || (stretch[0] == 0xFF && stretch[1] == 0xFE) {
                self.byteOrderMark = Array(stretch[..<2])
            }
            return Charsets.string(stretch, charset: self.charset)
        }
        return Charsets.string(self.byteOrderMark + stretch, charset: self.charset)
    }

    /// Where to end the next stretch: after the last line end (in UTF-16, a whole line-feed unit), or
    /// else at a character boundary as UTF-8 sees it.
    private func cut() -> Int? {
        let bytes = self.pending
        if self.utf16 {
            var index = bytes.count - (bytes.count % 2) - 2
            while index >= 0 {
                if (bytes[index] == 0x0A && bytes[index + 1] == 0) || (bytes[index] == 0 && bytes[index + 1] == 0x0A) { return index + 2 }
                index -= 2
            }
            return bytes.count - (bytes.count % 2)
        }
        if let lineFeed = bytes.lastIndex(of: 10) { return lineFeed + 1 }
        var end = bytes.count
        while end > bytes.count - 4, end > 0, bytes[end - 1] & 0xC0 == 0x80 { end -= 1 }
        if end > 0, bytes[end - 1] >= 0xC0 { end -= 1 }
        return end > 0 ? end : nil
    }
}

/// Which of some words a text holds, ignoring case as SEARCH does, with the text given a stretch at a
/// time: the end of each stretch is kept for a word that runs on into the next.
public struct TextWordFinder: Sendable {
    private var wanted: [String]
    public private(set) var found: Set<String> = []
    private var tail = ""
    private let overlap: Int

    public init(_ words: [String]) {
        self.wanted = Array(Set(words.filter { !$0.isEmpty }))
        self.found = Set(words.filter(\.isEmpty))
        // A match may be longer than its word once case is folded (ß and SS): room for three times it.
        self.overlap = 3 * (self.wanted.map(\.count).max() ?? 0)
    }

    public var isDone: Bool { self.wanted.isEmpty }

    public mutating func feed(_ text: String, contains: (String, String) -> Bool) {
        guard !self.wanted.isEmpty, !text.isEmpty else { return }
        let window = self.tail + text
        self.wanted.removeAll { word in
            guard contains(window, word) else { return false }
            self.found.insert(word)
            return true
        }
        self.tail = String(window.suffix(self.overlap))
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
