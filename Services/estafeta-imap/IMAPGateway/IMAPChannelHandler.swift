import IMAPProtocol
import NIOCore
import NIOSSL
import ServerSupport

/// What the IMAP session asks its framing to do.
enum IMAPOutput: Sendable {
    /// Send, then hand over the next command.
    case send(ByteBuffer)
    /// Send part of a long answer now (FETCH of many large messages); the command goes on.
    case sendPart(ByteBuffer)
    case sendAndClose(ByteBuffer)
    /// Send in plaintext, then run every later byte through TLS; whatever the client pipelined after
    /// STARTTLS is dropped (CVE-2011-0411).
    case sendThenStartTLS(ByteBuffer)
    /// Send in plaintext, then compress both directions (COMPRESS=DEFLATE, RFC 4978 §3); what the client
    /// sent after the command is already compressed.
    case sendThenCompress(ByteBuffer)
    /// From now on, offer each command to this shortcut before the session. Sends nothing.
    case answerFetches(with: IMAPFetchShortcut)
    /// The client has logged in: frame its later commands with the full limits (large literals for
    /// APPEND, more pipelined input) instead of those for an unknown peer. Sends nothing.
    case loggedIn
    /// UNAUTHENTICATE (RFC 8437) succeeded: frame with the limits before login again.
    case loggedOut
}

/// Frames commands with `IMAPCommandFramer` and hands the session one at a time; answers a client's
/// synchronising literal with `+` itself (RFC 9051 §7.5), since the framer has already checked its
/// size. Commands pipelined meanwhile wait in a bounded buffer. While the session waits, FETCHes its
/// `IMAPFetchShortcut` can answer are answered here, in order.
final class IMAPChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = IMAPFrame
    typealias OutboundIn = IMAPOutput
    typealias OutboundOut = ByteBuffer

    private var framer: IMAPCommandFramer
    private let limitsAfterLogin: IMAPFramingLimits
    private let tlsContext: NIOSSLContext?
    private let maximumBufferedBytesAfterLogin: Int
    /// Before login, pipelined input is bounded by a few command lines, so that many unauthenticated
    /// connections cannot each make the server hold a megabyte.
    private var maximumBufferedBytes: Int
    private var buffer = ByteBuffer()
    private var reading = false
    private var closing = false
    private var shortcut: IMAPFetchShortcut?
    /// The command being received (its lines and literals) must keep coming at a minimum pace.
    private var pace: TransferPace?

    /// `limits` hold once the client has logged in; before that, `limits.beforeLogin`.
    private let tlsHandshakeTimeout: Duration

    init(
        limits: IMAPFramingLimits, tlsContext: NIOSSLContext?, maximumBufferedBytes: Int = 1 << 20, pace: TransferPace? = nil,
        tlsHandshakeTimeout: Duration = .seconds(10)
    ) {
        self.pace = pace
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
        self.framer = IMAPCommandFramer(limits: limits.beforeLogin)
        self.limitsAfterLogin = limits
        self.tlsContext = tlsContext
        self.maximumBufferedBytesAfterLogin = maximumBufferedBytes
        self.maximumBufferedBytes = min(maximumBufferedBytes, 2 * limits.maximumLineLength + 2 * IMAPFramingLimits.maximumLiteralSizeBeforeLogin)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closing else { return }
        var incoming = Self.unwrapInboundIn(data)
        if self.pace?.record(incoming.readableBytes) == true {
            self.close(context: context, with: IMAPResponseEncoder.bye("Command data arrives too slowly"), promise: nil)
            return
        }
        // What arrived is framed in place when nothing is left over, rather than copied into a buffer
        // of the handler's own, which would keep the capacity of the largest read for the connection's
        // lifetime (1,000 connections pushing data kept some 70 MB that way).
        if self.buffer.readableBytes == 0 {
            self.buffer = incoming
        } else {
            self.buffer.writeBuffer(&incoming)
        }
        self.deliver(context: context)
        if self.framer.isInsideCommand {
            Self.acknowledgeAtOnce(context)
        } else {
            // Only a command partly received is timed (not one waiting while the session answers a
            // long FETCH): the next one is timed from its first byte.
            self.pace?.finish()
        }
        if !self.reading, self.buffer.readableBytes > self.maximumBufferedBytes {
            self.close(context: context, with: IMAPResponseEncoder.bye("Too much pipelined input"), promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
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
            self.buffer.clear()
            self.framer.reset()
            guard CommandLineChannelHandler.startTLS(context: context, using: self.tlsContext, handshakeTimeout: self.tlsHandshakeTimeout) else {
                self.closing = true
                return
            }
            self.reading = true
        case .sendThenCompress(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(bytes), promise: promise)
            // The client compresses from the end of its command line on, so what it pipelined after it
            // is inflated before anything read later.
            let pipelined = self.buffer
            self.buffer = Self.emptyBuffer
            self.framer.reset()
            do {
                let deflate = try IMAPDeflateHandler(received: pipelined)
                try context.pipeline.syncOperations.addHandler(deflate, position: .before(self))
            } catch {
                self.close(context: context, with: IMAPResponseEncoder.bye("Compression unavailable"), promise: nil)
                return
            }
            self.reading = true
            if pipelined.readableBytes > 0 {
                let channel = context.channel
                context.eventLoop.execute { channel.read() }
            }
        case .answerFetches(let shortcut):
            self.shortcut = shortcut
            promise?.succeed()
        case .loggedIn:
            // The session is answering LOGIN now, so nothing after it has been framed yet.
            self.framer.limits = self.limitsAfterLogin
            self.maximumBufferedBytes = self.maximumBufferedBytesAfterLogin
            promise?.succeed()
        case .loggedOut:
            // UNAUTHENTICATE: the limits of a peer nobody knows again.
            self.framer.limits = self.limitsAfterLogin.beforeLogin
            self.maximumBufferedBytes = min(
                self.maximumBufferedBytesAfterLogin,
                2 * self.limitsAfterLogin.maximumLineLength + 2 * IMAPFramingLimits.maximumLiteralSizeBeforeLogin)
            promise?.succeed()
        }
    }

    /// Asks the kernel to acknowledge what arrived without the usual delay (Linux TCP_QUICKACK, which
    /// lasts only a while, so it is asked again). A client that sends a literal and then its CRLF in
    /// two writes (Python's imaplib does) holds the CRLF back until the literal is acknowledged
    /// (Nagle's algorithm); with a delayed acknowledgement each APPEND waited some 40 ms for it.
    private static func acknowledgeAtOnce(_ context: ChannelHandlerContext) {
        #if os(Linux)
        let quickAck = ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: 12))  // TCP_QUICKACK
        context.channel.setOption(quickAck, value: 1).whenFailure { _ in }
        #endif
    }

    private func close(context: ChannelHandlerContext, with bytes: ByteBuffer, promise: EventLoopPromise<Void>?) {
        self.closing = true
        self.reading = false
        CommandLineChannelHandler.send(bytes, thenClose: context, promise: promise)
    }

    /// Hands over at most one frame, then waits for the session's answer; commands the shortcut answers
    /// are answered here while the peer keeps reading what was sent (writability).
    private static let readyForLiteral = IMAPResponseEncoder(utf8: false).encode(.continuation("Ready for literal data"))

    private func deliver(context: ChannelHandlerContext) {
        var answered = false
        defer { if answered { context.flush() } }
        while self.reading, !self.closing, let frame = self.framer.next(from: &self.buffer) {
            if case .continuationRequest = frame {
                context.writeAndFlush(Self.wrapOutboundOut(Self.readyForLiteral), promise: nil)
                continue
            }
            if case .literalPiece = frame {
                // The session takes it while the command goes on arriving (the async channel stops
                // reading from the socket while a few such frames wait for it).
                context.fireChannelRead(Self.wrapInboundOut(frame))
                context.fireChannelReadComplete()
                continue
            }
            if case .command(let command) = frame, let shortcut = self.shortcut, context.channel.isWritable,
                let answer = shortcut.answer(command)
            {
                context.write(Self.wrapOutboundOut(answer), promise: nil)
                answered = true
                continue
            }
            self.reading = false
            if case .fatal = frame { self.closing = true }
            context.fireChannelRead(Self.wrapInboundOut(frame))
            context.fireChannelReadComplete()
        }
        if self.buffer.readableBytes == 0 {
            self.buffer = Self.emptyBuffer
        } else {
            self.buffer.discardReadBytes()
        }
    }

    /// Shared by every connection with nothing buffered (copy-on-write: a write gets its own storage).
    private static let emptyBuffer = ByteBuffer()
}
