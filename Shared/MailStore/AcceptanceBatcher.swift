import Foundation
import GRDB
import Synchronization

/// Group commit for message acceptance.
///
/// Every accepted message must be on disk before its `250` (synchronous=FULL syncs the WAL at each
/// COMMIT). One transaction per message costs one fsync per message, which caps the accept rate at the
/// disk's sync rate. Acceptances that arrive while a commit is in progress wait and then go together
/// in the next transaction, each in its own savepoint (one bad message cannot fail the others), so
/// under load many messages share one fsync. Nobody is answered before the commit that holds their
/// message has returned, so the durability promise is unchanged; an idle server still commits each
/// message at once.
final class AcceptanceBatcher: Sendable {
    struct Request {
        let content: Data
        let envelope: Envelope
        let receivedAt: Date
        let continuation: CheckedContinuation<AcceptedMessage, any Error>
    }

    private struct State {
        var pending: [Request] = []
        var pendingBytes = 0
        var committing = false
        var messages = 0
        var commits = 0
    }

    private let state = Mutex(State())
    /// Bounds on one transaction, so one commit never holds the write lock for long.
    let maximumMessages: Int
    let maximumBytes: Int

    init(maximumMessages: Int = 128, maximumBytes: Int = 32 * 1024 * 1024) {
        self.maximumMessages = maximumMessages
        self.maximumBytes = maximumBytes
    }

    /// Messages accepted and the transactions that held them, since start.
    var statistics: (messages: Int, commits: Int) {
        self.state.withLock { ($0.messages, $0.commits) }
    }

    /// Queues one acceptance and returns after the transaction holding it has committed.
    func accept(
        _ content: Data, envelope: Envelope, receivedAt: Date,
        commit: @escaping @Sendable ([Request]) async -> Void
    ) async throws -> AcceptedMessage {
        try await withCheckedThrowingContinuation { continuation in
            let request = Request(content: content, envelope: envelope, receivedAt: receivedAt, continuation: continuation)
            let leads = self.state.withLock { state in
                state.pending.append(request)
                state.pendingBytes += content.count
                if state.committing { return false }
                state.committing = true
                return true
            }
            // The first arrival runs the commit loop; later arrivals only wait for it.
            if leads { Task { await self.drain(commit: commit) } }
        }
    }

    private func drain(commit: @Sendable ([Request]) async -> Void) async {
        while true {
            let batch: [Request] = self.state.withLock { state in
                var count = 0
                var bytes = 0
                for request in state.pending {
                    if count > 0 && (count >= self.maximumMessages || bytes + request.content.count > self.maximumBytes) {
                        break
                    }
                    count += 1
                    bytes += request.content.count
                }
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                state.pendingBytes -= bytes
                if batch.isEmpty {
                    state.committing = false
                } else {
                    state.messages += batch.count
                    state.commits += 1
                }
                return batch
            }
            if batch.isEmpty { return }
            await commit(batch)
        }
    }
}

extension MailStore {
    /// How many messages `acceptMessage` has handed to the database and in how many transactions
    /// (their ratio is the group-commit batch size).
    public var acceptanceStatistics: (messages: Int, commits: Int) { self.acceptances.statistics }

    /// Writes one batch in one transaction, each message in its own savepoint, and answers every
    /// request after COMMIT (or with the error that stopped it).
    func commitAcceptances(_ batch: [AcceptanceBatcher.Request]) async {
        let work = batch.map { ($0.content, $0.envelope, $0.receivedAt) }
        let outcomes: [Result<AcceptedMessage, MailStoreError>]
        do {
            outcomes = try await self.write { db in
                var outcomes: [Result<AcceptedMessage, MailStoreError>] = []
                outcomes.reserveCapacity(work.count)
                for (content, envelope, receivedAt) in work {
                    var accepted: AcceptedMessage?
                    do {
                        try db.inSavepoint {
                            accepted = try Self.insertAcceptedMessage(db, content: content, envelope: envelope,
                                                                      receivedAt: receivedAt)
                            return .commit
                        }
                    } catch {
                        // A failing statement in a savepoint leaves the transaction usable.
                        outcomes.append(.failure(error as? MailStoreError ?? .unavailable("\(error)")))
                        continue
                    }
                    outcomes.append(accepted.map { .success($0) } ?? .failure(.unavailable("no result")))
                }
                return outcomes
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
