import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO

/// Mailboxes, their messages and the change feed in PostgreSQL. A transaction that changes a mailbox
/// locks its row first (`FOR UPDATE`, or the `UPDATE … RETURNING` that hands out its next UID and
/// modseq): changes to one mailbox from any host happen one after another, so UIDs and modseqs are
/// handed out once and commit in order, and a listing never sees a UID below one already committed
/// appear later. Transactions that lock two mailboxes lock them in id order, so two moves in opposite
/// directions wait for each other instead of deadlocking.
struct PostgresMailboxes: MailboxBackend {
    let access: PostgresAccess
    var logger: Logger { self.access.logger }

    // MARK: Mailboxes

    func mailboxes(of account: AccountID) async throws(MailStoreError) -> [Mailbox] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT \(unescaped: Self.mailboxColumns) FROM mailbox WHERE account_id = \(account.rawValue) ORDER BY name", logger
            ).map(Self.mailbox(from:))
        }
    }

    func mailbox(named name: String, of account: AccountID) async throws(MailStoreError) -> Mailbox {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(MailboxByNameStatement(account: account.rawValue, name: name), logger).first
            else { throw MailStoreError.unknownMailbox(name) }
            return try Self.mailbox(from: row)
        }
    }

    func insertMailbox(named name: String, of account: AccountID, specialUse: SpecialUse?, now: Date)
        async throws(MailStoreError) -> Mailbox
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard try await connection.rows(
                "SELECT 1 FROM mailbox WHERE account_id = \(account.rawValue) AND name = \(name)", logger
            ).isEmpty else { throw MailStoreError.mailboxExists(name) }
            try await Self.recordMailboxListChange(connection, accountID: account.rawValue, logger)
            try await PostgresDirectory.insertMailbox(
                connection, accountID: account.rawValue, name: name, specialUse: specialUse?.rawValue, now: now, logger)
            return try await Self.fetchMailbox(connection, name: name, accountID: account.rawValue, logger)
        }
    }

    func prepareImportedMailbox(named name: String, of account: AccountID, uidValidity: UInt32, specialUse: SpecialUse?, now: Date)
        async throws(MailStoreError) -> Mailbox
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await connection.query(
                """
                INSERT INTO counter (name, value) VALUES ('uidValidity', \(Int64(uidValidity)))
                ON CONFLICT (name) DO UPDATE SET value = greatest(counter.value, excluded.value)
                """, logger: logger)
            if let row = try await connection.rows(
                "SELECT id, uid_validity, uid_next FROM mailbox WHERE account_id = \(account.rawValue) AND name = \(name) FOR UPDATE", logger
            ).first {
                let (id, existing, next) = try row.decode((Int64, Int64, Int64).self)
                if existing != Int64(uidValidity) {
                    guard next == 1 else {
                        throw MailStoreError.numberingConflict("mailbox \(name) holds mail under UIDVALIDITY \(existing), not \(uidValidity)")
                    }
                    try await connection.query("UPDATE mailbox SET uid_validity = \(Int64(uidValidity)) WHERE id = \(id)", logger: logger)
                }
            } else {
                try await Self.recordMailboxListChange(connection, accountID: account.rawValue, logger)
                try await connection.query(
                    """
                    INSERT INTO mailbox (account_id, name, special_use, uid_validity, uid_next, highest_mod_seq, created_at)
                    VALUES (\(account.rawValue), \(name), \(specialUse?.rawValue), \(Int64(uidValidity)), 1, 1, \(now))
                    """, logger: logger)
            }
            return try await Self.fetchMailbox(connection, name: name, accountID: account.rawValue, logger)
        }
    }

    func raiseUIDNext(of mailbox: MailboxID, to uidNext: UInt32) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            guard try await !connection.rows(
                "UPDATE mailbox SET uid_next = greatest(uid_next, \(Int64(uidNext))) WHERE id = \(mailbox.rawValue) RETURNING id", logger
            ).isEmpty else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
        }
    }

    func mailboxStatus(_ mailbox: MailboxID) async throws(MailStoreError) -> MailboxStatus {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                """
                SELECT \(unescaped: Self.mailboxColumns), message_count, unseen_count, deleted_count, size_bytes,
                    (SELECT count(*) FROM mailbox_message m WHERE m.mailbox_id = mailbox.id AND m.uid >= mailbox.recent_floor)
                FROM mailbox WHERE id = \(mailbox.rawValue)
                """, logger
            ).first else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            let counts = row.makeRandomAccess()
            func count(_ index: Int) throws -> Int64 { try counts[Self.mailboxColumnCount + index].decode(Int64.self) }
            let (messages, unseen, deleted, size, recent) = (try count(0), try count(1), try count(2), try count(3), try count(4))
            return MailboxStatus(
                mailbox: try Self.mailbox(from: row), messages: Int(messages), unseen: Int(unseen), deleted: Int(deleted),
                sizeBytes: size, recent: Int(recent))
        }
    }

    func deletedBytes(in mailbox: MailboxID) async throws(MailStoreError) -> Int64 {
        let logger = self.logger
        return try await self.access.read { connection in
            let rows = try await connection.rows(
                """
                SELECT coalesce(sum(size), 0)::bigint FROM mailbox_message
                WHERE mailbox_id = \(mailbox.rawValue) AND position(' \\Deleted ' IN ' ' || flags || ' ') > 0
                """, logger)
            return try rows.first?.decode(Int64.self) ?? 0
        }
    }

    func claimRecent(in mailbox: MailboxID, below uidLimit: UInt32) async throws(MailStoreError) -> UInt32 {
        let logger = self.logger
        return try await self.access.statement { connection in
            guard let row = try await connection.rows(RecentClaimStatement(mailbox: mailbox.rawValue, below: Int64(uidLimit)), logger).first
            else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            return UInt32(clamping: try row.decode(Int64.self))
        }
    }

    func highestModSeq(of mailbox: MailboxID) async throws(MailStoreError) -> UInt64 {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                "SELECT highest_mod_seq FROM mailbox WHERE id = \(mailbox.rawValue)", logger
            ).first else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            return UInt64(clamping: try row.decode(Int64.self))
        }
    }

    func setSubscribed(_ subscribed: Bool, mailbox name: String, of account: AccountID) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await Self.recordMailboxListChange(connection, accountID: account.rawValue, logger)
            let exists = try await !connection.rows(
                "SELECT 1 FROM mailbox WHERE account_id = \(account.rawValue) AND name = \(name)", logger
            ).isEmpty
            if subscribed {
                // Only an existing mailbox can be subscribed to (RFC 9051 §6.3.7 lets the server check).
                guard exists else { throw MailStoreError.unknownMailbox(name) }
                try await connection.query(
                    "INSERT INTO mailbox_subscription (account_id, name) VALUES (\(account.rawValue), \(name)) ON CONFLICT DO NOTHING",
                    logger: logger)
                return
            }
            let removed = try await connection.rows(
                "DELETE FROM mailbox_subscription WHERE account_id = \(account.rawValue) AND name = \(name) RETURNING name", logger)
            // Unsubscribing a mailbox that exists and was not subscribed is fine; a name that is neither is not.
            guard exists || !removed.isEmpty else { throw MailStoreError.unknownMailbox(name) }
        }
    }

    func subscriptions(of account: AccountID) async throws(MailStoreError) -> [String] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT name FROM mailbox_subscription WHERE account_id = \(account.rawValue) ORDER BY name COLLATE \"C\"", logger
            ).map { try $0.decode(String.self) }
        }
    }

    func deleteMailbox(named name: String, of account: AccountID) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            let mailbox = try await Self.fetchMailbox(connection, name: name, accountID: account.rawValue, lock: true, logger)
            try await Self.recordMailboxListChange(connection, accountID: account.rawValue, logger)
            guard try await connection.rows(
                """
                SELECT 1 FROM mailbox WHERE account_id = \(account.rawValue) AND starts_with(name, \(name + "/")) LIMIT 1
                """, logger
            ).isEmpty else { throw MailStoreError.mailboxHasChildren(name) }
            let uids = try await connection.rows("SELECT uid FROM mailbox_message WHERE mailbox_id = \(mailbox.id.rawValue)", logger)
                .map { UInt32(truncatingIfNeeded: try $0.decode(Int64.self)) }
            // Expunged first, so the change feed tells sessions that still have it selected; then the
            // mailbox's own end for them (`MailboxChange.isMailboxDeletion`).
            _ = try await Self.expungeMessages(connection, uids: uids, mailboxID: mailbox.id.rawValue, logger)
            let modSeq = try await Self.bumpModSeq(connection, mailboxID: mailbox.id.rawValue, logger)
            try await Self.recordChanges(connection, mailboxID: mailbox.id.rawValue, modSeq: modSeq, uids: [0], kind: .expunge, logger)
            try await connection.query("DELETE FROM mailbox WHERE id = \(mailbox.id.rawValue)", logger: logger)
        }
    }

    func renameMailbox(from oldName: String, to newName: String, of account: AccountID, now: Date) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            let mailbox = try await Self.fetchMailbox(connection, name: oldName, accountID: account.rawValue, lock: true, logger)
            try await Self.recordMailboxListChange(connection, accountID: account.rawValue, logger)
            guard try await connection.rows(
                "SELECT 1 FROM mailbox WHERE account_id = \(account.rawValue) AND name = \(newName)", logger
            ).isEmpty else { throw MailStoreError.mailboxExists(newName) }
            if oldName == "INBOX" {
                try await PostgresDirectory.insertMailbox(
                    connection, accountID: account.rawValue, name: newName, specialUse: nil, now: now, logger)
                let target = try await Self.fetchMailbox(connection, name: newName, accountID: account.rawValue, logger)
                let uids = try await connection.rows(
                    "SELECT uid FROM mailbox_message WHERE mailbox_id = \(mailbox.id.rawValue) ORDER BY uid", logger
                ).map { UInt32(truncatingIfNeeded: try $0.decode(Int64.self)) }
                _ = try await Self.copyMessages(connection, uids: uids, from: mailbox.id.rawValue, to: target.id.rawValue, logger)
                _ = try await Self.expungeMessages(connection, uids: uids, mailboxID: mailbox.id.rawValue, logger)
                return
            }
            let children = try await connection.rows(
                """
                SELECT id, name FROM mailbox WHERE account_id = \(account.rawValue) AND starts_with(name, \(oldName + "/"))
                FOR UPDATE
                """, logger)
            for child in children {
                let (id, childName) = try child.decode((Int64, String).self)
                let renamed = newName + childName.dropFirst(oldName.count)
                guard try await connection.rows(
                    "SELECT 1 FROM mailbox WHERE account_id = \(account.rawValue) AND name = \(renamed)", logger
                ).isEmpty else { throw MailStoreError.mailboxExists(renamed) }
                try await connection.query("UPDATE mailbox SET name = \(renamed) WHERE id = \(id)", logger: logger)
            }
            try await connection.query("UPDATE mailbox SET name = \(newName) WHERE id = \(mailbox.id.rawValue)", logger: logger)
            // The subscriptions of the mailbox and those below it follow their names.
            let moved = try await connection.rows(
                """
                DELETE FROM mailbox_subscription
                WHERE account_id = \(account.rawValue) AND (name = \(oldName) OR starts_with(name, \(oldName + "/")))
                RETURNING name
                """, logger
            ).map { try $0.decode(String.self) }
            for name in moved {
                let renamed = newName + name.dropFirst(oldName.count)
                try await connection.query(
                    "INSERT INTO mailbox_subscription (account_id, name) VALUES (\(account.rawValue), \(renamed)) ON CONFLICT DO NOTHING",
                    logger: logger)
            }
        }
    }

    static let mailboxColumns = """
        id, account_id, name, special_use,
        EXISTS (SELECT 1 FROM mailbox_subscription s WHERE s.account_id = mailbox.account_id AND s.name = mailbox.name),
        uid_validity, uid_next, highest_mod_seq, recent_floor
        """
    static let mailboxColumnCount = 9

    static func mailbox(from row: PostgresRow) throws -> Mailbox {
        let (id, account, name, specialUse, subscribed, uidValidity, uidNext, highestModSeq, recentFloor) = try row.decode(
            (Int64, Int64, String, String?, Bool, Int64, Int64, Int64, Int64).self)
        return Mailbox(
            id: MailboxID(id), accountID: AccountID(account), name: name, specialUse: specialUse.flatMap(SpecialUse.init(rawValue:)),
            subscribed: subscribed, uidValidity: UInt32(clamping: uidValidity), uidNext: UInt32(clamping: uidNext),
            highestModSeq: UInt64(clamping: highestModSeq), recentFloor: UInt32(clamping: recentFloor))
    }

    static func fetchMailbox(
        _ connection: PostgresConnection, name: String, accountID: Int64, lock: Bool = false, _ logger: Logger
    ) async throws -> Mailbox {
        guard let row = try await connection.rows(
            """
            SELECT \(unescaped: Self.mailboxColumns) FROM mailbox WHERE account_id = \(accountID) AND name = \(name)
            \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger
        ).first else { throw MailStoreError.unknownMailbox(name) }
        return try Self.mailbox(from: row)
    }

    // MARK: The change feed

    /// The cursor is a transaction id: the xmin of the snapshot this read saw (every transaction below it
    /// had finished). Entries written by transactions at or above the cursor are read again; some were
    /// read before, which costs a caller an extra look at a mailbox, never a missed change. Distinct
    /// mailboxes, not entries, are read, so a transaction with more entries than `limit` cannot hold a
    /// reader in place.
    func mailboxesChanged(after change: Int64, limit: Int) async throws(MailStoreError) -> FeedChanges {
        let logger = self.logger
        return try await self.access.read { connection in
            // A message entry's account is its mailbox's; a deleted mailbox's last entries find no row,
            // but its deletion also wrote an entry of kind 'mailboxes' naming the account.
            let rows = try await connection.rows(
                """
                SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, NULL::bigint, NULL::bigint
                UNION ALL
                SELECT NULL, c.mailbox_id, coalesce(c.account_id, m.account_id)
                FROM mailbox_change c LEFT JOIN mailbox m ON m.id = c.mailbox_id
                WHERE c.xid >= \(String(max(change, 0)))::xid8 GROUP BY 2, 3
                """, logger)
            var latest = change
            var mailboxes = Set<MailboxID>()
            var accounts = Set<AccountID>()
            for row in rows {
                let (horizon, mailbox, account) = try row.decode((Int64?, Int64?, Int64?).self)
                if let horizon { latest = max(latest, horizon) }
                if let mailbox, mailbox != 0 { mailboxes.insert(MailboxID(mailbox)) }
                if let account { accounts.insert(AccountID(account)) }
            }
            return FeedChanges(latest: latest, mailboxes: mailboxes, accounts: accounts)
        }
    }

    /// The xmin of the current snapshot (see `mailboxesChanged`).
    func latestChange() async throws(MailStoreError) -> Int64 {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", logger).first
            else { throw MailStoreError.unavailable("no snapshot") }
            return try row.decode(Int64.self)
        }
    }

    func changes(in mailbox: MailboxID, since modSeq: UInt64, limit: Int) async throws(MailStoreError) -> [MailboxChange] {
        let logger = self.logger
        let since = Int64(clamping: modSeq)
        return try await self.access.read { connection in
            let rows = try await connection.rows(
                MailboxChangesStatement(mailbox: mailbox.rawValue, since: since, limit: PostgresDirectory.clamped(limit)), logger)
            var changes: [MailboxChange] = []
            for row in rows {
                let (modSeq, uid, kindName) = try row.decode((Int64, Int64, String).self)
                if kindName == "pruned" { throw MailStoreError.changeFeedPruned(String(mailbox.rawValue)) }
                guard let kind = MailboxChange.Kind(rawValue: kindName) else { continue }
                changes.append(MailboxChange(modSeq: UInt64(clamping: modSeq), uid: UInt32(truncatingIfNeeded: uid), kind: kind))
            }
            return changes
        }
    }
}
