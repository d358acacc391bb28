import NIOCore
import NIOSSL

/// What a line-based session (POP3) asks its framing to do.
public enum CommandLineOutput: Sendable {
    /// Send, then read the next line.
    case send(ByteBuffer)
    /// Send part of a long answer (a large message, a piece at a time); the line after it is read only
    /// once the answer's last part goes out with `send`.
    case sendPart(ByteBuffer)
    /// Send and close the connection.
    case sendAndClose(ByteBuffer)
    /// Send in plaintext, then run every later byte through TLS (POP3 STLS, RFC 2595).
    case sendThenStartTLS(ByteBuffer)
    /// From now on, offer each line to this shortcut before the session (nil: stop). Sends nothing.
    case answerLines(with: (any CommandLineShortcut)?)
}

/// Answers some lines right in the event loop, while the session waits for its next line, so a
/// command the session could answer from memory costs no trip through the session's task (POP3 RETR
/// from the read-ahead window: a client fetching a maildrop sends thousands of them). A shortcut
/// answers only what the session would have answered the same way; nil hands the line to the session.
public protocol CommandLineShortcut: AnyObject, Sendable {
    func answer(_ line: ByteBuffer) -> ByteBuffer?
}

/// Frames a command/response conversation one line at a time: it hands the session one line and
/// reads the next only after the session answered. Lines that arrive meanwhile (RFC 2449 PIPELINING)
/// wait in a bounded buffer, and that buffer is dropped when TLS starts, so nothing sent in plaintext
/// after STLS is ever run as a command inside TLS (CVE-2011-0411). Over-long lines become
/// `.tooLong` (the session answers and goes on).
public final class CommandLineChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = InboundLine
    public typealias OutboundIn = CommandLineOutput
    public typealias OutboundOut = ByteBuffer

    private let maximumLineLength: Int
    private let maximumBufferedBytes: Int
    private let tlsContext: NIOSSLContext?
    /// Sent before closing a client that pipelines more than `maximumBufferedBytes`.
    private let overflowReply: String
    private var buffer = ByteBuffer()
    private var decoder: LineFramingDecoder
    /// The session has answered the last line and waits for the next.
    private var reading = false
    private var closing = false
    private var shortcut: (any CommandLineShortcut)?
    /// A line must keep coming once begun (a trickle is never idle); `slowReply` is sent before closing
    /// a client behind the pace.
    private var pace: TransferPace?
    private let slowReply: String

    private let tlsHandshakeTimeout: Duration

    public init(
        maximumLineLength: Int, tlsContext: NIOSSLContext?, overflowReply: String, maximumBufferedBytes: Int = 256 * 1024,
        tlsHandshakeTimeout: Duration = .seconds(10), pace: TransferPace? = nil, slowReply: String = ""
    ) {
        self.pace = pace
        self.slowReply = slowReply
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
        self.maximumLineLength = maximumLineLength
        self.maximumBufferedBytes = maximumBufferedBytes
        self.tlsContext = tlsContext
        self.overflowReply = overflowReply
        self.decoder = LineFramingDecoder(maximumLineLength: maximumLineLength)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closing else { return }
        var incoming = Self.unwrapInboundIn(data)
        if self.pace?.record(incoming.readableBytes) == true {
            self.close(context: context, with: ByteBuffer(string: self.slowReply), promise: nil)
            return
        }
        self.buffer.writeBuffer(&incoming)
        self.deliver(context: context)
        // Only a line partly received is timed; otherwise (nothing under way, or the session answering)
        // the next line is timed from its first octet.
        let lineUnderWay = self.reading && (self.buffer.readableBytes > 0 || self.decoder.isDiscardingLine)
        if !lineUnderWay { self.pace?.finish() }
        if !self.reading, self.buffer.readableBytes > self.maximumBufferedBytes {
            self.close(context: context, with: ByteBuffer(string: self.overflowReply), promise: nil)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch Self.unwrapOutboundIn(data) {
        case .send(let bytes):
            context.write(Self.wrapOutboundOut(bytes), promise: promise)
            self.reading = true
            self.deliver(context: context)
        case .sendPart(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(bytes), promise: promise)
        case .sendAndClose(let bytes):
            self.close(context: context, with: bytes, promise: promise)
        case .sendThenStartTLS(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(bytes), promise: promise)
            // Whatever came after the command was sent in plaintext: drop it, then put TLS in front
            // of everything in this same event-loop turn.
            self.buffer.clear()
            self.decoder = LineFramingDecoder(maximumLineLength: self.maximumLineLength)
            guard Self.startTLS(context: context, using: self.tlsContext, handshakeTimeout: self.tlsHandshakeTimeout) else {
                self.closing = true
                return
            }
            self.reading = true
        case .answerLines(let shortcut):
            self.shortcut = shortcut
            promise?.succeed()
        }
    }

    /// Puts a TLS server handler in front of the pipeline (STARTTLS, STLS), with a deadline for the
    /// client's handshake, or closes the connection when there is no TLS context or the handlers cannot be
    /// added; true when TLS is in place.
    public static func startTLS(
        context: ChannelHandlerContext, using tlsContext: NIOSSLContext?, handshakeTimeout: Duration = .seconds(10)
    ) -> Bool {
        guard let tlsContext else {
            context.close(promise: nil)
            return false
        }
        let tls = NIOSSLServerHandler(context: tlsContext)
        do {
            let pipeline = context.pipeline.syncOperations
            try pipeline.addHandler(tls, position: .first)
            try pipeline.addHandler(TLSHandshakeTimeout(TimeAmount(handshakeTimeout)), position: .after(tls))
        } catch {
            context.close(promise: nil)
            return false
        }
        return true
    }

    private func close(context: ChannelHandlerContext, with bytes: ByteBuffer, promise: EventLoopPromise<Void>?) {
        self.closing = true
        self.reading = false
        Self.send(bytes, thenClose: context, promise: promise)
    }

    /// Writes a last reply, then closes the connection (a goodbye, a refusal); the promise completes
    /// with the write. Shared by the line framings of POP3 and IMAP.
    public static func send(_ bytes: ByteBuffer, thenClose context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(bytes)).whenComplete { result in
            promise?.completeWith(result)
            channel.close(promise: nil)
        }
    }

    /// Hands over at most one line, then waits for the session's answer; lines the shortcut answers
    /// are answered here in order, while the peer keeps reading what was sent (writability).
    private func deliver(context: ChannelHandlerContext) {
        var answered = false
        defer { if answered { context.flush() } }
        while self.reading, !self.closing {
            let frame = try? self.decoder.decode(buffer: &self.buffer)
            guard let frame else { break }
            if case .line(let line) = frame, let shortcut = self.shortcut, context.channel.isWritable,
                let answer = shortcut.answer(line)
            {
                context.write(Self.wrapOutboundOut(answer), promise: nil)
                answered = true
                continue
            }
            self.buffer.discardReadBytes()
            self.reading = false
            context.fireChannelRead(Self.wrapInboundOut(frame))
            context.fireChannelReadComplete()
            return
        }
        self.buffer.discardReadBytes()
    }
}
