import NIOCore

/// A line of a line-based protocol, without its line end, or the marker that a line was too long.
public enum InboundLine: Sendable, Equatable {
    case line(ByteBuffer)
    /// The line exceeded the limit; its bytes were discarded up to the next LF. The session answers
    /// with its protocol's error and carries on: limits give errors, not crashes.
    case tooLong
}

/// Splits a byte stream into lines ending in LF (CRLF is stripped to the bare content; a lone CR stays
/// part of the line for the protocol to judge). Never buffers more than `maximumLineLength` bytes.
public struct LineFramingDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = InboundLine
    /// May change between lines (SMTP allows longer AUTH responses than commands).
    public var maximumLineLength: Int
    private var discardingOverlongLine = false

    public init(maximumLineLength: Int) { self.maximumLineLength = max(1, maximumLineLength) }

    /// An over-long line is being dropped up to its LF: a line is under way though nothing is buffered.
    public var isDiscardingLine: Bool { self.discardingOverlongLine }

    public mutating func decode(buffer: inout ByteBuffer) throws -> InboundLine? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > self.maximumLineLength {
                buffer.moveReaderIndex(forwardBy: view.count)
                self.discardingOverlongLine = true
            }
            return nil
        }
        let length = newline - view.startIndex + 1
        guard var line = buffer.readSlice(length: length) else { return nil }
        if self.discardingOverlongLine || length > self.maximumLineLength + 2 {
            self.discardingOverlongLine = false
            return .tooLong
        }
        line.moveWriterIndex(to: line.writerIndex - 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
        return .line(line)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> InboundLine? {
        try self.decode(buffer: &buffer)
    }
}
