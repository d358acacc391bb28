import Foundation
import GRDB
import Synchronization

/// Writes that arrive while a batch is being written wait and then go together in the next batch; how a
/// batch is written is the caller's (`write`): SQLite's group commit puts it in one transaction, the
/// PostgreSQL backend's acceptances in one statement. Nobody's call returns before the batch holding its
/// write has been written; an idle store writes each at once.
package final class WriteBatcher<Work: Sendable, Output: Sendable>: Sendable {
    /// Writes a batch: one result per item, in order.
    package typealias Write = @Sendable ([Work]) async -> [Result<Output, any Error>]

    private struct Request {
        let work: Work
        let bytes: Int
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var pending: [Request] = []
        var writing = false
        var writes = 0
        var batches = 0
    }

    private let state = Mutex(State())
    private let maximumWrites: Int
    private let maximumBytes: Int

    package init(maximumWrites: Int = 128, maximumBytes: Int = 32 * 1024 * 1024) {
        self.maximumWrites = maximumWrites
        self.maximumBytes = maximumBytes
    }

    /// Writes handed over and the batches that held them, since start.
    package var statistics: (writes: Int, batches: Int) {
        self.state.withLock { ($0.writes, $0.batches) }
    }

    /// Queues one write and returns its output after the batch holding it has been written. The first
    /// arrival while nothing is being written runs the batches (with its `write`); later ones only wait.
    package func submit(_ work: Work, bytes: Int, write: @escaping Write) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let leads = self.state.withLock { state in
                state.pending.append(Request(work: work, bytes: bytes, continuation: continuation))
                if state.writing { return false }
                state.writing = true
                return true
            }
            if leads { Task { await self.drain(write) } }
        }
    }

    private func drain(_ write: Write) async {
        while true {
            let batch: [Request] = self.state.withLock { state in
                var count = 0
                var bytes = 0
                for request in state.pending {
                    if count > 0 && (count >= self.maximumWrites || bytes + request.bytes > self.maximumBytes) { break }
                    count += 1
                    bytes += request.bytes
                }
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                if batch.isEmpty {
                    state.writing = false
                } else {
                    state.writes += batch.count
                    state.batches += 1
                }
                return batch
            }
            if batch.isEmpty { return }
            let results = await write(batch.map(\.work))
            for (index, request) in batch.enumerated() {
                request.continuation.resume(
                    with: index < results.count ? results[index] : .failure(MailStoreError.unavailable("no result")))
            }
        }
    }
}

/// Group commit: writes that arrive while a transaction is committing wait and then go together in
/// the next one, each in its own savepoint (one failing write cannot fail the others).
///
/// Every commit syncs the WAL (synchronous=FULL), so one transaction per message caps a durable
/// write path at the disk's sync rate. Batching keeps the promise — nobody's call returns before the
/// transaction holding its write has committed — while under load many writes share one fsync. Used
/// for message acceptance (SMTP 250), local delivery (queue → INBOX) and delivery outcomes (relay
/// replies).
final class GroupCommit<Work: Sendable, Output: Sendable>: Sendable {
    private let batcher: WriteBatcher<Work, Output>
    /// Runs one write inside the shared transaction.
    private let apply: @Sendable (Database, Work) throws -> Output

    init(maximumWrites: Int = 128, maximumBytes: Int = 32 * 1024 * 1024,
         apply: @escaping @Sendable (Database, Work) throws -> Output)
    {
        self.batcher = WriteBatcher(maximumWrites: maximumWrites, maximumBytes: maximumBytes)
        self.apply = apply
    }

    /// Writes handed to the database and the transactions that held them, since start.
    var statistics: (writes: Int, commits: Int) {
        let statistics = self.batcher.statistics
        return (statistics.writes, statistics.batches)
    }

    /// Queues one write and returns its output after the transaction holding it has committed.
    func submit(_ work: Work, bytes: Int, in store: SQLiteAccess) async throws -> Output {
        let apply = self.apply
        return try await self.batcher.submit(work, bytes: bytes) { batch in await Self.commit(batch, apply, store) }
    }

    private static func commit(
        _ work: [Work], _ apply: @escaping @Sendable (Database, Work) throws -> Output, _ store: SQLiteAccess
    ) async -> [Result<Output, any Error>] {
        do {
            let outcomes: [Result<Output, MailStoreError>] = try await store.write { db in
                work.map { item in
                    var output: Output?
                    do {
                        try db.inSavepoint {
                            output = try apply(db, item)
                            return .commit
                        }
                    } catch {
                        // A failed savepoint is rolled back; the transaction goes on for the others.
                        return .failure(SQLiteAccess.classified(error))
                    }
                    return output.map { .success($0) } ?? .failure(.unavailable("no result"))
                }
            }
            return outcomes.map { $0.mapError { $0 as any Error } }
        } catch {
            return work.map { _ in .failure(error) }
        }
    }
}
