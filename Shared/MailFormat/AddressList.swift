import Foundation

/// An address list as a header field writes it (From, To, Cc, Bcc, Reply-To, Sender: RFC 5322 §3.4),
/// read leniently: display names quoted or not, the old comment form `user@example.org (Real Name)`,
/// comments anywhere (also inside the address: `<user (c)@ (c) example.org>`), source routes (§4.4),
/// and groups `team: a@example.org, b@example.org;`, empty ones too. Whatever cannot be read becomes an
/// address as written, never an error.
public struct AddressList: Sendable, Equatable {
    public struct Address: Sendable, Equatable {
        /// The display name, unquoted; a trailing comment when there is none (the old form). Encoded
        /// words (RFC 2047) are left as written.
        public var displayName: String?
        /// The part before the last `@` outside quotes: the whole address when there is none.
        public var localPart: String
        /// The part after it; nil without an `@`.
        public var domain: String?

        public init(displayName: String?, localPart: String, domain: String?) {
            self.displayName = displayName
            self.localPart = localPart
            self.domain = domain
        }

        /// `local@domain`, or the local part alone.
        public var address: String { self.domain.map { "\(self.localPart)@\($0)" } ?? self.localPart }
    }

    /// A group and its members, or (`group` nil) addresses outside any group.
    public struct Entry: Sendable, Equatable {
        public var group: String?
        public var members: [Address]
    }

    public private(set) var entries: [Entry] = []

    /// Every address, in and out of groups.
    public var addresses: [Address] { self.entries.flatMap(\.members) }

    /// Reads `value`, keeping at most `maximumAddresses` (a header of a million commas stays cheap).
    public init(parsing value: String, maximumAddresses: Int = 1000) {
        var reader = Reader(limit: maximumAddresses)
        for character in value { reader.take(character) }
        reader.endOfInput()
        self.entries = reader.entries
    }

    /// The character-by-character reading: what the current address has gathered so far.
    private struct Reader {
        let limit: Int
        var entries: [Entry] = []
        var members: [Address] = []
        var group: String?
        var count = 0
        // The current address.
        var phrase = ""
        var angle: String?
        var insideAngle = false
        var comment: String?
        // Lexical state.
        var quoted = false
        var escaped = false
        var commentDepth = 0
        var commentText = ""

        init(limit: Int) { self.limit = limit }

        mutating func take(_ character: Character) {
            if self.escaped {
                self.escaped = false
                self.appendText(character)
                return
            }
            if self.commentDepth > 0 {
                switch character {
                case "\\": self.escaped = true
                case "(": self.commentDepth += 1; self.commentText.append(character)
                case ")":
                    self.commentDepth -= 1
                    if self.commentDepth == 0 {
                        // A comment inside the angle brackets is no name (it sits between the address's parts).
                        let text = Self.collapsed(self.commentText)
                        if !text.isEmpty && !self.insideAngle { self.comment = text }
                        self.commentText = ""
                    } else {
                        self.commentText.append(character)
                    }
                default: self.commentText.append(character)
                }
                return
            }
            if self.quoted {
                switch character {
                case "\\": self.escaped = true
                case "\"": self.quoted = false; self.appendRaw(character)
                default: self.appendRaw(character)
                }
                return
            }
            switch character {
            case "\"": self.quoted = true; self.appendRaw(character)
            case "(": self.commentDepth = 1; self.appendRaw(" ")
            case "<" where !self.insideAngle: self.insideAngle = true; self.angle = ""
            case ">" where self.insideAngle: self.insideAngle = false
            case "," where !self.insideAngle: self.finishAddress()
            case ":" where !self.insideAngle && self.group == nil:
                self.group = Self.unquoted(self.phrase)
                self.phrase = ""
                self.comment = nil
                if !self.members.isEmpty {
                    self.entries.append(Entry(group: nil, members: self.members))
                    self.members = []
                }
            case ";" where !self.insideAngle && self.group != nil:
                self.finishAddress()
                self.entries.append(Entry(group: self.group, members: self.members))
                self.group = nil
                self.members = []
            default: self.appendRaw(character)
            }
        }

        /// Text of a quoted pair: part of the comment, or of the address or phrase as it stands.
        private mutating func appendText(_ character: Character) {
            if self.commentDepth > 0 { self.commentText.append(character) } else { self.appendRaw(character == "\"" ? "\u{0}" : character) }
        }

        private mutating func appendRaw(_ character: Character) {
            if self.insideAngle { self.angle?.append(character) } else { self.phrase.append(character) }
        }

        mutating func endOfInput() {
            self.finishAddress()
            if self.group != nil || !self.members.isEmpty { self.entries.append(Entry(group: self.group, members: self.members)) }
        }

        private mutating func finishAddress() {
            defer {
                self.phrase = ""
                self.angle = nil
                self.insideAngle = false
                self.comment = nil
            }
            let name: String?
            var written: String
            if let angle = self.angle {
                let phrase = Self.unquoted(self.phrase)
                name = phrase.isEmpty ? self.comment : phrase
                written = angle
            } else {
                name = self.comment
                written = self.phrase
            }
            written = Self.addressText(written)
            guard !written.isEmpty || (self.angle != nil && name != nil) else { return }
            guard self.count < self.limit else { return }
            self.count += 1
            // A source route (`@relay.example:user@example.org`, RFC 5322 §4.4) is not part of the address.
            if written.hasPrefix("@"), let colon = written.lastIndex(of: ":") { written = String(written[written.index(after: colon)...]) }
            let at = Self.lastAtOutsideQuotes(written)
            let local = at.map { String(written[..<$0]) } ?? written
            let domain = at.map { String(written[written.index(after: $0)...]) }
            self.members.append(Address(displayName: name, localPart: local.replacingOccurrences(of: "\u{0}", with: "\""), domain: domain))
        }

        /// An address as written, without the white space around its parts (comments were replaced
        /// by a space), keeping that of quoted local parts; a text with no `@` keeps its spaces inside.
        static func addressText(_ text: String) -> String {
            let trimmed = Self.collapsed(text)
            guard trimmed.contains("@") else { return trimmed }
            var result = ""
            var quoted = false
            for character in trimmed {
                if character == "\"" { quoted.toggle() }
                if !quoted && (character == " " || character == "\t") { continue }
                result.append(character)
            }
            return result
        }

        /// A phrase without its quotes, white space collapsed (quoted pairs' quotes were kept apart).
        static func unquoted(_ text: String) -> String {
            Self.collapsed(String(text.filter { $0 != "\"" })).replacingOccurrences(of: "\u{0}", with: "\"")
        }

        static func collapsed(_ text: String) -> String {
            text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).joined(separator: " ")
        }

        static func lastAtOutsideQuotes(_ text: String) -> String.Index? {
            var quoted = false
            var found: String.Index?
            var index = text.startIndex
            while index < text.endIndex {
                let character = text[index]
                if character == "\"" { quoted.toggle() } else if character == "@" && !quoted { found = index }
                index = text.index(after: index)
            }
            return found
        }
    }
}
