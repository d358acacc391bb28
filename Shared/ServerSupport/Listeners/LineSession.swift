import NIOCore
import ServiceLifecycle

/// What a line-based session does with one line.
public enum LineSessionStep: Sendable, Equatable {
    /// Send these bytes (already framed, CRLF included) and read the next line.
    case reply(String)
    /// Send these bytes and close the connection.
    case replyAndClose(String)
}

/// Drives a simple request/response conversation over a `LineConnection`: greeting, one reply per
/// line, and a polite goodbye on graceful shutdown.
///
/// Shutdown never interrupts a command: a session that is waiting for its next line gets the
/// `shutdownReply` at once and is closed; one in the middle of a command finishes it first and says
/// goodbye afterwards. (Later protocol sessions reuse this rule for DATA and APPEND.)
public struct LineSession: Sendable {
    public let greeting: String
    public let shutdownReply: String
    public let handle: @Sendable (InboundLine) async -> LineSessionStep

    public init(
        greeting: String, shutdownReply: String, handle: @escaping @Sendable (InboundLine) async -> LineSessionStep
    ) {
        self.greeting = greeting
        self.shutdownReply = shutdownReply
        self.handle = handle
    }

    public func run(on connection: LineConnection) async throws {
        let gate = SessionShutdownGate()
        let channel = connection.channel
        let goodbye = self.shutdownReply
        try await withGracefulShutdownHandler {
            try await connection.write(self.greeting)
            var lines = connection.inbound.makeAsyncIterator()
            while true {
                guard gate.willAwaitInput() else {
                    try await connection.write(goodbye)
                    return
                }
                guard let line = try await lines.next(), gate.willWork() else { return }
                switch await self.handle(line) {
                case .reply(let text):
                    try await connection.write(text)
                case .replyAndClose(let text):
                    try await connection.write(text)
                    return
                }
            }
        } onGracefulShutdown: {
            if gate.shutDown() {
                // Waiting for input: nothing is in progress, so say goodbye and close now.
                channel.writeAndFlush(ByteBuffer(string: goodbye)).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
