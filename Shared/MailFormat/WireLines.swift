/// Message content as line-based protocols send it: every line ends in CRLF (a bare CR or LF becomes
/// CRLF, so no stray line end ever leaves us, CVE-2023-51764), and, where the protocol ends content
/// with a lone dot (SMTP DATA, RFC 5321 §4.5.2; POP3 multi-line responses, RFC 1939 §3), a line that
/// starts with a dot gets another.
public enum WireLines {
    public static func normalised(_ content: some Collection<UInt8>, dotStuffing: Bool) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(content.count + content.count / 64 + 8)
        var atLineStart = true
        var previousWasCR = false
        for byte in content {
            if previousWasCR {
                previousWasCR = false
                if byte == UInt8(ascii: "\n") { continue }  // the LF of a CRLF already written
            }
            switch byte {
            case UInt8(ascii: "\r"):
                output.append(contentsOf: [13, 10])
                previousWasCR = true
                atLineStart = true
            case UInt8(ascii: "\n"):
                output.append(contentsOf: [13, 10])
                atLineStart = true
            default:
                if dotStuffing && atLineStart && byte == UInt8(ascii: ".") { output.append(UInt8(ascii: ".")) }
                output.append(byte)
                atLineStart = false
            }
        }
        if !atLineStart { output.append(contentsOf: [13, 10]) }
        return output
    }

    /// Normalised, dot-stuffed, and ended by `.CRLF`.
    public static func dotTerminated(_ content: some Collection<UInt8>) -> [UInt8] {
        var output = Self.normalised(content, dotStuffing: true)
        output.append(contentsOf: [UInt8(ascii: "."), 13, 10])
        return output
    }
}
