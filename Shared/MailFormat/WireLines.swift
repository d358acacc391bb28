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

/// `WireLines` for content that comes in pieces (a large message read from the store a piece at a
/// time): the same bytes as `WireLines.normalised` of the whole, made piece by piece, with whether a
/// line has just started (or a CR just ended one) carried from one piece to the next.
///
/// With `bodyLineLimit` it sends what POP3 TOP sends (RFC 1939 §7): the header section, the empty line
/// after it, and at most that many body lines; `isFinished` then says the rest can be skipped.
public struct WireLineEncoder: Sendable {
    public let dotStuffing: Bool
    private let bodyLineLimit: Int?
    private var atLineStart = true
    private var previousWasCR = false
    private var inBody = false
    private var bodyLines = 0
    public private(set) var isFinished = false

    public init(dotStuffing: Bool, bodyLineLimit: Int? = nil) {
        self.dotStuffing = dotStuffing
        self.bodyLineLimit = bodyLineLimit.map { max(0, $0) }
    }

    /// Appends `piece`, normalised, to `output`.
    public mutating func append(_ piece: some Collection<UInt8>, to output: inout [UInt8]) {
        output.reserveCapacity(output.count + piece.count + piece.count / 64 + 8)
        let appended: Void? = piece.withContiguousStorageIfAvailable { self.append(bytes: $0, to: &output) }
        if appended == nil { Array(piece).withUnsafeBufferPointer { self.append(bytes: $0, to: &output) } }
    }

    /// Ends the content: a last line without its line end gets one.
    public mutating func finish(to output: inout [UInt8]) {
        if !self.atLineStart && !self.isFinished { output.append(contentsOf: [13, 10]) }
        self.atLineStart = true
    }

    private mutating func append(bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        var index = 0
        while index < bytes.count, !self.isFinished {
            let byte = bytes[index]
            index += 1
            if self.previousWasCR {
                self.previousWasCR = false
                if byte == 10 { continue }  // the LF of a CRLF already written
            }
            switch byte {
            case 13, 10:
                let emptyLine = self.atLineStart
                output.append(contentsOf: [13, 10])
                self.previousWasCR = byte == 13
                self.atLineStart = true
                self.lineEnded(empty: emptyLine)
            default:
                if self.dotStuffing && self.atLineStart && byte == UInt8(ascii: ".") { output.append(UInt8(ascii: ".")) }
                self.atLineStart = false
                // The rest of the line up to its end goes in one copy.
                var end = index
                while end < bytes.count, bytes[end] != 13, bytes[end] != 10 { end += 1 }
                output.append(byte)
                if end > index, let base = bytes.baseAddress {
                    output.append(contentsOf: UnsafeBufferPointer(start: base + index, count: end - index))
                }
                index = end
            }
        }
    }

    private mutating func lineEnded(empty: Bool) {
        guard let limit = self.bodyLineLimit else { return }
        if !self.inBody {
            if empty {
                self.inBody = true
                if limit == 0 { self.isFinished = true }
            }
            return
        }
        self.bodyLines += 1
        if self.bodyLines >= limit { self.isFinished = true }
    }
}
