/// Character classes and small productions of the IMAP grammar (RFC 9051 §9, RFC 3501 §9).
public enum IMAPGrammar {
    /// CHAR (1–127) except atom-specials: `(` `)` `{` SP CTL `%` `*` `"` `\` `]`.
    public static func isAtomChar(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F else { return false }
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "%"), UInt8(ascii: "*"),
            UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
            return false
        default:
            return true
        }
    }

    /// ASTRING-CHAR: ATOM-CHAR or `]`.
    public static func isAstringChar(_ byte: UInt8) -> Bool { Self.isAtomChar(byte) || byte == UInt8(ascii: "]") }

    /// tag: ASTRING-CHAR except `+`.
    public static func isTagChar(_ byte: UInt8) -> Bool { Self.isAstringChar(byte) && byte != UInt8(ascii: "+") }

    /// list-char: ATOM-CHAR, list-wildcards (`%` `*`) or `]`.
    public static func isListChar(_ byte: UInt8) -> Bool {
        Self.isAstringChar(byte) || byte == UInt8(ascii: "%") || byte == UInt8(ascii: "*")
    }

    /// A literal announcement at the end of a line: `{n}` (synchronising), `{n+}` (RFC 7888) or `~{n}` /
    /// `~{n+}` (literal8, RFC 3516). The size is at most 19 digits, so it never overflows; larger
    /// announcements read as `Int.max` and are refused by the size limit.
    public static func literalAnnouncement(endOf line: [UInt8]) -> (size: Int, synchronising: Bool, binary: Bool)? {
        guard line.last == UInt8(ascii: "}"), let open = line.lastIndex(of: UInt8(ascii: "{")) else { return nil }
        var digits = line[(open + 1)..<(line.endIndex - 1)]
        var synchronising = true
        if digits.last == UInt8(ascii: "+") {
            synchronising = false
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        var size = 0
        for digit in digits {
            let (times, overflow1) = size.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(digit - 0x30))
            if overflow1 || overflow2 {
                size = Int.max
                break
            }
            size = sum
        }
        let binary = open > line.startIndex && line[open - 1] == UInt8(ascii: "~")
        return (size, synchronising, binary)
    }
}
