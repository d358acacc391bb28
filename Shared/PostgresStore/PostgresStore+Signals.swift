import Logging
import MailStore
import PostgresNIO

extension PostgresStore {
    /// Sends `signal` to every listener (NOTIFY, delivered when the sender's transaction commits).
    public func send(_ signal: StoreSignal) async throws(PostgresStoreError) {
        do {
            _ = try await self.client.query("SELECT pg_notify(\(signal.rawValue), '')", logger: self.logger)
        } catch {
            throw .failed(Self.reason(error))
        }
    }

    /// Calls `wake` whenever `signal` is sent, until the calling task is cancelled. The listening
    /// connection is held apart from the pool's work; when it is lost (PostgreSQL restarted, the network
    /// cut), it is made again, waiting a little longer each time up to `longestWait`, and `wake` is called
    /// once it listens again: signals sent meanwhile were lost, so the caller catches up from the change
    /// feed, and nothing is missed.
    public func listen(
        for signal: StoreSignal, longestWait: Duration = .seconds(2), wake: @escaping @Sendable () async -> Void
    ) async {
        var wait = Duration.milliseconds(50)
        var listenedBefore = false
        while !Task.isCancelled {
            do {
                try await self.client.withConnection { connection in
                    try await connection.listen(on: signal.rawValue) { notifications in
                        if listenedBefore { await wake() }
                        listenedBefore = true
                        wait = .milliseconds(50)
                        for try await _ in notifications { await wake() }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                self.logger.warning(
                    "lost the connection listening for store signals; listening again",
                    metadata: ["signal": "\(signal.rawValue)", "error": "\(Self.reason(error))"])
            }
            guard !Task.isCancelled else { return }
            try? await Task.sleep(for: wait)
            wait = min(wait * 2, longestWait)
        }
    }
}

/// LISTEN/NOTIFY as the store's signals: the schema's triggers notify when a transaction adds to the
/// change feed or the queue (delivered when it commits), and these listen.
struct PostgresSignals: SignalBackend {
    let store: PostgresStore

    func listen(for signal: StoreSignal, wake: @escaping @Sendable () async -> Void) async {
        await self.store.listen(for: signal, wake: wake)
    }
}
