import Credentials
import Foundation
import IMAPProtocol
import Logging
import MailFormat
import MailStore
import NIOCore
import ServerSupport
import ServiceHost
import ServiceLifecycle

/// What changed in the selected mailbox elsewhere: the change feed read after every command, the
/// \Recent claim, and IDLE.
extension IMAPSession {
    /// Whether the change feed has nothing `selection` has not read (false too when the feed was pruned
    /// past it: the command's closing synchronisation then ends the selection).
    /// Answered on the caller's thread, so only where the store has immediate reads: false elsewhere
    /// (the caller then takes its general path).
    static func isCurrent(_ selection: IMAPSelection, store: MailStore) throws(MailStoreError) -> Bool {
        guard let immediate = store.immediate else { return false }
        do {
            return try immediate.changes(in: selection.mailbox.id, since: selection.modSeq, limit: 1).isEmpty
        } catch {
            guard case .changeFeedPruned = error else { throw error }
            return false
        }
    }

    /// Reads the change feed of the selected mailbox past what `selection` has seen and returns the
    /// untagged responses that tell the client.
    static func synchronise(_ selection: inout IMAPSelection, store: MailStore, expungesAllowed: Bool)
        async throws(MailStoreError) -> [IMAPResponse]
    {
        // After every command: on the loop (ImmediateReads) where the store can, as most of the time
        // nothing changed.
        let changes: [MailboxChange]
        do {
            if let immediate = store.immediate {
                changes = try immediate.changes(in: selection.mailbox.id, since: selection.modSeq)
            } else {
                changes = try await store.changes(in: selection.mailbox.id, since: selection.modSeq)
            }
        } catch {
            guard case .changeFeedPruned = error else { throw error }
            selection.lostTrack = true
            return []
        }
        // Expunges held back during a command that used sequence numbers go out at the next command
        // that may send them, whether or not anything new happened since.
        guard !changes.isEmpty || (expungesAllowed && !selection.pendingExpunges.isEmpty) else { return [] }
        let uids = changes.map(\.uid)
        var current: [StoredMessage] = []
        if let lowest = uids.min(), let highest = uids.max() {
            current = try await Self.messagesWithContent(in: selection.mailbox.id, uids: lowest...highest, content: .omitted, store: store).map(\.message)
        }
        let previousLargest = selection.largestUID
        var lines = selection.apply(
            changes: changes, current: Dictionary(current.map { ($0.uid, $0) }, uniquingKeysWith: { $1 }),
            expungesAllowed: expungesAllowed)
        if selection.tracksRecent, selection.largestUID > previousLargest {
            // New messages are \Recent in the first session to learn of them (RFC 3501 §7.3.2: RECENT
            // follows EXISTS). Most sessions find them claimed already: read the floor before writing.
            let fresh = Array(selection.uids.reversed().prefix { $0 > previousLargest })
            let lastRead: UInt32
            if let immediate = store.immediate {
                lastRead = try immediate.recentFloor(of: selection.mailbox.id)
            } else {
                lastRead = try await store.mailboxStatus(selection.mailbox.id).mailbox.recentFloor
            }
            let floor = try await Self.recentFloor(of: selection, lastRead: lastRead, store: store)
            selection.markRecent(from: floor, among: fresh)
            lines.append(.recent(selection.recent.count))
        }
        return lines
    }

    /// Where `selection`'s \Recent messages begin (RFC 3501 §2.3.2): a read-write session claims the
    /// messages up to its largest UID that no session has seen — a write only when the floor as last
    /// read (`lastRead`) shows some; a read-only one (EXAMINE) shows them but leaves them for the next.
    static func recentFloor(of selection: IMAPSelection, lastRead floor: UInt32, store: MailStore)
        async throws(MailStoreError) -> UInt32
    {
        guard !selection.readOnly, floor <= selection.largestUID else { return floor }
        return try await store.claimRecent(in: selection.mailbox.id, below: selection.largestUID + 1)
    }

    /// Messages of a UID range: read on the loop when the range is short (ImmediateReads; a FETCH of
    /// a few messages, the changes since the last command), with a hop to a reader thread otherwise.
    static func messagesWithContent(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64 = .max, store: MailStore
    ) async throws(MailStoreError) -> [(message: StoredMessage, content: Data?)] {
        if uids.count <= 128, let immediate = store.immediate {
            return try immediate.messagesWithContent(in: mailbox, uids: uids, content: content, largest: largest)
        }
        return try await store.messagesWithContent(in: mailbox, uids: uids, content: content, largest: largest)
    }

    /// IDLE (RFC 2177, RFC 9051 §6.3.13): `+`, then changes to the selected mailbox as they happen
    /// until the client sends DONE. The process's `IMAPChangeWatcher` says when the mailbox changed (in
    /// this process or another); the session then reads what changed, as after a command. With NOTIFY
    /// on, what it asked for is told instead (RFC 5465 §3: IDLE then only waits).
    func idle(
        _ tag: String, state: inout State, connection: Connection,
        frames: inout NIOAsyncChannelInboundStream<IMAPFrame>.AsyncIterator
    ) async throws -> Next {
        if state.notifier != nil {
            let encoder = Self.encoder(state)
            try await connection.outbound.write(.send(encoder.encode(.continuation("idling"))))
            let keepalive = self.keepalive(encoder: encoder, outbound: connection.outbound)
            defer { keepalive.cancel() }
            let frame = try await self.nextFrameNotifying(state: &state, connection: connection, frames: &frames)
            keepalive.cancel()
            return try await self.idleEnded(tag, by: frame, state: &state)
        }
        // Subscribed before the catch-up read below, so nothing committed in between is missed.
        let subscription: IMAPChangeWatcher.Subscription?
        do {
            if let selected = state.selected {
                subscription = try await self.watcher.watch(.mailbox(selected.mailbox.id))
            } else {
                subscription = nil
            }
        } catch {
            return self.no(tag, .unavailable, "Cannot watch the mailbox, try again", state)
        }
        defer { subscription?.cancel() }
        let encoder = Self.encoder(state)
        try await connection.outbound.write(.send(encoder.encode(.continuation("idling"))))
        let outbound = connection.outbound
        let store = self.store
        let start = state.selected
        let (session, saved) = (self, state.savedSearch)
        let watcher = Task { () -> IMAPSelection? in
            guard var selection = start, let subscription else { return start }
            var notifications = subscription.changes.makeAsyncIterator()
            repeat {
                if var lines = try? await Self.synchronise(&selection, store: store, expungesAllowed: true) {
                    if !selection.updatingSearches.isEmpty, let updates = try? await session.updates(of: &selection, saved: saved) {
                        lines += updates
                    }
                    if !lines.isEmpty { try? await outbound.write(.send(encoder.encode(lines))) }
                }
                if let closingReply = selection.closingReply {
                    // The idling client hears it at once; DONE will find the connection closed.
                    try? await outbound.write(.sendAndClose(encoder.encode(closingReply)))
                    return selection
                }
            } while await notifications.next() != nil
            return selection
        }
        let keepalive = self.keepalive(encoder: encoder, outbound: outbound)
        defer { keepalive.cancel() }
        let frame = try await frames.next()
        keepalive.cancel()
        subscription?.cancel()
        state.selected = await watcher.value
        return try await self.idleEnded(tag, by: frame, state: &state)
    }

    /// A line now and then during IDLE, so that what sits between client and server does not take the
    /// quiet connection for a dead one (RFC 9051 §6.3.13 lets the server send untagged responses any time).
    private func keepalive(encoder: IMAPResponseEncoder, outbound: NIOAsyncChannelOutboundWriter<IMAPOutput>) -> Task<Void, any Error> {
        Task { [idleKeepalive = self.idleKeepalive] in
            while true {
                try await Task.sleep(for: idleKeepalive)
                try await outbound.write(.send(encoder.encode(.status(tag: nil, .ok, nil, "Still here"))))
            }
        }
    }

    /// IDLE ends with DONE; anything else is BAD.
    private func idleEnded(_ tag: String, by frame: IMAPFrame?, state: inout State) async throws -> Next {
        guard let frame else { return .close(ByteBuffer()) }
        guard case .command(let bytes) = frame, bytes.literals.isEmpty, bytes.lines.count == 1,
            String(decoding: bytes.lines[0], as: UTF8.self).uppercased() == "DONE"
        else { return self.bad(tag, "Expected DONE", state: &state) }
        return try await self.completed(tag, "IDLE terminated", state: &state)
    }
}
