import Foundation

/// A syntax error in a command: the session answers `tag BAD text` and carries on.
public struct IMAPSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// A well-formed command beyond a limit its RFC states (not garbage): answered BAD without counting
    /// against the client as an invalid command.
    public let exceedsLimit: Bool
    public init(_ message: String, exceedsLimit: Bool = false) {
        self.message = message
        self.exceedsLimit = exceedsLimit
    }
    public var description: String { self.message }
}

/// Reads the tokens of one framed command: its lines in order, each literal taking the place of the
/// `{n}` announcement that ends its line. Every read checks its bounds; nothing here can trap on input.
struct IMAPScanner {
    private let command: IMAPCommandBytes
    private var line = 0
    private var offset = 0
    /// The last literal read was the one the framer handed to the session in pieces.
    private(set) var lastLiteralStreamed = false
    /// Nesting of parenthesised lists and SEARCH keys, bounded.
    private var depth = 0
    static let maximumDepth = 32
    /// UTF-8 in quoted strings and atoms (RFC 9051 allows it; RFC 3501 did not).
    let allowsUTF8: Bool

    init(_ command: IMAPCommandBytes, allowsUTF8: Bool = true) {
        self.command = command
        self.allowsUTF8 = allowsUTF8
    }

    private var bytes: [UInt8] { self.line < self.command.lines.count ? self.command.lines[self.line] : [] }

    var atEnd: Bool { self.line >= self.command.lines.count - 1 && self.offset >= self.bytes.count }

    func peek() -> UInt8? {
        let bytes = self.bytes
        return self.offset < bytes.count ? bytes[self.offset] : nil
    }

    mutating func advance() { self.offset += 1 }

    func peekIs(_ character: Character) -> Bool { self.peek() == character.asciiValue }

    mutating func take(_ character: Character) -> Bool {
        guard self.peekIs(character) else { return false }
        self.advance()
        return true
    }

    mutating func expect(_ character: Character) throws(IMAPSyntaxError) {
        guard self.take(character) else { throw IMAPSyntaxError("Expected \"\(character)\"") }
    }

    mutating func space() throws(IMAPSyntaxError) {
        guard self.take(" ") else { throw IMAPSyntaxError("Expected a space") }
    }

    mutating func end() throws(IMAPSyntaxError) {
        guard self.atEnd else { throw IMAPSyntaxError("Unexpected text at the end of the command") }
    }

    mutating func enter() throws(IMAPSyntaxError) {
        self.depth += 1
        guard self.depth <= Self.maximumDepth else { throw IMAPSyntaxError("Too deeply nested") }
    }

    mutating func leave() { self.depth -= 1 }

    /// A run of bytes matching `accept`, at least one.
    mutating func run(_ what: String, _ accept: (UInt8) -> Bool) throws(IMAPSyntaxError) -> [UInt8] {
        let bytes = self.bytes
        let start = self.offset
        while self.offset < bytes.count, accept(bytes[self.offset]) || (self.allowsUTF8 && bytes[self.offset] >= 0x80) {
            self.offset += 1
        }
        guard self.offset > start else { throw IMAPSyntaxError("Expected \(what)") }
        return Array(bytes[start..<self.offset])
    }

    mutating func atom() throws(IMAPSyntaxError) -> String {
        try Self.text(try self.run("an atom", IMAPGrammar.isAtomChar))
    }

    mutating func tag() throws(IMAPSyntaxError) -> String {
        let bytes = self.bytes
        let start = self.offset
        while self.offset < bytes.count, IMAPGrammar.isTagChar(bytes[self.offset]) { self.offset += 1 }
        guard self.offset > start, self.offset - start <= 64 else { throw IMAPSyntaxError("Invalid tag") }
        return String(decoding: bytes[start..<self.offset], as: UTF8.self)
    }

    /// astring: 1*ASTRING-CHAR or string. A `~` starts an atom here (`~foo` is a name): a literal8
    /// is no astring.
    mutating func astring() throws(IMAPSyntaxError) -> [UInt8] {
        if self.peekIs("\"") || self.peekIs("{") { return try self.string() }
        return try self.run("a string", IMAPGrammar.isAstringChar)
    }

    mutating func astringText() throws(IMAPSyntaxError) -> String { try Self.text(try self.astring()) }

    /// string: quoted or literal.
    mutating func string() throws(IMAPSyntaxError) -> [UInt8] {
        if self.peekIs("\"") { return try self.quoted() }
        return try self.literal()
    }

    /// nstring: string or NIL.
    mutating func nstring() throws(IMAPSyntaxError) -> [UInt8]? {
        if self.peekIs("\"") || self.peekIs("{") { return try self.string() }
        guard try self.atom().uppercased() == "NIL" else { throw IMAPSyntaxError("Expected a string or NIL") }
        return nil
    }

    /// A quoted string: no CR, LF or NUL inside; `\` escapes only `"` and `\`.
    mutating func quoted() throws(IMAPSyntaxError) -> [UInt8] {
        try self.expect("\"")
        let bytes = self.bytes
        var value: [UInt8] = []
        while self.offset < bytes.count {
            let byte = bytes[self.offset]
            self.offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                return value
            case UInt8(ascii: "\\"):
                guard self.offset < bytes.count, bytes[self.offset] == UInt8(ascii: "\"") || bytes[self.offset] == UInt8(ascii: "\\")
                else { throw IMAPSyntaxError("Invalid escape in quoted string") }
                value.append(bytes[self.offset])
                self.offset += 1
            case 0, 0x0D, 0x0A:
                throw IMAPSyntaxError("Invalid character in quoted string")
            default:
                if byte >= 0x80 && !self.allowsUTF8 { throw IMAPSyntaxError("8-bit character in quoted string") }
                value.append(byte)
            }
        }
        throw IMAPSyntaxError("Unterminated quoted string")
    }

    /// A literal: `{n}`, `{n+}` or `~{n}` must end its line; its bytes are the framer's next literal.
    mutating func literal() throws(IMAPSyntaxError) -> [UInt8] {
        let bytes = self.bytes
        let rest = Array(bytes[min(self.offset, bytes.count)...])
        guard rest.first == UInt8(ascii: "{"), let announcement = IMAPGrammar.literalAnnouncement(endOf: rest),
            rest.firstIndex(of: UInt8(ascii: "}")) == rest.count - 1,
            self.line < self.command.literals.count
        else { throw IMAPSyntaxError("Expected a string") }
        let literal = self.command.literals[self.line]
        // A streamed literal went to the session in pieces; its place here is empty.
        let streamed = self.command.streamedLiteral.map { $0.index == self.line && $0.size == announcement.size } ?? false
        guard literal.count == announcement.size || (streamed && literal.isEmpty) else {
            throw IMAPSyntaxError("Literal size mismatch")
        }
        let binary = self.offset > 0 && bytes[self.offset - 1] == UInt8(ascii: "~")
        if !binary, literal.contains(0) { throw IMAPSyntaxError("NUL in a literal (use a binary literal)") }
        self.line += 1
        self.offset = 0
        self.lastLiteralStreamed = streamed && literal.isEmpty
        return literal
    }

    /// number: up to 20 digits, checked against `maximum`.
    mutating func number(maximum: UInt64 = UInt64(UInt32.max)) throws(IMAPSyntaxError) -> UInt64 {
        let digits = try self.run("a number") { $0 >= 0x30 && $0 <= 0x39 }
        guard digits.count <= 20, let value = UInt64(String(decoding: digits, as: UTF8.self)), value <= maximum else {
            throw IMAPSyntaxError("Number out of range")
        }
        return value
    }

    /// nz-number: 1 to 4294967295.
    mutating func nzNumber() throws(IMAPSyntaxError) -> UInt32 {
        let value = try self.number()
        guard value > 0 else { throw IMAPSyntaxError("Number out of range") }
        return UInt32(value)
    }

    /// sequence-set (RFC 9051 §9) or `$` (RFC 5182).
    mutating func sequenceSet() throws(IMAPSyntaxError) -> IMAPSequenceSet {
        if self.take("$") { return .saved }
        var ranges: [ClosedRange<IMAPSequenceNumber>] = []
        repeat {
            guard ranges.count < 10_000 else { throw IMAPSyntaxError("Sequence set too long") }
            let low = try self.sequenceNumber()
            var high = low
            if self.take(":") { high = try self.sequenceNumber() }
            ranges.append(min(low, high)...max(low, high))
        } while self.take(",")
        return .ranges(ranges)
    }

    private mutating func sequenceNumber() throws(IMAPSyntaxError) -> IMAPSequenceNumber {
        if self.take("*") { return .last }
        return .number(try self.nzNumber())
    }

    /// `(` items separated by spaces `)`, possibly empty.
    mutating func parenthesised<T>(_ item: (inout IMAPScanner) throws(IMAPSyntaxError) -> T) throws(IMAPSyntaxError) -> [T] {
        try self.expect("(")
        try self.enter()
        defer { self.leave() }
        var items: [T] = []
        if self.take(")") { return items }
        repeat {
            guard items.count < 10_000 else { throw IMAPSyntaxError("List too long") }
            items.append(try item(&self))
        } while self.take(" ")
        try self.expect(")")
        return items
    }

    /// flag: `\`atom or a keyword atom.
    mutating func flag() throws(IMAPSyntaxError) -> IMAPFlag {
        let backslash = self.take("\\")
        let name = try self.atom()
        return IMAPFlag(backslash ? "\\" + name : name)
    }

    /// A mailbox name (astring), decoded from modified UTF-7 unless `utf8` (RFC 6855).
    mutating func mailbox(utf8: Bool) throws(IMAPSyntaxError) -> IMAPMailboxName {
        let raw = try self.astring()
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw IMAPSyntaxError("Mailbox name is not UTF-8")
        }
        if utf8 || text.uppercased() == "INBOX" { return IMAPMailboxName(text) }
        // 8-bit octets are no name without UTF8=ACCEPT (a 7-bit string, RFC 3501 §9), nor are control
        // characters; a printable name that is not modified UTF-7 is a name that cannot exist.
        guard raw.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw IMAPSyntaxError("Invalid mailbox name") }
        guard let decoded = ModifiedUTF7.decode(text) else { return IMAPMailboxName(text, isWellEncoded: false) }
        return IMAPMailboxName(decoded)
    }

    /// list-mailbox: 1*list-char or string.
    mutating func listMailbox() throws(IMAPSyntaxError) -> String {
        if self.peekIs("\"") || self.peekIs("{") { return try Self.text(try self.string()) }
        return try Self.text(try self.run("a mailbox pattern", IMAPGrammar.isListChar))
    }

    /// date-time (RFC 9051 §9): `"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day possibly space-padded.
    mutating func dateTime() throws(IMAPSyntaxError) -> Date {
        let text = try Self.text(try self.quoted())
        guard let date = IMAPDates.dateTime(text) else { throw IMAPSyntaxError("Invalid date-time") }
        return date
    }

    /// date (RFC 9051 §9): `d-Mon-yyyy`, possibly quoted.
    mutating func date() throws(IMAPSyntaxError) -> DateComponents {
        let text = self.peekIs("\"") ? try Self.text(try self.quoted()) : try Self.text(try self.run("a date") { IMAPGrammar.isAtomChar($0) })
        guard let date = IMAPDates.date(text) else { throw IMAPSyntaxError("Invalid date") }
        return date
    }

    static func text(_ bytes: [UInt8]) throws(IMAPSyntaxError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw IMAPSyntaxError("Invalid UTF-8") }
        return text
    }
}

/// IMAP's date formats.
enum IMAPDates {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// `d-Mon-yyyy` → calendar date.
    static func date(_ text: String) -> DateComponents? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, (1...2).contains(parts[0].count), parts[2].count == 4,
            let day = Int(parts[0]), (1...31).contains(day),
            let month = Self.months.firstIndex(of: parts[1].lowercased()),
            let year = Int(parts[2]), year >= 1
        else { return nil }
        return DateComponents(year: year, month: month + 1, day: day)
    }

    /// `dd-Mon-yyyy hh:mm:ss +zzzz` (day may be ` d`) → instant.
    static func dateTime(_ text: String) -> Date? {
        let trimmed = text.hasPrefix(" ") ? String(text.dropFirst()) : text
        let fields = trimmed.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3, var components = Self.date(String(fields[0])) else { return nil }
        let time = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        let zone = Array(fields[2].utf8)
        guard time.count == 3, time.allSatisfy({ $0.count == 2 }),
            let hour = Int(time[0]), let minute = Int(time[1]), let second = Int(time[2]),
            hour < 24, minute < 60, second < 61,
            zone.count == 5, zone[0] == UInt8(ascii: "+") || zone[0] == UInt8(ascii: "-"),
            let zoneHours = Int(String(decoding: zone[1...2], as: UTF8.self)),
            let zoneMinutes = Int(String(decoding: zone[3...4], as: UTF8.self)), zoneMinutes < 60
        else { return nil }
        let offset = (zoneHours * 3600 + zoneMinutes * 60) * (zone[0] == UInt8(ascii: "-") ? -1 : 1)
        components.hour = hour
        components.minute = minute
        components.second = min(second, 59)
        guard let timeZone = TimeZone(secondsFromGMT: offset) else { return nil }
        components.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar.date(from: components)
    }
}
