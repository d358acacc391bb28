import Foundation
import Logging
import MailStore
import PostgresNIO

/// The purge's batches in PostgreSQL. Space that deletions free is reused by PostgreSQL's own
/// autovacuum; the store gives nothing back itself.
struct PostgresRetention: RetentionBackend {
    let access: PostgresAccess
    var logger: Logger { self.access.logger }

    func purgeFinishedQueueEntries(after: Int64, finishedBefore cutoff: Date, batch: Int) async throws(MailStoreError)
        -> (lastSeen: Int64?, reachedCutoff: Bool, messages: Int, contents: Int)
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            let window = try await connection.rows(
                """
                SELECT q.id, q.message_blob_id, q.received_at < \(cutoff) AND NOT EXISTS (
                    SELECT 1 FROM queue_recipient r WHERE r.queue_message_id = q.id
                        AND (r.state NOT IN ('delivered', 'bounced') OR r.reported_at IS NULL OR r.updated_at >= \(cutoff))),
                    q.received_at >= \(cutoff)
                FROM queue_message q WHERE q.id > \(after) ORDER BY q.id LIMIT \(PostgresDirectory.clamped(batch))
                """, logger
            ).map { try $0.decode((Int64, Int64, Bool, Bool).self) }
            guard let last = window.last else { return (nil, false, 0, 0) }
            let finished = window.filter(\.2)
            guard !finished.isEmpty else { return (last.0, last.3, 0, 0) }
            try await connection.query("DELETE FROM queue_message WHERE id = ANY(\(finished.map(\.0)))", logger: logger)
            let contents = try await connection.rows(
                """
                DELETE FROM message_blob b WHERE b.id = ANY(\(Array(Set(finished.map(\.1)))))
                    AND NOT EXISTS (SELECT 1 FROM mailbox_message m WHERE m.message_blob_id = b.id)
                    AND NOT EXISTS (SELECT 1 FROM queue_message q WHERE q.message_blob_id = b.id)
                RETURNING b.id
                """, logger
            ).count
            return (last.0, last.3, finished.count, contents)
        }
    }

    func pruneChangeFeed(before cutoff: Date, batch: Int) async throws(MailStoreError) -> Int {
        let logger = self.logger
        return try await self.access.transaction { connection in
            // The floors first, in one statement with the deletion: a reader never finds entries gone
            // without the floor that tells it so.
            try await connection.rows(
                """
                WITH oldest AS (
                    SELECT id, mailbox_id, mod_seq FROM mailbox_change WHERE created_at < \(cutoff)
                    ORDER BY id LIMIT \(PostgresDirectory.clamped(batch))
                ), floors AS (
                    UPDATE mailbox SET change_floor = greatest(change_floor, pruned.mod_seq)
                    FROM (SELECT mailbox_id, max(mod_seq) AS mod_seq FROM oldest GROUP BY mailbox_id) AS pruned
                    WHERE mailbox.id = pruned.mailbox_id
                )
                DELETE FROM mailbox_change WHERE id IN (SELECT id FROM oldest) RETURNING id
                """, logger
            ).count
        }
    }

    func purgeAuditLog(before cutoff: Date, batch: Int) async throws(MailStoreError) -> Int {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await connection.rows(
                """
                DELETE FROM audit_log WHERE id IN (
                    SELECT id FROM audit_log WHERE created_at < \(cutoff) ORDER BY id LIMIT \(PostgresDirectory.clamped(batch)))
                RETURNING id
                """, logger
            ).count
        }
    }

    func purgeAbandonedUploads(before cutoff: Date) async throws(MailStoreError) -> Int {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await connection.rows(
                """
                DELETE FROM message_blob WHERE id IN (
                    SELECT id FROM message_blob WHERE layout = 'upload' AND created_at < \(cutoff) LIMIT 16)
                RETURNING id
                """, logger
            ).count
        }
    }

    func releaseFreeSpace() async throws(MailStoreError) -> Int { 0 }
}
