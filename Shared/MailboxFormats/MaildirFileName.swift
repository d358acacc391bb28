/// A Maildir message file's name (cr.yp.to's Maildir, with Dovecot's additions): a unique base, then
/// `:2,` and flag letters sorted by their code. `D F R S T` are \Draft, \Flagged, \Answered, \Seen and
/// \Deleted; `a` to `z` are keywords, numbered in the folder's `dovecot-keywords`; others (`P`,
/// "passed") have no IMAP flag and are left alone. Dovecot puts the size in the base as `,S=<octets>`
/// and the size with CRLF line ends as `,W=<octets>`.
public struct MaildirFileName: Sendable, Equatable {
    public let base: String
    /// IMAP system flags (`\Seen`, ...).
    public let flags: Set<String>
    /// Keyword letters (`a` ... `z`), in the name's order.
    public let keywordLetters: [Character]
    /// `,S=` of the base: the file's size.
    public let size: Int?
    /// `,W=` of the base: the size with CRLF line ends, as IMAP reports it.
    public let virtualSize: Int?

    static let flagLetters: [Character: String] = [
        "D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted",
    ]
    /// Keyword letters: Dovecot numbers at most 26 keywords per folder.
    public static let keywordRange: ClosedRange<Character> = "a"..."z"

    public init(_ name: String) {
        self.base = Self.base(of: name)
        var flags: Set<String> = []
        var keywords: [Character] = []
        if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].hasPrefix("2,") {
            // The letters run to the end or to another `,` (a flag set nobody here knows).
            for letter in name[name.index(colon, offsetBy: 3)...].prefix(while: { $0 != "," }) {
                if let flag = Self.flagLetters[letter] {
                    flags.insert(flag)
                } else if Self.keywordRange.contains(letter) {
                    keywords.append(letter)
                }
            }
        }
        self.flags = flags
        self.keywordLetters = keywords
        self.size = Self.field("S", in: self.base)
        self.virtualSize = Self.field("W", in: self.base)
    }

    /// The name up to its `:` (the part Dovecot's uidlist names).
    public static func base(of name: String) -> String {
        name.firstIndex(of: ":").map { String(name[..<$0]) } ?? name
    }

    /// `base:2,<letters>` with the letters sorted, as Dovecot writes them.
    public static func name(base: String, flags: Set<String>, keywordLetters: [Character]) -> String {
        let letters = Self.flagLetters.filter { flags.contains($0.value) }.map(\.key) + keywordLetters
        return base + ":2," + String(Set(letters).sorted())
    }

    private static func field(_ key: Character, in base: String) -> Int? {
        for part in base.split(separator: ",").dropFirst() where part.first == key && part.dropFirst().first == "=" {
            let digits = part.dropFirst(2)
            guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(digits)
        }
        return nil
    }
}

/// A Maildir folder's `dovecot-keywords`: which keyword each letter `a`... stands for, a line
/// `<number> <keyword>` each (0 is `a`). Lines without a space or out of range are skipped, as Dovecot
/// skips them.
public struct DovecotKeywords: Sendable, Equatable {
    public private(set) var names: [Int: String]

    public static let maximumCount = 26

    public init(names: [Int: String] = [:]) {
        self.names = names.filter { (0..<Self.maximumCount).contains($0.key) && !$0.value.isEmpty }
    }

    public init(parsing data: some Collection<UInt8>) {
        var names: [Int: String] = [:]
        for line in String(decoding: Array(data), as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            guard let space = line.firstIndex(of: " "), let index = Int(line[..<space]),
                (0..<Self.maximumCount).contains(index)
            else { continue }
            let name = line[line.index(after: space)...]
            if !name.isEmpty { names[index] = String(name) }
        }
        self.names = names
    }

    /// The keyword a letter stands for; a letter with no name gets `unknown-<number>`, as Dovecot
    /// names it, so that the mark is not lost.
    public func keyword(for letter: Character) -> String? {
        guard MaildirFileName.keywordRange.contains(letter), let ascii = letter.asciiValue else { return nil }
        let index = Int(ascii - 0x61)
        return self.names[index] ?? "unknown-\(index)"
    }

    /// The letter for a keyword, adding it when there is room; nil when all 26 are taken.
    public mutating func letter(for keyword: String) -> Character? {
        if let index = self.names.first(where: { $0.value == keyword })?.key { return Self.letter(index) }
        guard let free = (0..<Self.maximumCount).first(where: { self.names[$0] == nil }) else { return nil }
        self.names[free] = keyword
        return Self.letter(free)
    }

    private static func letter(_ index: Int) -> Character {
        Character(Unicode.Scalar(UInt8(0x61 + index)))
    }

    public var text: String {
        self.names.keys.sorted().map { "\($0) \(self.names[$0] ?? "")\n" }.joined()
    }
}

/// Dovecot's `subscriptions` file: version 2 starts `V<TAB>2` and an empty line, then a mailbox a line
/// with its hierarchy levels separated by tabs (and tab, CR, LF and 0x01 escaped with 0x01); version 1
/// is a name a line with the folder separator as it is.
public enum DovecotSubscriptions {
    /// Each subscribed mailbox as its hierarchy levels. `separator` splits version 1 names.
    public static func parse(_ data: some Collection<UInt8>, separator: Character = ".") -> [[String]] {
        let text = String(decoding: Array(data), as: UTF8.self)
        let header = "V\t2\n\n"
        if text.hasPrefix(header) {
            return text.dropFirst(header.count).split(separator: "\n").map { line in
                line.split(separator: "\t", omittingEmptySubsequences: false).map { Self.unescaped($0) }
            }
        }
        return text.split(separator: "\n").map { $0.split(separator: separator, omittingEmptySubsequences: false).map(String.init) }
    }

    public static func text(_ mailboxes: [[String]]) -> String {
        "V\t2\n\n" + mailboxes.map { $0.map(Self.escaped).joined(separator: "\t") + "\n" }.joined()
    }

    static func unescaped(_ part: Substring) -> String {
        var out = ""
        var escape = false
        for character in part {
            if escape {
                switch character {
                case "1": out.append("\u{1}")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "n": out.append("\n")
                default: out.append(character)
                }
                escape = false
            } else if character == "\u{1}" {
                escape = true
            } else {
                out.append(character)
            }
        }
        return out
    }

    static func escaped(_ part: String) -> String {
        var out = ""
        for character in part {
            switch character {
            case "\u{1}": out += "\u{1}1"
            case "\t": out += "\u{1}t"
            case "\r": out += "\u{1}r"
            case "\n": out += "\u{1}n"
            default: out.append(character)
            }
        }
        return out
    }
}
