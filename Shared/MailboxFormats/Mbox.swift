import Foundation

/// Reads an mbox file a piece at a time (RFC 4155's `application/mbox`): each message starts with a
/// `From ` line (the envelope sender and an asctime date) at the start of the file or after an empty
/// line, and lines of the body that would look like one were quoted by the writer with `>`. `mboxrd`
/// writers quote `>From ` too (so one `>` comes off any `>…>From ` line); `mboxo` writers quote only
/// `From ` (so only `>From ` loses its `>`).
///
/// Messages come out with CRLF line ends, as IMAP stores them, without the mbox-only header fields
/// that mail servers keep their state in (`Status`, `X-Status`, `X-Keywords`, `X-UID`, `X-IMAP`,
/// `X-IMAPbase`), whose flags are returned instead. Memory stays bounded: a message larger than
/// `maximumMessageBytes` is an error naming its line, and so is a file whose first line is not a
/// `From ` line.
public struct MboxReader: Sendable {
    public enum Quoting: String, Sendable, CaseIterable {
        case mboxrd, mboxo
    }

    public struct Message: Sendable, Equatable {
        /// The `From ` line's sender (`MAILER-DAEMON` and the like included).
        public let envelopeSender: String
        /// The `From ` line's date (UTC), nil when it has none that reads as one.
        public let date: Date?
        /// CRLF line ends.
        public let content: [UInt8]
        /// IMAP flags and keywords from `Status`, `X-Status` and `X-Keywords`.
        public let flags: Set<String>
        /// The line of the file its `From ` line is on.
        public let line: Int
    }

    public enum ReadError: Error, Equatable, CustomStringConvertible {
        case notMbox
        case messageTooLarge(line: Int)
        case lineTooLong(line: Int)

        public var description: String {
            switch self {
            case .notMbox: "not an mbox file: it does not start with a \"From \" line"
            case .messageTooLarge(let line): "the message starting at line \(line) is larger than the limit"
            case .lineTooLong(let line): "line \(line) is longer than the limit"
            }
        }
    }

    public let quoting: Quoting
    public let maximumMessageBytes: Int

    private var pending: [UInt8] = []
    private var lineNumber = 0
    private var current: (sender: String, date: Date?, line: Int)?
    private var content: [UInt8] = []
    private var inHeader = false
    private var flags: Set<String> = []
    /// A header field of the state kept by mail servers is being skipped (with its continuation lines).
    private var skippingField = false
    private var previousLineEmpty = true
    /// An empty line before a possible separator: it belongs to the format unless more text follows.
    private var heldEmptyLine = false

    public init(quoting: Quoting = .mboxrd, maximumMessageBytes: Int = 64 << 20) {
        self.quoting = quoting
        self.maximumMessageBytes = maximumMessageBytes
    }

    /// The messages completed by `bytes`.
    public mutating func read(_ bytes: some Collection<UInt8>) throws(ReadError) -> [Message] {
        var done: [Message] = []
        for byte in bytes {
            if byte == 0x0A {
                try self.line(self.pending, into: &done)
                self.pending.removeAll(keepingCapacity: true)
            } else {
                self.pending.append(byte)
                if self.pending.count > self.maximumMessageBytes { throw .lineTooLong(line: self.lineNumber + 1) }
            }
        }
        return done
    }

    /// The last message, once the whole file has been read.
    public mutating func finish() throws(ReadError) -> [Message] {
        var done: [Message] = []
        if !self.pending.isEmpty {
            try self.line(self.pending, into: &done)
            self.pending.removeAll()
        }
        if let message = self.completed() { done.append(message) }
        return done
    }

    private mutating func line(_ raw: [UInt8], into done: inout [Message]) throws(ReadError) {
        self.lineNumber += 1
        var line = raw[...]
        if line.last == 0x0D { line = line.dropLast() }
        if line.starts(with: Self.fromPrefix) && self.previousLineEmpty {
            if let message = self.completed() { done.append(message) }
            let (sender, date) = Self.separator(line.dropFirst(5))
            self.current = (sender, date, self.lineNumber)
            self.inHeader = true
            self.previousLineEmpty = false
            return
        }
        guard self.current != nil else {
            if line.isEmpty {
                self.previousLineEmpty = true
                return
            }
            throw .notMbox
        }
        if self.heldEmptyLine {
            try self.append([UInt8]())
            self.heldEmptyLine = false
        }
        self.previousLineEmpty = line.isEmpty
        if self.inHeader {
            if line.isEmpty {
                self.inHeader = false
                self.skippingField = false
            } else if line.first == 0x20 || line.first == 0x09 {
                if self.skippingField { return }
            } else {
                self.skippingField = self.readStateField(line)
                if self.skippingField { return }
            }
        } else if line.isEmpty {
            // Held back: the empty line before the next `From ` line is the format's, not the message's.
            self.heldEmptyLine = true
            return
        }
        try self.append(self.unquoted(line))
    }

    private mutating func append(_ line: some Collection<UInt8>) throws(ReadError) {
        self.content.append(contentsOf: line)
        self.content.append(contentsOf: [0x0D, 0x0A])
        if self.content.count > self.maximumMessageBytes, let current = self.current {
            throw .messageTooLarge(line: current.line)
        }
    }

    private mutating func completed() -> Message? {
        guard let current = self.current else { return nil }
        let message = Message(
            envelopeSender: current.sender, date: current.date, content: self.content, flags: self.flags, line: current.line)
        self.current = nil
        self.content = []
        self.flags = []
        self.heldEmptyLine = false
        self.skippingField = false
        return message
    }

    private func unquoted(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let quotes = line.prefix { $0 == 0x3E }
        guard !quotes.isEmpty, line.dropFirst(quotes.count).starts(with: Self.fromPrefix) else { return line }
        switch self.quoting {
        case .mboxrd: return line.dropFirst()
        case .mboxo: return quotes.count == 1 ? line.dropFirst() : line
        }
    }

    static let fromPrefix = Array("From ".utf8)
    static let stateFields: Set<String> = ["status", "x-status", "x-keywords", "x-uid", "x-imap", "x-imapbase"]

    /// Whether the header line starts a field of mbox state, whose flags are taken.
    private mutating func readStateField(_ line: ArraySlice<UInt8>) -> Bool {
        guard let colon = line.firstIndex(of: 0x3A) else { return false }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        guard Self.stateFields.contains(name) else { return false }
        let value = String(decoding: line[line.index(after: colon)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        switch name {
        case "status":
            if value.contains("R") { self.flags.insert("\\Seen") }
        case "x-status":
            for (letter, flag) in [("A", "\\Answered"), ("F", "\\Flagged"), ("T", "\\Draft"), ("D", "\\Deleted")]
            where value.contains(letter) {
                self.flags.insert(flag)
            }
        case "x-keywords":
            for keyword in value.split(whereSeparator: { $0 == " " || $0 == "," }) where !keyword.hasPrefix("\\") {
                self.flags.insert(String(keyword))
            }
        default:
            break
        }
        return true
    }

    /// `From sender Thu Nov 26 10:00:00 2026` (asctime, perhaps with a zone before or after the year).
    static func separator(_ rest: ArraySlice<UInt8>) -> (String, Date?) {
        let words = String(decoding: rest, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        guard let sender = words.first else { return ("", nil) }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let fields = Array(words.dropFirst())
        guard fields.count >= 5, let monthIndex = months.firstIndex(of: String(fields[1])), let day = Int(fields[2]) else {
            return (String(sender), nil)
        }
        let time = fields[3].split(separator: ":").compactMap { Int($0) }
        guard time.count >= 2, let year = fields.dropFirst(4).lazy.compactMap({ Int($0) }).first(where: { $0 > 1900 }) else {
            return (String(sender), nil)
        }
        var components = DateComponents()
        components.year = year
        components.month = monthIndex + 1
        components.day = day
        components.hour = time[0]
        components.minute = time[1]
        components.second = time.count > 2 ? time[2] : 0
        components.timeZone = TimeZone(secondsFromGMT: 0)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return (String(sender), calendar.date(from: components))
    }
}

/// Writes messages as an `mboxrd` file: a `From ` line, the message with LF line ends and every
/// `>…>From ` line quoted once more, and an empty line; flags in `Status` and `X-Status` fields, as
/// Dovecot and mutt read them.
public enum MboxWriter {
    public static func entry(
        content: some Collection<UInt8>, envelopeSender: String, date: Date, flags: Set<String>
    ) -> [UInt8] {
        var out = Array("From \(envelopeSender.isEmpty ? "MAILER-DAEMON" : envelopeSender) \(Self.asctime(date))\n".utf8)
        var lines = Self.lines(content)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var inHeader = true
        for line in lines {
            if inHeader && line.isEmpty {
                out += Self.stateFields(flags)
                inHeader = false
            }
            let quotes = line.prefix { $0 == 0x3E }
            if line.dropFirst(quotes.count).starts(with: MboxReader.fromPrefix) { out.append(0x3E) }
            out += line
            out.append(0x0A)
        }
        if inHeader { out += Self.stateFields(flags) + [0x0A] }
        out.append(0x0A)
        return out
    }

    static func stateFields(_ flags: Set<String>) -> [UInt8] {
        var out: [UInt8] = []
        out += Array("Status: \(flags.contains("\\Seen") ? "RO" : "O")\n".utf8)
        let status = [("\\Answered", "A"), ("\\Flagged", "F"), ("\\Draft", "T"), ("\\Deleted", "D")]
            .filter { flags.contains($0.0) }.map(\.1).joined()
        if !status.isEmpty { out += Array("X-Status: \(status)\n".utf8) }
        let keywords = flags.filter { !$0.hasPrefix("\\") }.sorted()
        if !keywords.isEmpty { out += Array("X-Keywords: \(keywords.joined(separator: " "))\n".utf8) }
        return out
    }

    static func lines(_ content: some Collection<UInt8>) -> [ArraySlice<UInt8>] {
        let bytes = Array(content)
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            var end = index
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            lines.append(bytes[start..<end])
            start = index + 1
        }
        lines.append(bytes[start...])
        return lines
    }

    static func asctime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents([.weekday, .month, .day, .hour, .minute, .second, .year], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { let v = value ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        let day = parts.day ?? 1
        return "\(days[((parts.weekday ?? 1) - 1) % 7]) \(months[((parts.month ?? 1) - 1) % 12]) \(day < 10 ? " \(day)" : "\(day)") "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) \(parts.year ?? 1970)"
    }
}
