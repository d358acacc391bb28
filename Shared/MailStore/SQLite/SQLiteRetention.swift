import Foundation
import GRDB

/// The purge's batches in the SQLite file, and giving freed pages back (incremental vacuum).
struct SQLiteRetention: RetentionBackend {
    let access: SQLiteAccess

    func purgeFinishedQueueEntries(after: Int64, finishedBefore cutoff: Date, batch: Int) async throws(MailStoreError)
        -> (lastSeen: Int64?, reachedCutoff: Bool, messages: Int, contents: Int)
    {
        try await self.access.write { db in try Self.purgeFinishedQueueEntries(db, after: after, finishedBefore: cutoff, batch: batch) }
    }

    func pruneChangeFeed(before cutoff: Date, batch: Int) async throws(MailStoreError) -> Int {
        try await self.access.write { db in try Self.pruneChangeFeed(db, before: cutoff, batch: batch) }
    }

    func purgeAuditLog(before cutoff: Date, batch: Int) async throws(MailStoreError) -> Int {
        try await self.access.write { db in
            try db.execute(
                sql: "DELETE FROM auditLog WHERE id IN (SELECT id FROM auditLog ORDER BY id LIMIT ?) AND createdAt < ?",
                arguments: [batch, cutoff])
            return db.changesCount
        }
    }

    func purgeAbandonedUploads(before cutoff: Date) async throws(MailStoreError) -> Int {
        try await self.access.write { db in try MailStore.purgeAbandonedUploads(db, before: cutoff) }
    }

    /// One window of the queue, oldest first: deletes the entries in it that are finished and older
    /// than the cut-off, then their content where nothing else holds it. `lastSeen` is nil past the end;
    /// `reachedCutoff` says the window ended with an entry that arrived after the cut-off.
    static func purgeFinishedQueueEntries(_ db: Database, after: Int64, finishedBefore cutoff: Date, batch: Int) throws
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
                """, arguments: [after, cutoff, batch])
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
            try MailStore.deleteBlobIfUnreferenced(db, blob)
            contents += db.changesCount
        }
        return (last[0] as Int64, last[3] as Bool, messages, contents)
    }

    /// Deletes the oldest feed entries older than the cut-off (one batch) and raises each mailbox's
    /// floor to the highest modseq deleted, so that a session behind it learns it cannot catch up.
    static func pruneChangeFeed(_ db: Database, before cutoff: Date, batch: Int) throws -> Int {
        let oldest = "SELECT id FROM mailboxChange ORDER BY id LIMIT \(batch)"
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
    func releaseFreeSpace() async throws(MailStoreError) -> Int {
        var released = 0
        // Bounded: each round frees up to 2,048 pages (8 MiB at 4 KiB a page) or stops.
        for _ in 0..<100_000 {
            let freed = try await self.access.write { db -> Int in
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
}
