import NIOCore

/// Reads the content of a DATA transaction (RFC 5321 §4.1.1.4) from the bytes after the `354` reply,
/// incrementally, however the bytes are split across reads.
///
/// - Only `CRLF . CRLF` ends the data. A bare LF or a bare CR never ends a line, so `\n.\n`,
///   `\r.\r`, `\r\n.\n` and the other smuggling shapes (CVE-2023-51764/65/66) are content, and are
///   recorded in `sawBareLineEnding` so the session can reject the message after the real end
///  , as mox does.
/// - Dot-unstuffing (RFC 5321 §4.5.2): a line starting with `.` loses that first `.`.
/// - Content beyond `maximumSize` is read and discarded (`exceededMaximumSize`), so the session can
///   answer `552 5.3.4` after the end and stay in sync (RFC 1870 §6).
/// - Bytes after the terminating `.CRLF` are left in the caller's buffer: they are the next
///   pipelined command.
public struct SMTPDataReader: Sendable {
    private enum State: Sendable {
        case lineStart
        case dotAtLineStart
        case dotCarriageReturn
        case inLine
        case carriageReturnInLine
        case finished
    }

    public let maximumSize: Int
    private var state = State.lineStart
    /// The unstuffed content with CRLF line ends, up to `maximumSize` octets.
    public private(set) var content = ByteBuffer()
    /// Octets of content seen, including those beyond `maximumSize`.
    public private(set) var contentSize = 0
    public private(set) var exceededMaximumSize = false
    public private(set) var sawBareLineEnding = false

    public init(maximumSize: Int) {
        self.maximumSize = max(0, maximumSize)
    }

    /// Hands over the content read so far and goes on reading: a large message is passed on in pieces
    /// as it arrives instead of being held here whole.
    public mutating func takeContent() -> ByteBuffer {
        let content = self.content
        self.content = ByteBuffer()
        return content
    }

    public var isFinished: Bool {
        if case .finished = self.state { return true }
        return false
    }

    /// Consumes bytes from `buffer` up to and including the terminating `CRLF.CRLF`; returns true once
    /// the data has ended (further calls consume nothing).
    public mutating func consume(_ buffer: inout ByteBuffer) -> Bool {
        while !self.isFinished, buffer.readableBytes > 0 {
            if case .inLine = self.state {
                // Fast path: copy the run up to the next CR or LF in one write; only the line-end
                // bytes go through the byte-wise state machine.
                let run = buffer.withUnsafeReadableBytes { bytes -> Int in
                    var index = 0
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\r"), bytes[index] != UInt8(ascii: "\n") {
                        index += 1
                    }
                    return index
                }
                if run > 0, let slice = buffer.readSlice(length: run) {
                    self.emit(slice)
                    continue
                }
            }
            guard let byte = buffer.readInteger(as: UInt8.self) else { break }
            self.step(byte)
        }
        return self.isFinished
    }

    private mutating func step(_ byte: UInt8) {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        let dot = UInt8(ascii: ".")
        switch self.state {
        case .lineStart:
            if byte == dot {
                self.state = .dotAtLineStart
            } else {
                self.inLine(byte)
            }
        case .dotAtLineStart:
            if byte == cr {
                self.state = .dotCarriageReturn
            } else {
                // ".." → "." and ".x" → "x": the first dot of the line is dropped.
                self.inLine(byte)
            }
        case .dotCarriageReturn:
            if byte == lf {
                self.state = .finished
            } else {
                // ".\r" followed by anything but LF: a bare CR. Keep what was sent, minus the stuffing dot.
                self.sawBareLineEnding = true
                self.emit(cr)
                self.inLine(byte)
            }
        case .inLine:
            self.inLine(byte)
        case .carriageReturnInLine:
            if byte == lf {
                self.emit(cr)
                self.emit(lf)
                self.state = .lineStart
            } else {
                self.sawBareLineEnding = true
                self.emit(cr)
                self.inLine(byte)
            }
        case .finished:
            break
        }
    }

    private mutating func inLine(_ byte: UInt8) {
        if byte == UInt8(ascii: "\r") {
            self.state = .carriageReturnInLine
            return
        }
        if byte == UInt8(ascii: "\n") {
            // A bare LF is content, never a line end: the next "." is not at a line start.
            self.sawBareLineEnding = true
        }
        self.emit(byte)
        self.state = .inLine
    }

    private mutating func emit(_ run: ByteBuffer) {
        let (sum, overflow) = self.contentSize.addingReportingOverflow(run.readableBytes)
        let room = max(0, self.maximumSize - self.contentSize)
        self.contentSize = overflow ? Int.max : sum
        if run.readableBytes > room { self.exceededMaximumSize = true }
        if room > 0, let kept = run.getSlice(at: run.readerIndex, length: min(room, run.readableBytes)) {
            self.content.writeImmutableBuffer(kept)
        }
    }

    private mutating func emit(_ byte: UInt8) {
        // Saturating: a size counter must not trap however long a client talks.
        self.contentSize = self.contentSize == Int.max ? Int.max : self.contentSize + 1
        if self.contentSize > self.maximumSize {
            self.exceededMaximumSize = true
            return
        }
        self.content.writeInteger(byte)
    }
}
