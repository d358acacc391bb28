import Logging
import MailStore
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The pool with the store's error mapping: what every part of the PostgreSQL backend reads and writes
/// through.
struct PostgresAccess: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// How long one operation may take, the wait for a connection included. While PostgreSQL is down
    /// the pool keeps trying to connect, and a caller would wait for ever: past this the operation is
    /// `unavailable`, which the protocols answer with their temporary errors.
    var deadline: Duration = .seconds(30)

    /// How often a transaction PostgreSQL aborted for a serialization failure or a deadlock is run again
    /// before the caller gets `unavailable`: both are PostgreSQL's way of saying "try again", and both
    /// are rare enough that a few attempts settle them.
    static let attempts = 5

    /// Runs `work` in one transaction. `durable: false` commits without waiting for the WAL to reach the
    /// disk (`synchronous_commit = off` for this transaction only), for what a crash may forget.
    @discardableResult
    func transaction<T: Sendable>(
        durable: Bool = true, _ work: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(MailStoreError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await self.withinDeadline {
                    try await self.client.withTransaction(logger: self.logger) { connection in
                        if !durable { try await connection.query("SET LOCAL synchronous_commit = off", logger: self.logger) }
                        return try await work(connection)
                    }
                }
            } catch {
                let cause = Self.cause(of: error)
                if let error = cause as? MailStoreError { throw error }
                if attempt < Self.attempts, Self.isWorthRetrying(cause) { continue }
                throw self.mapped(cause)
            }
        }
    }

    /// Runs `work` on one connection outside a transaction: for reads that are one statement.
    func read<T: Sendable>(_ work: @escaping @Sendable (PostgresConnection) async throws -> T) async throws(MailStoreError) -> T {
        try await self.onConnection(attempts: 1, work)
    }

    /// Runs a change that is one statement. PostgreSQL makes a statement sent outside a transaction block
    /// a transaction of its own, committed before it answers, so this is as atomic and as durable as
    /// `transaction` and spares BEGIN's and COMMIT's round trips; retried like a transaction.
    @discardableResult
    func statement<T: Sendable>(_ work: @escaping @Sendable (PostgresConnection) async throws -> T) async throws(MailStoreError) -> T {
        try await self.onConnection(attempts: Self.attempts, work)
    }

    private func onConnection<T: Sendable>(
        attempts: Int, _ work: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(MailStoreError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await self.withinDeadline { try await self.client.withConnection { connection in try await work(connection) } }
            } catch {
                let cause = Self.cause(of: error)
                if let error = cause as? MailStoreError { throw error }
                if attempt < attempts, Self.isWorthRetrying(cause) { continue }
                throw self.mapped(cause)
            }
        }
    }

    /// `work`, or `unavailable` once the deadline has passed. The caller is answered then even when
    /// `work` does not end when cancelled (a wait inside the pool while PostgreSQL restarts was seen not
    /// to): `work` runs as a task of its own, cancelled and left to end by itself. The timer is an event
    /// loop's scheduled callback, cancelled when the work answers: every store operation goes through
    /// here, and a task or a dispatch timer more per operation showed as thread switches.
    func withinDeadline<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let deadline = self.deadline
        let answer = Answer<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                answer.state.withLock { $0.continuation = continuation }
                let timer = NIOSingletons.posixEventLoopGroup.any().scheduleTask(in: .nanoseconds(Int64(deadline.nanoseconds))) {
                    guard let continuation = answer.take() else { return }
                    answer.cancelWork()
                    continuation.resume(throwing: MailStoreError.unavailable("PostgreSQL did not answer within \(deadline)"))
                }
                answer.start(
                    Task {
                        let result: Result<T, any Error>
                        do { result = .success(try await work()) } catch { result = .failure(error) }
                        timer.cancel()
                        answer.take()?.resume(with: result)
                    })
            }
        } onCancel: {
            answer.cancelWork()
        }
    }

    /// The error inside PostgresNIO's transaction wrapper: the closure's own, or the one of BEGIN or COMMIT.
    static func cause(of error: any Error) -> any Error {
        guard let error = error as? PostgresTransactionError else { return error }
        return error.closureError ?? error.commitError ?? error.beginError ?? error
    }

    /// Serialization failure (40001) and deadlock (40P01).
    static func isWorthRetrying(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    func mapped(_ error: any Error) -> MailStoreError {
        if let error = error as? MailStoreError { return error }
        let reason = PostgresStore.reason(error)
        self.logger.error("database error", metadata: ["error": "\(reason)"])
        if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "53100" { return .storageFull(reason) }
        return .unavailable(reason)
    }
}

extension PostgresConnection {
    /// Every row of `query`'s answer.
    func rows(_ query: PostgresQuery, _ logger: Logger) async throws -> [PostgresRow] {
        try await self.query(query, logger: logger).collect()
    }
}

/// Who answers a caller of `withinDeadline` first: the work or the timer (the other finds nothing to
/// resume); and the work's task, for the timer and the caller's cancellation to cancel.
private final class Answer<T: Sendable>: Sendable {
    struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var cancelled = false
    }

    let state = Mutex(State())

    func take() -> CheckedContinuation<T, any Error>? {
        self.state.withLock { $0.continuation.take() }
    }

    func start(_ work: Task<Void, Never>) {
        let cancelled = self.state.withLock { state in
            state.work = work
            return state.cancelled
        }
        if cancelled { work.cancel() }
    }

    func cancelWork() {
        let work = self.state.withLock { state in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Double {
        Double(self.components.seconds) * 1e9 + Double(self.components.attoseconds) / 1e9
    }
}
