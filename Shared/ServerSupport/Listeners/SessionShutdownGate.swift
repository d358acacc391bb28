import Synchronization

/// The one rule every session follows at graceful shutdown: a session waiting for its next command is
/// told goodbye and closed at once; one in the middle of a command (DATA, APPEND) finishes it first and
/// says goodbye at the next command boundary. This gate decides which, without races between the
/// session task and the shutdown handler.
public final class SessionShutdownGate: Sendable {
    private enum Phase { case awaitingInput, busy, shuttingDown }
    private let phase = Mutex(Phase.busy)

    public init() {}

    /// Before awaiting the next input: false when shutdown has begun (say goodbye and end).
    public func willAwaitInput() -> Bool {
        self.phase.withLock { phase in
            if phase == .shuttingDown { return false }
            phase = .awaitingInput
            return true
        }
    }

    /// After input arrived: false when shutdown has begun meanwhile (the goodbye is already sent).
    public func willWork() -> Bool {
        self.phase.withLock { phase in
            if phase == .shuttingDown { return false }
            phase = .busy
            return true
        }
    }

    /// From the graceful-shutdown handler: true when the session was idle, so the caller must send
    /// the goodbye and close the connection itself.
    public func shutDown() -> Bool {
        self.phase.withLock { phase in
            let wasIdle = phase == .awaitingInput
            phase = .shuttingDown
            return wasIdle
        }
    }
}
