import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO

/// The steps of the mailbox and queue transactions (the queue files messages with them too).
extension PostgresMailboxes {
    // MARK: Inside transactions

    /// The columns `storedMessage(from:)` reads, in its order.
    static func messageColumns(_ prefix: String = "") -> String {
        """
        \(prefix)uid, \(prefix)size, \(prefix)internal_date, \(prefix)flags, \(prefix)mod_seq, \(prefix)message_blob_id,
            coalesce(\(prefix)saved_at, \(prefix)internal_date)
        """
    }

    /// The date to the millisecond, as the SQLite file keeps it, so that both backends give the same.
    static func storedMessage(from row: PostgresRow) throws -> StoredMessage {
        let (uid, size, date, flags, modSeq, content, saved) = try row.decode((Int64, Int64, Date, String, Int64, Int64, Date).self)
        return StoredMessage(
            uid: UInt32(clamping: uid), size: size, internalDate: StoredMessage.milliseconds(date), flags: MailStore.flagSet(flags),
            modSeq: UInt64(clamping: modSeq), contentID: content, savedDate: StoredMessage.milliseconds(saved))
    }

    static func listed(_ row: PostgresRow) throws -> (StoredMessage, prefix: Data, stored: Data?, blob: Int64, layout: String) {
        let (_, _, _, _, _, _, _, prefix, stored, blob, layout) = try row.decode(
            (Int64, Int64, Date, String, Int64, Int64, Date, Data, Data?, Int64, String).self)
        return (try Self.storedMessage(from: row), prefix, stored, blob, layout)
    }

    /// Messages in `uids` with, after the listing columns: added header lines, the stored content
    /// (only the header section when `header`; NULL when larger than `largest`), its id and layout.
    static func listing(
        _ connection: PostgresConnection, _ mailbox: MailboxID, _ uids: ClosedRange<UInt32>, header: Bool, largest: Int64,
        _ logger: Logger
    ) async throws -> [PostgresRow] {
        if header { return try await connection.rows(HeaderListingStatement(mailbox: mailbox.rawValue, uids: uids), logger) }
        return try await connection.rows(ContentListingStatement(mailbox: mailbox.rawValue, uids: uids, largest: largest), logger)
    }

    /// A content's bytes: `inline`, or its chunks in order.
    static func storedContent(
        _ connection: PostgresConnection, blobID: Int64, layout: String, inline: Data, _ logger: Logger
    ) async throws -> Data {
        guard layout == "chunks" else { return inline }
        var content = Data()
        for row in try await connection.rows(
            "SELECT data FROM message_chunk WHERE message_blob_id = \(blobID) ORDER BY seq", logger)
        {
            content.append(try row.decode(Data.self))
        }
        return content
    }

    /// Stores a content whole, with its header section apart (what header-only reads take).
    static func insertContent(_ connection: PostgresConnection, _ content: Data, now: Date, _ logger: Logger) async throws -> Int64 {
        let header = Data(content.prefix(MIMEParser.headerLength(of: content)))
        guard let row = try await connection.rows(ContentInsertStatement(content: content, header: header, now: now), logger).first
        else { throw MailStoreError.unavailable("storing a content gave no id") }
        return try row.decode(Int64.self)
    }

    /// Gives the message the mailbox's next UID and modseq (an `UPDATE … RETURNING`, which locks the
    /// mailbox row until commit), files it and records the append in the feed: one statement, so one
    /// round trip.
    static func insertMailboxMessage(
        _ connection: PostgresConnection, mailboxID: Int64, blobID: Int64, headerPrefix: Data, size: Int64, flags: Set<String>,
        internalDate: Date, _ logger: Logger
    ) async throws -> StoredMessage {
        let filing = try MessageFilingStatement(
            mailbox: mailboxID, blob: blobID, headerPrefix: headerPrefix, size: size, internalDate: internalDate,
            flags: MailStore.flagString(flags))
        guard let row = try await connection.rows(filing, logger        ).first else {
            guard try await connection.rows("SELECT 1 FROM mailbox WHERE id = \(mailboxID)", logger).isEmpty else {
                throw MailStoreError.unavailable("mailbox \(mailboxID) ran out of UIDs")
            }
            throw MailStoreError.unknownMailbox(String(mailboxID))
        }
        let (uid, modSeq, saved) = try row.decode((Int64, Int64, Date).self)
        return StoredMessage(
            uid: UInt32(uid), size: size, internalDate: internalDate, flags: flags, modSeq: UInt64(modSeq), contentID: blobID,
            savedDate: StoredMessage.milliseconds(saved))
    }

    static func bumpModSeq(_ connection: PostgresConnection, mailboxID: Int64, _ logger: Logger) async throws -> Int64 {
        guard let row = try await connection.rows(
            "UPDATE mailbox SET highest_mod_seq = highest_mod_seq + 1 WHERE id = \(mailboxID) RETURNING highest_mod_seq", logger
        ).first else { throw MailStoreError.unknownMailbox(String(mailboxID)) }
        return try row.decode(Int64.self)
    }

    /// Tells the change feed's readers that the account's list of mailboxes or subscriptions changed
    /// (IMAP NOTIFY, RFC 5465 §5.4, §5.5): an entry of kind `mailboxes` that names no mailbox.
    static func recordMailboxListChange(_ connection: PostgresConnection, accountID: Int64, _ logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO mailbox_change (mailbox_id, mod_seq, uid, kind, created_at, account_id)
            VALUES (0, 0, 0, 'mailboxes', now(), \(accountID))
            """, logger: logger)
    }

    static func recordChanges(
        _ connection: PostgresConnection, mailboxID: Int64, modSeq: Int64, uids: [Int64], kind: MailboxChange.Kind,
        _ logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO mailbox_change (mailbox_id, mod_seq, uid, kind, created_at)
            SELECT \(mailboxID), \(modSeq), uid, \(kind.rawValue), now() FROM unnest(\(uids)::bigint[]) AS u(uid)
            """, logger: logger)
    }

    /// Removes the messages (one modseq for all of them), records each in the feed, and removes the
    /// contents nothing else uses any more. The caller holds the mailbox's row lock.
    static func expungeMessages(_ connection: PostgresConnection, uids: [UInt32], mailboxID: Int64, _ logger: Logger)
        async throws -> [UInt32]
    {
        guard !uids.isEmpty else { return [] }
        var removed: [Int64] = []
        var blobs = Set<Int64>()
        for row in try await connection.rows(
            """
            DELETE FROM mailbox_message WHERE mailbox_id = \(mailboxID) AND uid = ANY(\(uids.map(Int64.init)))
            RETURNING uid, message_blob_id
            """, logger)
        {
            let (uid, blob) = try row.decode((Int64, Int64).self)
            removed.append(uid)
            blobs.insert(blob)
        }
        guard !removed.isEmpty else { return [] }
        removed.sort()
        let modSeq = try await Self.bumpModSeq(connection, mailboxID: mailboxID, logger)
        try await Self.recordChanges(connection, mailboxID: mailboxID, modSeq: modSeq, uids: removed, kind: .expunge, logger)
        try await Self.deleteContentsIfUnreferenced(connection, Array(blobs), logger)
        return removed.map { UInt32(truncatingIfNeeded: $0) }
    }

    /// Removes those of `blobs` that no mailbox message and no queued message refers to.
    static func deleteContentsIfUnreferenced(_ connection: PostgresConnection, _ blobs: [Int64], _ logger: Logger) async throws {
        try await connection.query(
            """
            DELETE FROM message_blob b WHERE b.id = ANY(\(blobs))
                AND NOT EXISTS (SELECT 1 FROM mailbox_message m WHERE m.message_blob_id = b.id)
                AND NOT EXISTS (SELECT 1 FROM queue_message q WHERE q.message_blob_id = b.id)
            """, logger: logger)
    }

    static func copyMessages(_ connection: PostgresConnection, uids: [UInt32], from source: Int64, to target: Int64, _ logger: Logger)
        async throws -> [(source: UInt32, copy: UInt32)]
    {
        var pairs: [(source: UInt32, copy: UInt32)] = []
        for row in try await connection.rows(
            """
            SELECT uid, message_blob_id, header_prefix, size, internal_date, flags FROM mailbox_message
            WHERE mailbox_id = \(source) AND uid = ANY(\(uids.map(Int64.init))) ORDER BY uid
            """, logger)
        {
            let (uid, blob, prefix, size, date, flags) = try row.decode((Int64, Int64, Data, Int64, Date, String).self)
            let copy = try await Self.insertMailboxMessage(
                connection, mailboxID: target, blobID: blob, headerPrefix: prefix, size: size, flags: MailStore.flagSet(flags),
                internalDate: date, logger)
            pairs.append((UInt32(truncatingIfNeeded: uid), copy.uid))
        }
        return pairs
    }

    /// `overQuota` (rolling back the caller's transaction) when the account owning the mailbox uses more
    /// than its quota after what was just added, which the usage trigger has counted.
    static func requireWithinQuota(_ connection: PostgresConnection, mailboxID: Int64, _ logger: Logger) async throws {
        guard let row = try await connection.rows(
            """
            SELECT a.address, a.quota_bytes, a.used_bytes FROM mailbox m JOIN account a ON a.id = m.account_id
            WHERE m.id = \(mailboxID)
            """, logger
        ).first else { return }
        let (address, quota, used) = try row.decode((String, Int64?, Int64).self)
        if let quota, used > quota { throw MailStoreError.overQuota(address) }
    }
}
