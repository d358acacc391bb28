import Logging
import Metrics
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import NIOTLS
import ServiceLifecycle
import Synchronization

/// What a session knows about its connection.
public struct ConnectionContext: Sendable {
    public let listenerName: String
    public let remoteAddress: SocketAddress?
    /// True on implicit-TLS listeners (submissions, pop3s, imaps).
    public let isTLS: Bool
    public let logger: Logger
}

/// One connection as its session sees it: typed frames in, typed messages out.
public struct ProtocolConnection<Inbound: Sendable, Outbound: Sendable>: Sendable {
    public let inbound: NIOAsyncChannelInboundStream<Inbound>
    public let outbound: NIOAsyncChannelOutboundWriter<Outbound>
    public let channel: any Channel
    public let context: ConnectionContext
}

/// Describes one listening socket of a protocol service.
public struct ListenerDescription: Sendable {
    public var name: String
    public var host: String
    public var port: Int
    /// Implicit TLS from the first byte (RFC 8314) when set.
    public var tls: NIOSSLContext?
    public var idleTimeout: Duration
    /// Sent before closing a connection that was idle too long.
    public var idleTimeoutReply: String
    /// How long an implicit-TLS client has to finish its handshake.
    public var tlsHandshakeTimeout: Duration

    public init(
        name: String, host: String, port: Int, tls: NIOSSLContext?, idleTimeout: Duration, idleTimeoutReply: String,
        tlsHandshakeTimeout: Duration = .seconds(10)
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.idleTimeout = idleTimeout
        self.idleTimeoutReply = idleTimeoutReply
        self.tlsHandshakeTimeout = tlsHandshakeTimeout
    }
}

/// A connection as the listener accepted it: admitted (with its channel set up for the protocol), or
/// refused by the connection limits (a plaintext one still gets the protocol's refusal; an implicit-TLS
/// one was closed before any TLS work, as its client could not read a plaintext reply).
struct AcceptedConnection<Inbound: Sendable, Outbound: Sendable>: Sendable {
    let channel: NIOAsyncChannel<Inbound, Outbound>?
    let network: String
    let admission: ConnectionLimiter.Admission
}

/// Binds one listener and runs one session per connection, each as a child task of a discarding task
/// group, so a failing session ends only itself. On graceful shutdown the listener closes first and
/// the open sessions are left to finish (each session decides how, with a `SessionShutdownGate`).
public final class ProtocolServer<Inbound: Sendable, Outbound: Sendable>: Service, Sendable {
    public typealias Connection = ProtocolConnection<Inbound, Outbound>
    public let description: ListenerDescription
    private let limiter: ConnectionLimiter
    private let logger: Logger
    /// Adds the protocol's framing handlers, which turn bytes into `Inbound` and `Outbound` into bytes.
    private let framing: @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void
    /// Sent before closing a connection over the connection limits (`421 …`, `-ERR …`, `* BYE …`).
    private let overLimitMessage: Outbound
    private let session: @Sendable (Connection) async throws -> Void
    private let bound = OneShotValue<SocketAddress>()

    public init(
        _ description: ListenerDescription, limiter: ConnectionLimiter, logger: Logger,
        framing: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void, overLimitMessage: Outbound,
        session: @escaping @Sendable (Connection) async throws -> Void
    ) {
        self.description = description
        self.limiter = limiter
        self.logger = logger
        self.framing = framing
        self.overLimitMessage = overLimitMessage
        self.session = session
    }

    /// The address the listener was given (the real port when 0 was asked for).
    public var boundAddress: SocketAddress {
        get async throws { try await self.bound.value }
    }

    public func run() async throws {
        let description = self.description
        let framing = self.framing
        let limiter = self.limiter
        let listener: NIOAsyncChannel<AcceptedConnection<Inbound, Outbound>, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .bind(host: description.host, port: description.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // The limits first: a refused client costs no TLS handshake and no session.
                        let network = ConnectionLimiter.network(of: channel.remoteAddress)
                        let admission = limiter.admit(network)
                        if admission != .admitted, description.tls != nil {
                            channel.close(promise: nil)
                            return AcceptedConnection(channel: nil, network: network, admission: admission)
                        }
                        do {
                            let sync = channel.pipeline.syncOperations
                            if let tls = description.tls {
                                try sync.addHandler(NIOSSLServerHandler(context: tls))
                                try sync.addHandler(TLSHandshakeTimeout(TimeAmount(description.tlsHandshakeTimeout)))
                            }
                            // Idle means no traffic either way: a reply written resets the timer as a read does, so
                            // a slow store answering a long pipelined batch is not taken for a silent client.
                            try sync.addHandler(
                                IdleStateHandler(allTimeout: TimeAmount(description.idleTimeout)))
                            try sync.addHandler(IdleConnectionCloser(reply: description.idleTimeoutReply))
                            try framing(sync)
                            return AcceptedConnection(
                                channel: try NIOAsyncChannel<Inbound, Outbound>(wrappingChannelSynchronously: channel),
                                network: network, admission: admission)
                        } catch {
                            if admission == .admitted { limiter.release(network) }
                            throw error
                        }
                    }
                }
        } catch {
            // The ready-file writer waits on `bound` too: both must report the same, clear error.
            let failure = ProtocolServerError.cannotBind(
                listener: description.name, address: "\(description.host):\(description.port)", reason: "\(error)")
            self.bound.fail(failure)
            throw failure
        }
        if let address = listener.channel.localAddress {
            self.bound.succeed(address)
            self.logger.info(
                "listening", metadata: ["listener": "\(description.name)", "address": "\(address)"])
        }
        let connections = Counter(label: "estafeta_connections_total", dimensions: [("listener", description.name)])
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await listener.executeThenClose { inbound in
                    for try await accepted in inbound {
                        connections.increment()
                        group.addTask { await self.serve(accepted) }
                    }
                }
            }
        } onGracefulShutdown: {
            listener.channel.close(promise: nil)
        }
    }

    private func serve(_ accepted: AcceptedConnection<Inbound, Outbound>) async {
        var logger = self.logger
        logger[metadataKey: "listener"] = "\(self.description.name)"
        guard let connection = accepted.channel else {
            logger.notice("connection refused before TLS", metadata: ["network": "\(accepted.network)", "limit": "\(accepted.admission)"])
            return
        }
        let remote = connection.channel.remoteAddress
        logger[metadataKey: "peer"] = "\(remote.map { "\($0)" } ?? "unknown")"
        guard accepted.admission == .admitted else {
            logger.notice("connection refused", metadata: ["limit": "\(accepted.admission)"])
            try? await connection.executeThenClose { _, outbound in
                try await outbound.write(self.overLimitMessage)
            }
            return
        }
        defer { self.limiter.release(accepted.network) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let context = ConnectionContext(
                    listenerName: self.description.name, remoteAddress: remote, isTLS: self.description.tls != nil,
                    logger: logger)
                try await self.session(
                    Connection(inbound: inbound, outbound: outbound, channel: connection.channel, context: context))
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }
}

public enum ProtocolServerError: Error, Sendable, CustomStringConvertible {
    case cannotBind(listener: String, address: String, reason: String)
    public var description: String {
        switch self {
        case .cannotBind(let listener, let address, let reason): "cannot listen for \(listener) on \(address): \(reason)"
        }
    }
}

/// Closes an implicit-TLS connection whose handshake is not done within the timeout: a client that
/// connects and then sends nothing (or a byte now and then) would otherwise hold its slot until the
/// idle timeout, which is minutes. Removes itself once the handshake is complete.
final class TLSHandshakeTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(_ timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadline?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            self.deadline?.cancel()
            self.deadline = nil
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
    }

    private func start(_ context: ChannelHandlerContext) {
        guard self.deadline == nil else { return }
        let channel = context.channel
        self.deadline = context.eventLoop.scheduleTask(in: self.timeout) { channel.close(promise: nil) }
    }
}

/// Answers a read timeout from `IdleStateHandler` with the protocol's goodbye, then closes.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let reply: String

    init(reply: String) { self.reply = reply }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .all {
            let buffer = context.channel.allocator.buffer(string: self.reply)
            let channel = context.channel
            context.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
    }
}
