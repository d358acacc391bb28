import NIOCore
import NIOSSL
import SMTPProtocol
import ServerSupport

/// What the framing hands to the session.
public enum SMTPInbound: Sendable {
    /// One command line without CRLF; `pipelinedInputFollows` when more bytes were already waiting.
    case line([UInt8], pipelinedInputFollows: Bool)
    /// A line over the limit was discarded through its LF; `authentication` when it was an
    /// `AUTH` command (with an initial response) or a SASL response, which get `500 5.5.6`.
    case lineTooLong(authentication: Bool)
    /// Part of the DATA content or of a BDAT chunk, handed over while the rest arrives, so that a large
    /// message is never held here whole; the `.data` or `.bdat` frame that ends it carries the rest.
    case contentPiece(ByteBuffer)
    /// The DATA content up to the final `CRLF.CRLF` (what `.contentPiece` frames did not carry).
    case data(SMTPDataReader)
    /// A `BDAT size [LAST]` command with its chunk (RFC 3030), read in full whatever the session will
    /// answer; `chunk` is what `.contentPiece` frames before it did not carry, and all of them together
    /// hold at most `maximumChunkBytes` of the chunk; `chunkSize` says how much came.
    case bdat(line: [UInt8], chunk: ByteBuffer, chunkSize: Int, last: Bool)
}

/// What the session asks the framing to do.
public enum SMTPOutbound: Sendable {
    /// The opening `220`, unless the client has already talked: then `554` and close (a client
    /// must wait for the greeting, RFC 5321 §3.1, and spam engines that do not are caught this way).
    case greeting(SMTPReply)
    /// Send the reply, then read the next input in `next` mode.
    case reply(SMTPReply, next: SMTPInputMode)
    /// Send the reply and close the connection.
    case replyAndClose(SMTPReply)
    /// Send the `220` for STARTTLS in plaintext, then run every later byte through TLS (RFC 3207).
    case replyThenStartTLS(SMTPReply)
}

public enum SMTPInputMode: Sendable, Equatable {
    case command
    case data(maximumSize: Int)
    /// A SASL response line after a `334` challenge: up to 12,288 octets (RFC 4954 §4).
    case authResponse
}

/// Frames the byte stream for the session: one command line at a time, or the DATA content.
///
/// It hands over one frame and then waits until the session has answered, because what the next
/// bytes mean (a command, or message content after `354`) depends on that answer. Bytes that arrive
/// meanwhile (RFC 2920 pipelining) wait in a bounded buffer. The mode switch happens on the event loop
/// in the same turn as the reply is written, so no byte is ever read in the wrong mode.
final class SMTPServerChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = SMTPInbound
    typealias OutboundIn = SMTPOutbound
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case awaitingSession
        /// `authResponse`: the next line answers a `334` and may be 12,288 octets long.
        case command(authResponse: Bool)
        case data(SMTPDataReader)
        /// `kept` has not been handed over yet; `forwarded` octets of the chunk have.
        case chunk(line: [UInt8], remaining: Int, kept: ByteBuffer, forwarded: Int, size: Int, last: Bool)
    }

    /// Content is handed to the session in pieces of about this size. With the async channel's
    /// backpressure (a few frames at most wait for the session, then reading stops), a session's
    /// content in flight stays bounded whatever the message's size.
    static let contentPieceBytes = 64 * 1024

    /// RFC 4954 §4: a server must accept AUTH response lines of 12,288 octets.
    static let maximumAuthResponseLength = 12_288
    /// An `AUTH <mechanism> <initial response>` command line carries such a response too.
    static let maximumAuthCommandLength = maximumAuthResponseLength + 64

    private let maximumLineLength: Int
    /// Present where STARTTLS is offered.
    private let tlsContext: NIOSSLContext?
    /// Pipelined input held while the session works; a client that sends more is cut off.
    private let maximumBufferedBytes: Int
    private var mode = Mode.awaitingSession
    private var buffer = ByteBuffer()
    private var lineDecoder: LineFramingDecoder
    private var closing = false
    /// Whether the command line being read starts with `AUTH ` (known once its first bytes are in).
    private var lineIsAuthCommand: Bool?

    /// The most of one BDAT chunk kept in memory; more is read and dropped (the session answers 552).
    private let maximumChunkBytes: Int

    /// Message content must keep coming: after `grace`, at least `minimumRate` octets per second on
    /// average since the content began (slowloris). The idle timeout bounds silences between reads.
    struct DataRate {
        var grace: TimeAmount
        var minimumRate: Int
    }
    private let dataRate: DataRate?
    /// A command line must keep coming too once begun (a trickle is never idle): the same rule as for
    /// content, timed from the line's first octet to its end.
    private var linePace: TransferPace?
    private let tlsHandshakeTimeout: Duration
    /// When the current DATA content or BDAT chunk sequence began, and how much of it has arrived.
    private var contentStarted: NIODeadline?
    private var contentBytes = 0

    init(
        maximumLineLength: Int, tlsContext: NIOSSLContext?, maximumChunkBytes: Int, dataRate: DataRate? = nil,
        linePace: TransferPace? = nil, maximumBufferedBytes: Int = 256 * 1024, tlsHandshakeTimeout: Duration = .seconds(10)
    ) {
        self.linePace = linePace
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
        self.dataRate = dataRate
        self.maximumChunkBytes = maximumChunkBytes
        self.lineDecoder = LineFramingDecoder(maximumLineLength: maximumLineLength)
        self.maximumLineLength = maximumLineLength
        self.tlsContext = tlsContext
        self.maximumBufferedBytes = maximumBufferedBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closing else { return }
        var incoming = Self.unwrapInboundIn(data)
        if self.readsContent {
            self.contentBytes += incoming.readableBytes
            if self.contentTooSlow() {
                self.closing = true
                let reply = SMTPReply(421, "4.4.2", "Message content arrives too slowly, closing connection")
                context.writeAndFlush(Self.wrapOutboundOut(reply.encoded)).whenComplete { [channel = context.channel] _ in
                    channel.close(promise: nil)
                }
                return
            }
        } else if self.linePace?.record(incoming.readableBytes) == true {
            self.closing = true
            let reply = SMTPReply(421, "4.4.2", "Command line arrives too slowly, closing connection")
            context.writeAndFlush(Self.wrapOutboundOut(reply.encoded)).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
            return
        }
        self.buffer.writeBuffer(&incoming)
        self.deliver(context: context)
        // Only a line partly received is timed; otherwise (nothing under way, or the session answering)
        // the next line is timed from its first octet.
        var lineUnderWay = false
        if case .command = self.mode { lineUnderWay = self.buffer.readableBytes > 0 || self.lineDecoder.isDiscardingLine }
        if !lineUnderWay { self.linePace?.finish() }
        if case .awaitingSession = self.mode, self.buffer.readableBytes > self.maximumBufferedBytes {
            self.closing = true
            let reply = SMTPReply(421, "4.7.0", "Too much pipelined input, closing connection")
            context.writeAndFlush(Self.wrapOutboundOut(reply.encoded)).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
        }
    }

    /// DATA content or a BDAT chunk is being read.
    private var readsContent: Bool {
        switch self.mode {
        case .data, .chunk: true
        default: false
        }
    }

    private func contentTooSlow() -> Bool {
        guard let dataRate = self.dataRate, let started = self.contentStarted else { return false }
        let elapsed = NIODeadline.now() - started
        let allowed = dataRate.grace + .nanoseconds(Int64(self.contentBytes) * 1_000_000_000 / Int64(max(1, dataRate.minimumRate)))
        return elapsed > allowed
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch Self.unwrapOutboundIn(data) {
        case .greeting(let reply):
            guard self.buffer.readableBytes == 0 else {
                self.closing = true
                let refusal = SMTPReply(554, "5.5.1", "Protocol error: client talked before the greeting")
                let channel = context.channel
                context.writeAndFlush(Self.wrapOutboundOut(refusal.encoded)).whenComplete { result in
                    promise?.completeWith(result)
                    channel.close(promise: nil)
                }
                return
            }
            context.write(Self.wrapOutboundOut(reply.encoded), promise: promise)
            self.mode = .command(authResponse: false)
            self.deliver(context: context)
        case .reply(let reply, let next):
            context.write(Self.wrapOutboundOut(reply.encoded), promise: promise)
            switch next {
            case .command: self.mode = .command(authResponse: false)
            case .authResponse: self.mode = .command(authResponse: true)
            case .data(let maximumSize):
                self.mode = .data(SMTPDataReader(maximumSize: maximumSize))
                self.contentStarted = .now()
                self.contentBytes = self.buffer.readableBytes
            }
            self.deliver(context: context)
        case .replyThenStartTLS(let reply):
            context.writeAndFlush(Self.wrapOutboundOut(reply.encoded), promise: promise)
            // CVE-2011-0411: whatever the client pipelined after STARTTLS was sent in plaintext and
            // must never run as a command inside TLS. Drop it, then put TLS in front of everything in
            // this same event-loop turn: the 220 above leaves in plaintext, every later byte is TLS.
            self.buffer.clear()
            self.lineDecoder = LineFramingDecoder(maximumLineLength: self.maximumLineLength)
            self.lineIsAuthCommand = nil
            guard CommandLineChannelHandler.startTLS(context: context, using: self.tlsContext, handshakeTimeout: self.tlsHandshakeTimeout) else {
                self.closing = true
                return
            }
            self.mode = .command(authResponse: false)
        case .replyAndClose(let reply):
            self.closing = true
            self.mode = .awaitingSession
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(reply.encoded)).whenComplete { result in
                promise?.completeWith(result)
                channel.close(promise: nil)
            }
        }
    }

    /// Hands over at most one frame, then waits for the session's answer.
    private func deliver(context: ChannelHandlerContext) {
        switch self.mode {
        case .awaitingSession:
            return
        case .command(let authResponse):
            guard let frame = self.nextLine(authResponse: authResponse) else { return }
            // RFC 3030 §3: the chunk follows its BDAT line at once and must be read even if the
            // command will be refused, or its bytes would be taken for commands.
            if case .line(let bytes, _) = frame, Self.startsWithBDAT(bytes),
                case .bdat(let size, let last)? = try? SMTPCommandParser().parse(bytes)
            {
                self.mode = .chunk(line: bytes, remaining: size, kept: ByteBuffer(), forwarded: 0, size: size, last: last)
                // Each chunk is measured on its own; between chunks the idle timeout applies.
                self.contentStarted = .now()
                self.contentBytes = self.buffer.readableBytes
                self.deliver(context: context)
                return
            }
            self.mode = .awaitingSession
            context.fireChannelRead(Self.wrapInboundOut(frame))
            context.fireChannelReadComplete()
        case .chunk(let line, var remaining, var kept, var forwarded, let size, let last):
            self.mode = .awaitingSession  // sole owner of `kept` while it grows
            let take = min(remaining, self.buffer.readableBytes)
            if take > 0, var slice = self.buffer.readSlice(length: take) {
                let room = max(0, self.maximumChunkBytes - forwarded - kept.readableBytes)
                if room > 0, let part = slice.readSlice(length: min(room, slice.readableBytes)) {
                    kept.writeImmutableBuffer(part)
                }
                remaining -= take
                self.buffer.discardReadBytes()
            }
            if remaining > 0 {
                if kept.readableBytes >= Self.contentPieceBytes {
                    forwarded += kept.readableBytes
                    context.fireChannelRead(Self.wrapInboundOut(.contentPiece(kept)))
                    context.fireChannelReadComplete()
                    kept = ByteBuffer()
                }
                self.mode = .chunk(line: line, remaining: remaining, kept: kept, forwarded: forwarded, size: size, last: last)
                return
            }
            self.contentStarted = nil
            context.fireChannelRead(
                Self.wrapInboundOut(.bdat(line: line, chunk: kept, chunkSize: size, last: last)))
            context.fireChannelReadComplete()
        case .data(var reader):
            // Take the reader out of `mode` before mutating it, so its content buffer has one owner and
            // appending never copies what was already received (no O(n²) on large messages).
            self.mode = .awaitingSession
            let finished = reader.consume(&self.buffer)
            self.buffer.discardReadBytes()
            if finished {
                self.mode = .awaitingSession
                self.contentStarted = nil
                context.fireChannelRead(Self.wrapInboundOut(.data(reader)))
                context.fireChannelReadComplete()
            } else {
                if reader.content.readableBytes >= Self.contentPieceBytes {
                    context.fireChannelRead(Self.wrapInboundOut(.contentPiece(reader.takeContent())))
                    context.fireChannelReadComplete()
                }
                self.mode = .data(reader)
            }
        }
    }

    /// A cheap look at the verb, so that only BDAT lines are parsed here (the session parses the rest).
    private static func startsWithBDAT(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 5 && bytes[4] == UInt8(ascii: " ")
            && zip(bytes.prefix(4), "BDAT".utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
    }

    private func nextLine(authResponse isAuthResponse: Bool) -> SMTPInbound? {
        // AUTH lines may be longer than other commands (RFC 4954 §4), so the framing allows the AUTH
        // length and holds other commands to the command limit itself.
        if self.lineIsAuthCommand == nil, self.buffer.readableBytes >= 5 || self.buffer.readableBytesView.contains(10) {
            let start = self.buffer.readableBytesView.prefix(5)
            self.lineIsAuthCommand = start.count == 5 && zip(start, "AUTH ".utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
        }
        // The shared line framing: bounded buffering, over-long lines skipped to their LF.
        self.lineDecoder.maximumLineLength = max(self.maximumLineLength, Self.maximumAuthCommandLength)
        let frame = try? self.lineDecoder.decode(buffer: &self.buffer)
        self.buffer.discardReadBytes()
        guard let frame else { return nil }
        let isAuth = isAuthResponse || self.lineIsAuthCommand == true
        self.lineIsAuthCommand = nil
        switch frame {
        case .tooLong: return .lineTooLong(authentication: isAuth)
        case .line(let line):
            let limit = isAuthResponse
                ? max(self.maximumLineLength, Self.maximumAuthResponseLength)
                : isAuth ? max(self.maximumLineLength, Self.maximumAuthCommandLength) : self.maximumLineLength
            if line.readableBytes > limit { return .lineTooLong(authentication: isAuth) }
            return .line(Array(line.readableBytesView), pipelinedInputFollows: self.buffer.readableBytes > 0)
        }
    }
}
