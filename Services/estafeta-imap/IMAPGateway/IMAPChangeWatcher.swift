import Logging
import MailStore
import Synchronization

/// Tells idling and NOTIFY sessions that what they watch changed, for the whole process with one poll
/// of the store's change feed (`MailStore.mailboxesChanged(after:)`) every `interval`, however many
/// sessions wait: a poll per session would be 20,000 queries a second for 10,000 IDLE clients. Changes
/// made by other processes (another `estafeta-imap`, the delivery worker, POP3) arrive the same way as
/// this process's own. A session learns only *that* something it watches changed and reads what
/// changed itself.
///
/// The poll runs while anyone watches. `watch(_:)` takes the feed's position before it returns (when
/// the poll is not running yet), so a change committed after the caller's own catch-up read is never
/// missed: the caller subscribes, then catches up, then waits.
final class IMAPChangeWatcher: Sendable {
    /// One subscription; ends (and unsubscribes) when the stream is dropped or `cancel()`ed.
    struct Subscription: Sendable {
        let changes: AsyncStream<Void>
        fileprivate let continuation: AsyncStream<Void>.Continuation

        func cancel() { self.continuation.finish() }
    }

    /// What a session watches: one mailbox's messages (IDLE), or everything of an account: its
    /// mailboxes' messages and its list of mailboxes and subscriptions (NOTIFY).
    enum Topic: Hashable, Sendable {
        case mailbox(MailboxID)
        case account(AccountID)
    }

    private struct State {
        var subscribers: [Topic: [UInt64: AsyncStream<Void>.Continuation]] = [:]
        var count = 0
        var nextToken: UInt64 = 0
        /// The feed position the poll goes on from; nil while nobody watches.
        var position: Int64?
        var polling = false
    }

    private let store: MailStore
    private let interval: Duration
    /// Cuts the wait between two reads short when the store signals a change (PostgreSQL).
    private let doorbell: StoreDoorbell
    private let logger: Logger
    private let state = Mutex(State())

    init(store: MailStore, interval: Duration = .milliseconds(250), logger: Logger) {
        self.store = store
        self.interval = interval
        self.doorbell = store.doorbell(for: .mailboxes)
        self.logger = logger
    }

    /// Notifications for `topic` (coalesced: several changes between two reads are one element).
    func watch(_ topic: Topic) async throws(MailStoreError) -> Subscription {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // The feed's position is read (outside the lock) only when no poll holds
        // one: then the first pass returns nil and the second, with a position in hand, always registers.
        var now: Int64?
        while true {
            let registered = self.state.withLock { state -> (token: UInt64, startPoll: Bool)? in
                if state.position == nil {
                    guard let now else { return nil }
                    state.position = now
                }
                let token = state.nextToken
                state.nextToken += 1
                state.subscribers[topic, default: [:]][token] = continuation
                state.count += 1
                let start = !state.polling
                state.polling = true
                return (token, start)
            }
            guard let (token, startPoll) = registered else {
                now = try await self.store.latestChange()
                continue
            }
            continuation.onTermination = { [weak self] _ in self?.unsubscribe(topic, token) }
            if startPoll {
                Task { await self.poll() }
            }
            return Subscription(changes: stream, continuation: continuation)
        }
    }

    /// How many subscriptions are open (for tests and metrics).
    var watching: Int { self.state.withLock { $0.count } }

    private func unsubscribe(_ topic: Topic, _ token: UInt64) {
        self.state.withLock { state in
            guard state.subscribers[topic]?.removeValue(forKey: token) != nil else { return }
            if state.subscribers[topic]?.isEmpty == true { state.subscribers[topic] = nil }
            state.count -= 1
        }
    }

    private func poll() async {
        while true {
            await self.doorbell.wait(upTo: self.interval)
            let position: Int64? = self.state.withLock { state in
                guard state.count > 0 else {
                    // Nobody left: stop, and take a fresh position on the next watch.
                    state.polling = false
                    state.position = nil
                    return nil
                }
                return state.position
            }
            guard let position else { return }
            let changed: FeedChanges
            do {
                changed = try await self.store.mailboxesChanged(after: position)
            } catch {
                self.logger.warning("cannot read the change feed", metadata: ["error": "\(error)"])
                continue
            }
            guard changed.latest != position else { continue }
            let targets = self.state.withLock { state -> [AsyncStream<Void>.Continuation] in
                state.position = changed.latest
                let topics = changed.mailboxes.map(Topic.mailbox) + changed.accounts.map(Topic.account)
                return topics.flatMap { state.subscribers[$0].map { Array($0.values) } ?? [] }
            }
            for continuation in targets { continuation.yield() }
        }
    }
}
