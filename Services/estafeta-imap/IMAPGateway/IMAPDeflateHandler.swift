import CompressNIO
import NIOCore

/// COMPRESS=DEFLATE (RFC 4978): after the tagged OK each direction is one raw DEFLATE stream (RFC 1951,
/// no zlib header). Sits between TLS and the IMAP framing, so the framing's limits apply to what was
/// inflated.
///
/// A few compressed octets can stand for a thousand times as many, so what arrives is inflated a piece
/// at a time, each when the framing asks for more (`read`), the way the socket is read: a session
/// holds no more than an uncompressed one sending the same commands.
///
/// Output is compressed as it is written and made decodable at each flush (a sync flush, RFC 4978
/// §4), so every response reaches the client whole without waiting for the next.
final class IMAPDeflateHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The most one step hands on to the framing, inflated.
    static let inflatedPieceBytes = 65_536
    /// One compressed output buffer.
    private static let deflatedPieceBytes = 16_384

    private let compressor: ZlibCompressor
    private let decompressor: ZlibDecompressor
    /// Received and not yet inflated.
    private var compressed = ByteBuffer()
    /// The client's stream has ended (or was corrupt): nothing more is read.
    private var inputEnded = false
    /// Written since the last flush: the next flush ends the block.
    private var unflushed = false
    /// Promises of writes whose bytes zlib may still hold; kept when the flush that sends them goes out.
    private var waiting: [EventLoopPromise<Void>] = []

    /// `received`: compressed input that arrived before this handler was in place.
    init(received: ByteBuffer = ByteBuffer()) throws {
        self.compressed = received
        // An 8 KiB window and a smaller hash table: some 64 KiB of compressor state per session instead
        // of 256 KiB, for a little less compression of text. The client's stream may use the full
        // 32 KiB window, so the inflater allows it.
        self.compressor = try ZlibCompressor(
            algorithm: .deflate, configuration: ZlibConfiguration(windowSize: 13, compressionLevel: 6, memoryLevel: 6))
        self.decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = Self.unwrapInboundIn(data)
        guard !self.inputEnded else { return }
        if self.compressed.readableBytes == 0 {
            self.compressed = incoming
        } else {
            self.compressed.writeBuffer(&incoming)
        }
        self.inflatePiece(context: context)
    }

    func read(context: ChannelHandlerContext) {
        guard self.compressed.readableBytes > 0, !self.inputEnded else {
            context.read()
            return
        }
        // The framing wants more and a piece is waiting: hand it on instead of reading the socket, then
        // ask again as the channel does after each socket read, through the handlers that may hold the
        // request back while the session is busy.
        self.inflatePiece(context: context)
        context.fireChannelReadComplete()
        let channel = context.channel
        context.eventLoop.execute { channel.read() }
    }

    private func inflatePiece(context: ChannelHandlerContext) {
        guard self.compressed.readableBytes > 0 else { return }
        var output = context.channel.allocator.buffer(capacity: Self.inflatedPieceBytes)
        do {
            try self.decompressor.inflate(from: &self.compressed, to: &output)
            // With room left in the output, zlib takes all the input unless the stream has ended.
            if self.compressed.readableBytes > 0 { throw CompressNIOError.corruptData }
        } catch let error as CompressNIOError where error == .bufferOverflow {
            // The piece is full; the rest waits for the next read.
        } catch let error as CompressNIOError where error == .inputBufferOverflow {
            // Everything taken; more input is needed.
        } catch {
            // A corrupt stream or data after its end: nothing more can be understood from this client.
            self.inputEnded = true
            self.compressed = ByteBuffer()
            if output.readableBytes > 0 { context.fireChannelRead(Self.wrapInboundOut(output)) }
            context.close(promise: nil)
            return
        }
        if self.compressed.readableBytes == 0 {
            self.compressed = ByteBuffer()
        }
        if output.readableBytes > 0 {
            context.fireChannelRead(Self.wrapInboundOut(output))
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = Self.unwrapOutboundIn(data)
        if let promise { self.waiting.append(promise) }
        guard bytes.readableBytes > 0 else { return }
        self.unflushed = true
        self.deflate(&bytes, flush: .no, context: context)
    }

    func flush(context: ChannelHandlerContext) {
        // Everything written so far is on its way once the flushed block is.
        var sent: EventLoopPromise<Void>?
        if !self.waiting.isEmpty {
            let promise = context.eventLoop.makePromise(of: Void.self)
            for waiting in self.waiting { promise.futureResult.cascade(to: waiting) }
            self.waiting = []
            sent = promise
        }
        if self.unflushed {
            self.unflushed = false
            var nothing = ByteBuffer()
            self.deflate(&nothing, flush: .sync, context: context, promise: sent)
        } else {
            sent?.succeed()
        }
        context.flush()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for promise in self.waiting { promise.fail(ChannelError.ioOnClosedChannel) }
        self.waiting = []
    }

    /// Compresses `input` and writes what zlib gives out; with `.sync`, also everything it held.
    /// `promise` goes with the last buffer written (or is kept at once when there is none).
    private func deflate(
        _ input: inout ByteBuffer, flush: CompressNIOFlush, context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil
    ) {
        var last: ByteBuffer?
        defer {
            if let last { context.write(Self.wrapOutboundOut(last), promise: promise) } else { promise?.succeed() }
        }
        while true {
            var output = context.channel.allocator.buffer(capacity: Self.deflatedPieceBytes)
            let before = input.readableBytes
            do {
                try self.compressor.deflate(from: &input, to: &output, flush: flush)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Out of room (or, with nothing to do, no progress): decided below.
            } catch {
                context.fireErrorCaught(error)
                return
            }
            let full = output.writableBytes == 0
            let progressed = output.readableBytes > 0 || input.readableBytes < before
            if output.readableBytes > 0 {
                if let previous = last { context.write(Self.wrapOutboundOut(previous), promise: nil) }
                last = output
            }
            // A round that fills the output may have more to give (zlib finishes a flush only when it
            // leaves room); one that neither took input nor gave output has nothing more.
            guard progressed, full || input.readableBytes > 0 else { return }
        }
    }
}
