import Foundation
import GRDB

/// How long what the store keeps only for a while is kept.
public struct RetentionPolicy: Sendable, Equatable {
    /// Queue entries all of whose recipients are delivered or bounced (and reported), counted from
    /// their last change; their content is freed once no mailbox holds it.
    public var finishedQueueEntries: Duration
    /// Entries of the mailbox change feed. IMAP sessions read the feed after every command and while
    /// idling, so they are never far behind; one that is behind the horizon ends its selection.
    public var changeFeed: Duration
    /// The admin API's audit log.
    public var auditLog: Duration
    /// Content uploads nobody has written to for this long: their session is gone (a living one writes
    /// a piece at least every few minutes, even at the slowest data rate the listeners allow).
    public var abandonedUploads: Duration

    public init(finishedQueueEntries: Duration, changeFeed: Duration, auditLog: Duration, abandonedUploads: Duration = .seconds(3600)) {
        self.finishedQueueEntries = finishedQueueEntries
        self.changeFeed = changeFeed
        self.auditLog = auditLog
        self.abandonedUploads = abandonedUploads
    }
}

/// What one purge removed.
public struct PurgeReport: Sendable, Equatable {
    public var queueMessages = 0
    public var messageContents = 0
    public var changes = 0
    public var auditEntries = 0
    public var abandonedUploads = 0
    /// Database pages given back to the filesystem (incremental vacuum).
    public var freedPages = 0

    public init() {}
}

/// The store's housekeeping: what is kept only for a while is deleted in small transactions (a few
/// hundred rows each, so the write lock is never held for long and deliveries go on meanwhile), and
/// the pages freed are given back to the filesystem, so that a steady flow of mail keeps the file at
/// a steady size.
extension MailStore {
    /// Rows one purge transaction looks at.
    static let purgeBatch = 256

    public func purge(_ policy: RetentionPolicy, now: Date = Date()) async throws(MailStoreError) -> PurgeReport {
        var report = PurgeReport()
        let queueCutoff = now.addingTimeInterval(-Self.seconds(policy.finishedQueueEntries))
        var after: Int64 = 0
        while true {
            let start = after
            let batch = try await self.write { db in try Self.purgeFinishedQueueEntries(db, after: start, finishedBefore: queueCutoff) }
            report.queueMessages += batch.messages
            report.messageContents += batch.contents
            // Entries come in id order, which is arrival order: past the cut-off none can be due.
            guard let last = batch.lastSeen, !batch.reachedCutoff else { break }
            after = last
            await Task.yield()
        }
        let feedCutoff = now.addingTimeInterval(-Self.seconds(policy.changeFeed))
        while true {
            let pruned = try await self.write { db in try Self.pruneChangeFeed(db, before: feedCutoff) }
            report.changes += pruned
            guard pruned == Self.purgeBatch else { break }
            await Task.yield()
        }
        let auditCutoff = now.addingTimeInterval(-Self.seconds(policy.auditLog))
        while true {
            let deleted = try await self.write { db in
                try db.execute(
                    sql: "DELETE FROM auditLog WHERE id IN (SELECT id FROM auditLog ORDER BY id LIMIT ?) AND createdAt < ?",
                    arguments: [Self.purgeBatch, auditCutoff])
                return db.changesCount
            }
            report.auditEntries += deleted
            guard deleted == Self.purgeBatch else { break }
            await Task.yield()
        }
        let uploadCutoff = now.addingTimeInterval(-Self.seconds(policy.abandonedUploads))
        while true {
            let deleted = try await self.write { db in try Self.purgeAbandonedUploads(db, before: uploadCutoff) }
            report.abandonedUploads += deleted
            guard deleted > 0 else { break }
            await Task.yield()
        }
        report.freedPages = try await self.releaseFreePages()
        return report
    }

    /// One window of the queue, oldest first: deletes the entries in it that are finished and older
    /// than the cut-off, then their content where nothing else holds it. `lastSeen` is nil past the end;
    /// `reachedCutoff` says the window ended with an entry that arrived after the cut-off.
    static func purgeFinishedQueueEntries(_ db: Database, after: Int64, finishedBefore cutoff: Date) throws
        -> (lastSeen: Int64?, reachedCutoff: Bool, messages: Int, contents: Int)
    {
        let window = try Row.fetchAll(
            db,
            sql: """
                SELECT q.id, q.messageBlobId, q.receivedAt < ?2 AND NOT EXISTS (
                    SELECT 1 FROM queueRecipient r WHERE r.queueMessageId = q.id
                        AND (r.state NOT IN ('delivered', 'bounced') OR r.reportedAt IS NULL OR r.updatedAt >= ?2)),
                    q.receivedAt >= ?2
                FROM queueMessage q WHERE q.id > ?1 ORDER BY q.id LIMIT ?3
                """, arguments: [after, cutoff, Self.purgeBatch])
        guard let last = window.last else { return (nil, false, 0, 0) }
        var messages = 0
        var blobs: Set<Int64> = []
        for row in window where row[2] as Bool {
            try db.execute(sql: "DELETE FROM queueMessage WHERE id = ?", arguments: [row[0] as Int64])
            messages += 1
            blobs.insert(row[1])
        }
        var contents = 0
        for blob in blobs {
            try Self.deleteBlobIfUnreferenced(db, blob)
            contents += db.changesCount
        }
        return (last[0] as Int64, last[3] as Bool, messages, contents)
    }

    /// Deletes the oldest feed entries older than the cut-off (one batch) and raises each mailbox's
    /// floor to the highest modseq deleted, so that a session behind it learns it cannot catch up.
    static func pruneChangeFeed(_ db: Database, before cutoff: Date) throws -> Int {
        let oldest = "SELECT id FROM mailboxChange ORDER BY id LIMIT \(Self.purgeBatch)"
        try db.execute(
            sql: """
                UPDATE mailbox SET changeFloor = max(changeFloor, pruned.modSeq)
                FROM (SELECT mailboxId, max(modSeq) AS modSeq FROM mailboxChange
                      WHERE id IN (\(oldest)) AND createdAt < ? GROUP BY mailboxId) AS pruned
                WHERE mailbox.id = pruned.mailboxId
                """, arguments: [cutoff])
        try db.execute(sql: "DELETE FROM mailboxChange WHERE id IN (\(oldest)) AND createdAt < ?", arguments: [cutoff])
        return db.changesCount
    }

    /// Gives free pages back to the filesystem, a few thousand per transaction, when the file is in
    /// incremental auto-vacuum mode (every file is, see `MailStore.open`). Returns how many.
    func releaseFreePages() async throws(MailStoreError) -> Int {
        var released = 0
        // Bounded: each round frees up to 2,048 pages (8 MiB at 4 KiB a page) or stops.
        for _ in 0..<100_000 {
            let freed = try await self.write { db -> Int in
                guard try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") == 2 else { return 0 }
                let before = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                guard before > 0 else { return 0 }
                try db.execute(sql: "PRAGMA incremental_vacuum(2048)")
                return before - (try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? before)
            }
            guard freed > 0 else { break }
            released += freed
            await Task.yield()
        }
        return released
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }
}
