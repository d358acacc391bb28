import Foundation
import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is committing wait and then go together in
/// the next one, each in its own savepoint (one failing write cannot fail the others).
///
/// Every commit syncs the WAL (synchronous=FULL), so one transaction per message caps a durable
/// write path at the disk's sync rate. Batching keeps the promise — nobody's call returns before the
/// transaction holding its write has committed — while under load many writes share one fsync. An
/// idle store still commits each write at once. Used for message acceptance (SMTP 250), local
/// delivery (queue → INBOX) and delivery outcomes (relay replies).
final class GroupCommit<Work: Sendable, Output: Sendable>: Sendable {
    private struct Request {
        let work: Work
        let bytes: Int
        let continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var pending: [Request] = []
        var committing = false
        var writes = 0
        var commits = 0
    }

    private let state = Mutex(State())
    private let maximumWrites: Int
    private let maximumBytes: Int
    /// Runs one write inside the shared transaction.
    private let apply: @Sendable (Database, Work) throws -> Output

    init(maximumWrites: Int = 128, maximumBytes: Int = 32 * 1024 * 1024,
         apply: @escaping @Sendable (Database, Work) throws -> Output)
    {
        self.maximumWrites = maximumWrites
        self.maximumBytes = maximumBytes
        self.apply = apply
    }

    /// Writes handed to the database and the transactions that held them, since start.
    var statistics: (writes: Int, commits: Int) {
        self.state.withLock { ($0.writes, $0.commits) }
    }

    /// Queues one write and returns its output after the transaction holding it has committed.
    func submit(_ work: Work, bytes: Int, in store: SQLiteAccess) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let leads = self.state.withLock { state in
                state.pending.append(Request(work: work, bytes: bytes, continuation: continuation))
                if state.committing { return false }
                state.committing = true
                return true
            }
            // The first arrival runs the commit loop; later arrivals only wait for it.
            if leads { Task { await self.drain(store) } }
        }
    }

    private func drain(_ store: SQLiteAccess) async {
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
                    state.committing = false
                } else {
                    state.writes += batch.count
                    state.commits += 1
                }
                return batch
            }
            if batch.isEmpty { return }
            await self.commit(batch, store)
        }
    }

    private func commit(_ batch: [Request], _ store: SQLiteAccess) async {
        let work = batch.map(\.work)
        let apply = self.apply
        let outcomes: [Result<Output, MailStoreError>]
        do {
            outcomes = try await store.write { db in
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
        } catch {
            for request in batch { request.continuation.resume(throwing: error) }
            return
        }
        for (request, outcome) in zip(batch, outcomes) {
            request.continuation.resume(with: outcome.mapError { $0 as any Error })
        }
    }
}
