import Foundation

/// Message content as line-based protocols send it: every line ends in CRLF (a bare CR or LF becomes
/// CRLF, so no stray line end ever leaves us, CVE-2023-51764), and, where the protocol ends content
/// with a lone dot (SMTP DATA, RFC 5321 §4.5.2; POP3 multi-line responses, RFC 1939 §3), a line that
/// starts with a dot gets another.
public enum WireLines {
    public static func normalised(_ content: some Collection<UInt8>, dotStuffing: Bool) -> [UInt8] {
        var output: [UInt8] = []
        Self.append(content, dotStuffing: dotStuffing, to: &output)
        return output
    }

    /// Appends `content`, normalised, to `output`: a response built of a status line and content is
    /// then one buffer, made without copying the content more than once.
    public static func append(_ content: some Collection<UInt8>, dotStuffing: Bool, to output: inout [UInt8]) {
        // Work on contiguous bytes: iterating `Data` byte by byte through the generic collection
        // interface showed up as the hottest code of POP3 RETR.
        let appended: Void? = content.withContiguousStorageIfAvailable {
            Self.append(bytes: $0, dotStuffing: dotStuffing, to: &output)
        }
        if appended == nil {
            Array(content).withUnsafeBufferPointer { Self.append(bytes: $0, dotStuffing: dotStuffing, to: &output) }
        }
    }

    private static func append(bytes: UnsafeBufferPointer<UInt8>, dotStuffing: Bool, to output: inout [UInt8]) {
        // Room for the content, some stuffing or line-end repairs, and a terminating `.CRLF`.
        output.reserveCapacity(output.count + bytes.count + bytes.count / 64 + 8)
        if Self.alreadyNormalised(bytes, dotStuffing: dotStuffing) {
            output.append(contentsOf: bytes)
            return
        }
        var atLineStart = true
        var previousWasCR = false
        for byte in bytes {
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
    }

    /// Whether `bytes` are sent exactly as they are (see `alreadyNormalised`), so a sender can copy
    /// them straight into its output.
    public static func isNormalised(_ bytes: UnsafeRawBufferPointer, dotStuffing: Bool) -> Bool {
        Self.alreadyNormalised(bytes.assumingMemoryBound(to: UInt8.self), dotStuffing: dotStuffing)
    }

    /// The common case (what SMTP ingress stores): every CR is followed by LF, every LF preceded by
    /// CR, the content ends with CRLF (or is empty), and no line starts with a dot needing stuffing.
    /// Checked line by line with memchr, which looks at many bytes per step: this check runs over
    /// every message POP3 sends, and a byte-at-a-time loop was the hottest code of RETR.
    private static func alreadyNormalised(_ bytes: UnsafeBufferPointer<UInt8>, dotStuffing: Bool) -> Bool {
        let count = bytes.count
        guard count > 0 else { return true }
        guard count >= 2, bytes[count - 2] == 13, bytes[count - 1] == 10, let base = bytes.baseAddress else { return false }
        var lineStart = 0
        while lineStart < count {
            if dotStuffing, base[lineStart] == UInt8(ascii: ".") { return false }
            guard let found = memchr(base + lineStart, 10, count - lineStart) else { return false }
            let lineFeed = found.assumingMemoryBound(to: UInt8.self) - UnsafeMutablePointer(mutating: base)
            // The line is bytes[lineStart..<lineFeed]: it must end in its only CR.
            guard lineFeed > lineStart, base[lineFeed - 1] == 13 else { return false }
            if lineFeed - 1 > lineStart, memchr(base + lineStart, 13, lineFeed - 1 - lineStart) != nil { return false }
            lineStart = lineFeed + 1
        }
        return true
    }

    /// Normalised, dot-stuffed, and ended by `.CRLF`.
    public static func dotTerminated(_ content: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        Self.appendDotTerminated(content, to: &output)
        return output
    }

    /// Appends `content` normalised, dot-stuffed, and ended by `.CRLF`.
    public static func appendDotTerminated(_ content: some Collection<UInt8>, to output: inout [UInt8]) {
        Self.append(content, dotStuffing: true, to: &output)
        output.append(contentsOf: [UInt8(ascii: "."), 13, 10])
    }
}
