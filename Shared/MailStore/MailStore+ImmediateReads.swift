import Foundation
import GRDB
import Synchronization

extension MailStore {
    /// Short reads answered on the calling thread (see `ImmediateReads`); nil where the backend has no
    /// such reads (a database server is always a round trip away), and callers use the async reads.
    public var immediate: ImmediateReads? { self.threadReaders == nil ? nil : ImmediateReads(store: self) }

    /// Runs `value`, one SELECT, on the calling thread's own read-only connection, blocking the thread
    /// until done. Not the pool's readers: an event loop waiting for a pool reader can wait for ever
    /// when the readers are held by async reads whose tasks must resume on that same loop to give them
    /// back. Outside a transaction: a single statement is its own consistent snapshot in SQLite, and
    /// BEGIN and COMMIT around it cost as much as the query.
    func readNow<T>(_ value: (Database) throws -> T) throws(MailStoreError) -> T {
        guard let threadReaders = self.threadReaders else { throw .unavailable("immediate reads are SQLite only") }
        do {
            return try threadReaders.connection().unsafeRead(value)
        } catch {
            throw self.mapped(error)
        }
    }
}

/// One read-only SQLite connection per thread that makes immediate reads (in practice, the event
/// loops), opened on first use and used only by that thread, so an immediate read never waits for
/// another reader.
final class ThreadReaders: Sendable {
    private let path: String
    private let busyTimeout: Duration
    private let connections = Mutex<[UInt: DatabaseQueue]>([:])

    init(path: String, busyTimeout: Duration) {
        self.path = path
        self.busyTimeout = busyTimeout
    }

    func connection() throws -> DatabaseQueue {
        let thread = UInt(pthread_self())
        if let connection = self.connections.withLock({ $0[thread] }) { return connection }
        var configuration = Configuration()
        configuration.label = "estafeta.store.immediate"
        configuration.readonly = true
        configuration.busyMode = .timeout(TimeInterval(self.busyTimeout.components.seconds)
            + TimeInterval(self.busyTimeout.components.attoseconds) / 1e18)
        let connection = try DatabaseQueue(path: self.path, configuration: configuration)
        self.connections.withLock { $0[thread] = connection }
        return connection
    }
}

/// Reads for a session running on an event loop that needs a short answer before its next reply
/// (IMAP: the change feed after every command, the messages a FETCH names). An async read hands the
/// query to a reader's thread and the answer back to the loop: two thread wake-ups, which cost more
/// than the indexed query itself (bench/imap.sh: a selected-state NOOP took ~240 µs that way). These run
/// the query on the caller's thread instead. A WAL reader never waits for a writer, so the loop blocks
/// only for the query itself; keep them to bounded, indexed queries (a UID range, the feed since a
/// modseq), never scans of a whole mailbox or account.
public struct ImmediateReads: Sendable {
    let store: MailStore

    // Each of these must stay one statement (see `readNow`).

    /// `MailStore.changes(in:since:limit:)`, on the caller's thread.
    public func changes(in mailbox: MailboxID, since modSeq: UInt64, limit: Int = 10_000) throws(MailStoreError) -> [MailboxChange] {
        try self.store.readNow { db in try MailStore.changes(db, in: mailbox, since: modSeq, limit: limit) }
    }

    /// The mailbox's \Recent floor (`Mailbox.recentFloor`) as it is now: a session that learns of new
    /// messages claims them only when no other session has (`MailStore.claimRecent`), without a write.
    public func recentFloor(of mailbox: MailboxID) throws(MailStoreError) -> UInt32 {
        try self.store.readNow { db in
            UInt32(clamping: try Int64.fetchOne(db, sql: "SELECT recentFloor FROM mailbox WHERE id = ?", arguments: [mailbox.rawValue]) ?? 0)
        }
    }

    /// `MailStore.messages(in:uids:)`, on the caller's thread.
    public func messages(in mailbox: MailboxID, uids: ClosedRange<UInt32>) throws(MailStoreError) -> [StoredMessage] {
        try self.store.readNow { db in try MailStore.messagesWithContent(db, in: mailbox, uids: uids, content: .omitted).map(\.message) }
    }

    /// `MailStore.mailbox(named:of:)`, on the caller's thread (one lookup by a unique key): SELECT,
    /// STATUS and APPEND each name a mailbox, and a hop to a reader thread cost more than the lookup.
    public func mailbox(named name: String, of account: AccountID) throws(MailStoreError) -> Mailbox {
        let name = MailStore.canonicalMailboxName(name)
        return try self.store.readNow { db in try MailStore.fetchMailbox(db, name: name, accountID: account.rawValue) }
    }

    /// `MailStore.messagesWithContent(in:uids:content:)`, on the caller's thread.
    public func messagesWithContent(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64 = .max
    ) throws(MailStoreError) -> [(message: StoredMessage, content: Data?)] {
        try self.store.readNow { db in
            try MailStore.messagesWithContent(db, in: mailbox, uids: uids, content: content, largest: largest)
        }
    }
}
