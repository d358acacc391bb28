import Foundation

/// The header section of an RFC 5322 message: its fields in order, unfolded.
///
/// Pure and bounded: it reads up to the first empty line (or `maximumBytes`), never the body.
public struct MessageHeader: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        /// As written (compare case-insensitively).
        public var name: String
        /// Unfolded (CRLF before white space removed), leading white space trimmed.
        public var value: String
    }

    public var fields: [Field]

    /// RFC 5321 §6.3: a message with this many `Received:` fields is looping (Postfix uses 50 too).
    public static let hopLimit = 50

    public init(parsing message: Data, maximumBytes: Int = 1 << 20) {
        // Bytes, not Strings, until a field is found: SEARCH parses the header of every message of a
        // mailbox, and splitting `Data` element by element was most of its time.
        self.fields = message.withUnsafeBytes { Self.fields(of: $0, maximumBytes: maximumBytes) }
    }

    /// The header of bytes in place (a MIME part of a message already in memory).
    public init(parsing bytes: UnsafeRawBufferPointer, maximumBytes: Int = 1 << 20) {
        self.fields = Self.fields(of: bytes, maximumBytes: maximumBytes)
    }

    /// Only the fields called one of `names` (compared ASCII case-insensitively): SEARCH SUBJECT looks
    /// at one field of every message, and the others are skipped without being made into text.
    public init(parsing message: Data, only names: [String], maximumBytes: Int = 1 << 20) {
        let wanted = names.map { Array($0.utf8).map(Self.lowercased) }
        self.fields = message.withUnsafeBytes { Self.fields(of: $0, maximumBytes: maximumBytes, only: wanted) }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// The fields of the header in `bytes`; with `wanted` (lower-case names), only those.
    private static func fields(of bytes: UnsafeRawBufferPointer, maximumBytes: Int, only wanted: [[UInt8]]? = nil) -> [Field] {
        func text(_ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let limit = min(bytes.count, maximumBytes)
        func isWanted(_ name: Range<Int>) -> Bool {
            guard let wanted else { return true }
            return wanted.contains { candidate in
                candidate.count == name.count && zip(candidate, name).allSatisfy { $0 == Self.lowercased(bytes[$1]) }
            }
        }
        var fields: [Field] = []
        // Whether the last field was kept, so its continuation lines are too.
        var keeping = false
        var start = 0
        while start < limit {
            // One line: LF-terminated in the octets (CRLF is one Character in a Swift string).
            var lineFeed = start
            while lineFeed < limit, bytes[lineFeed] != UInt8(ascii: "\n") { lineFeed += 1 }
            var end = lineFeed
            if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end == start { break }  // the empty line that ends the header section
            if isBlank(bytes[start]) {
                // A continuation line (folding, RFC 5322 §2.2.3).
                if keeping, !fields.isEmpty { fields[fields.count - 1].value += text(start..<end) }
            } else if let colon = (start..<end).first(where: { bytes[$0] == UInt8(ascii: ":") }) {
                var nameStart = start
                var nameEnd = colon
                while nameStart < nameEnd, isBlank(bytes[nameStart]) { nameStart += 1 }
                while nameEnd > nameStart, isBlank(bytes[nameEnd - 1]) { nameEnd -= 1 }
                var valueStart = colon + 1
                while valueStart < end, isBlank(bytes[valueStart]) { valueStart += 1 }
                keeping = isWanted(nameStart..<nameEnd)
                if keeping { fields.append(Field(name: text(nameStart..<nameEnd), value: text(valueStart..<end))) }
            }
            start = lineFeed + 1
        }
        return fields
    }

    /// `Received:` fields at or over `hopLimit`.
    public var exceedsHopLimit: Bool { self.values("Received").count >= Self.hopLimit }

    /// The header section of `message`, through the line end of its last field (without the empty line).
    public static func section(of message: Data) -> Data {
        if let end = message.range(of: Data("\r\n\r\n".utf8)) { return message[..<(end.lowerBound + 2)] }
        if let end = message.range(of: Data("\n\n".utf8)) { return message[..<(end.lowerBound + 1)] }
        return message
    }

    /// Every value of the fields called `name`.
    public func values(_ name: String) -> [String] {
        self.fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// Field names compare ASCII case-insensitively (RFC 5322 §1.2.2; names are printable ASCII).
    public static func sameName(_ one: String, _ other: String) -> Bool {
        one.utf8.count == other.utf8.count
            && zip(one.utf8, other.utf8).allSatisfy { a, b in a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A) }
    }
}

/// The addresses of an RFC 5322 `address-list` / `mailbox-list` (From, To, Cc, Reply-To, Sender),
/// with display names, comments, quoted strings and groups understood.
public enum AddressListParser {
    /// The addr-specs found, in order (`local@domain`, quotes kept in the local part); group names
    /// and display names are skipped. Unparseable pieces are returned as written, so a caller that
    /// checks them (sender ownership) refuses rather than skips them.
    public static func addresses(in value: String) -> [String] {
        var addresses: [String] = []
        var current = ""  // text of the current mailbox outside comments and angle brackets
        var angle: String?  // text inside <...>
        var inQuotes = false
        var commentDepth = 0
        var escaped = false
        var skipUntilSeparator = false  // after `<...>`, until the next `,`

        func finish() {
            if let angle {
                addresses.append(Self.stripRoute(angle.trimmingCharacters(in: .whitespaces)))
            } else {
                let bare = current.trimmingCharacters(in: .whitespaces)
                if !bare.isEmpty { addresses.append(bare) }
            }
            current = ""
            angle = nil
        }

        for character in value {
            if escaped {
                if angle != nil { angle?.append(character) } else { current.append(character) }
                escaped = false
                continue
            }
            if commentDepth > 0 {
                switch character {
                case "\\": escaped = true
                case "(": commentDepth += 1
                case ")": commentDepth -= 1
                default: break
                }
                continue
            }
            if inQuotes {
                if character == "\\" { escaped = true }
                if character == "\"" { inQuotes = false }
                if angle != nil { angle?.append(character) } else { current.append(character) }
                continue
            }
            switch character {
            case "\"":
                inQuotes = true
                if angle != nil { angle?.append(character) } else { current.append(character) }
            case "(":
                commentDepth = 1
            case "<" where angle == nil:
                angle = ""
                current = ""  // what came before was a display name
            case ">" where angle != nil:
                // The mailbox ends here; anything until the next comma is ignored.
                let found = angle ?? ""
                addresses.append(Self.stripRoute(found.trimmingCharacters(in: .whitespaces)))
                angle = nil
                current = ""
                skipUntilSeparator = true
            case ",", ";":
                if skipUntilSeparator {
                    skipUntilSeparator = false
                    current = ""
                } else {
                    finish()
                }
            case ":" where angle == nil:
                // "group-name:" starts a group; its name is not an address.
                current = ""
            default:
                if skipUntilSeparator { continue }
                if angle != nil { angle?.append(character) } else { current.append(character) }
            }
        }
        if !skipUntilSeparator { finish() }
        return addresses.filter { !$0.isEmpty }
    }

    /// `@a,@b:user@host` (obsolete route) is `user@host`.
    private static func stripRoute(_ address: String) -> String {
        guard address.hasPrefix("@"), let colon = address.firstIndex(of: ":") else { return address }
        return String(address[address.index(after: colon)...])
    }
}
