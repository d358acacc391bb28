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
        var fields: [Field] = []
        var lines: [String] = []
        let end = Self.headerEnd(message, maximumBytes: maximumBytes)
        // Split on LF in the octets: in Swift strings CRLF is one Character.
        for rawLine in message.prefix(end).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { break }
            lines.append(String(decoding: line, as: UTF8.self))
        }
        for line in lines {
            if let first = line.first, first == " " || first == "\t" {
                // A continuation line (folding, RFC 5322 §2.2.3).
                if !fields.isEmpty { fields[fields.count - 1].value += line }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            fields.append(Field(name: name, value: String(value)))
        }
        self.fields = fields
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
        self.fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    private static func headerEnd(_ message: Data, maximumBytes: Int) -> Int {
        let limit = min(message.count, maximumBytes)
        var previous: UInt8 = 0
        var beforePrevious: UInt8 = 0
        var offset = 0
        for byte in message.prefix(limit) {
            offset += 1
            if byte == UInt8(ascii: "\n")
                && (previous == UInt8(ascii: "\n") || (previous == UInt8(ascii: "\r") && beforePrevious == UInt8(ascii: "\n")))
            {
                return offset
            }
            beforePrevious = previous
            previous = byte
        }
        return limit
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
