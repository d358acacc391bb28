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
            try await Self.fetchMailbox(connection, name: name, accountID: account.rawValue, logger)
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
            try await PostgresDirectory.insertMailbox(
                connection, accountID: account.rawValue, name: name, specialUse: specialUse?.rawValue, now: now, logger)
            return try await Self.fetchMailbox(connection, name: name, accountID: account.rawValue, logger)
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

    func claimRecent(in mailbox: MailboxID, below uidLimit: UInt32) async throws(MailStoreError) -> UInt32 {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard let row = try await connection.rows(
                "SELECT recent_floor FROM mailbox WHERE id = \(mailbox.rawValue) FOR UPDATE", logger
            ).first else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            let floor = try row.decode(Int64.self)
            if floor < Int64(uidLimit) {
                try await connection.query(
                    "UPDATE mailbox SET recent_floor = \(Int64(uidLimit)) WHERE id = \(mailbox.rawValue)", logger: logger)
            }
            return UInt32(clamping: floor)
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
            guard try await !connection.rows(
                """
                UPDATE mailbox SET subscribed = \(subscribed) WHERE account_id = \(account.rawValue) AND name = \(name)
                RETURNING id
                """, logger
            ).isEmpty else { throw MailStoreError.unknownMailbox(name) }
        }
    }

    func deleteMailbox(named name: String, of account: AccountID) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            let mailbox = try await Self.fetchMailbox(connection, name: name, accountID: account.rawValue, lock: true, logger)
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
        }
    }

    static let mailboxColumns =
        "id, account_id, name, special_use, subscribed, uid_validity, uid_next, highest_mod_seq, recent_floor"
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
    func mailboxesChanged(after change: Int64, limit: Int) async throws(MailStoreError) -> (latest: Int64, mailboxes: Set<MailboxID>) {
        let logger = self.logger
        return try await self.access.read { connection in
            let rows = try await connection.rows(
                """
                SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, NULL::bigint
                UNION ALL
                SELECT NULL, mailbox_id FROM mailbox_change WHERE xid >= \(String(max(change, 0)))::xid8 GROUP BY mailbox_id
                """, logger)
            var latest = change
            var mailboxes = Set<MailboxID>()
            for row in rows {
                let (horizon, mailbox) = try row.decode((Int64?, Int64?).self)
                if let horizon { latest = max(latest, horizon) }
                if let mailbox { mailboxes.insert(MailboxID(mailbox)) }
            }
            return (latest, mailboxes)
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
            // One statement, one snapshot: the entries, and a row of kind `pruned` when entries above
            // `modSeq` may have been pruned.
            let rows = try await connection.rows(
                """
                SELECT change_floor, 0::bigint, 'pruned' FROM mailbox WHERE id = \(mailbox.rawValue) AND change_floor > \(since)
                UNION ALL
                (SELECT mod_seq, uid, kind FROM mailbox_change WHERE mailbox_id = \(mailbox.rawValue) AND mod_seq > \(since)
                 ORDER BY mod_seq, id LIMIT \(PostgresDirectory.clamped(limit)))
                """, logger)
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

    // MARK: Messages

    func appendMessage(_ content: Data, to mailbox: MailboxID, flags: Set<String>, internalDate: Date)
        async throws(MailStoreError) -> StoredMessage
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            let blob = try await Self.insertContent(connection, content, now: internalDate, logger)
            let stored = try await Self.insertMailboxMessage(
                connection, mailboxID: mailbox.rawValue, blobID: blob, headerPrefix: Data(), size: Int64(content.count),
                flags: flags, internalDate: internalDate, logger)
            try await Self.requireWithinQuota(connection, mailboxID: mailbox.rawValue, logger)
            return stored
        }
    }

    func messages(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [StoredMessage] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT \(unescaped: Self.messageColumns()) FROM mailbox_message
                WHERE mailbox_id = \(mailbox.rawValue) AND uid BETWEEN \(Int64(uids.lowerBound)) AND \(Int64(uids.upperBound))
                ORDER BY uid
                """, logger
            ).map(Self.storedMessage(from:))
        }
    }

    func messageFlags(in mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, flags: Set<String>)] {
        let logger = self.logger
        return try await self.access.read { connection in
            var result: [(uid: UInt32, flags: Set<String>)] = []
            // Neighbouring messages mostly have the same flags: they share one set.
            var lastText = ""
            var lastFlags: Set<String> = []
            for row in try await connection.rows(
                "SELECT uid, flags FROM mailbox_message WHERE mailbox_id = \(mailbox.rawValue) ORDER BY uid", logger)
            {
                let (uid, text) = try row.decode((Int64, String).self)
                if text != lastText {
                    lastText = text
                    lastFlags = MailStore.flagSet(text)
                }
                result.append((UInt32(clamping: uid), lastFlags))
            }
            return result
        }
    }

    func messagesWithContent(in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64)
        async throws(MailStoreError) -> [(message: StoredMessage, content: Data?)]
    {
        if content == .omitted {
            return try await self.messages(in: mailbox, uids: uids).map { ($0, nil) }
        }
        let logger = self.logger
        return try await self.access.read { connection in
            var result: [(message: StoredMessage, content: Data?)] = []
            for row in try await Self.listing(connection, mailbox, uids, header: content == .header, largest: largest, logger) {
                let (message, prefix, stored, blob, layout) = try Self.listed(row)
                guard let stored, !(layout == "chunks" && message.size > largest) else {
                    // Over `largest`: left unread, to be read a piece at a time.
                    result.append((message, nil))
                    continue
                }
                let whole = try await Self.storedContent(connection, blobID: blob, layout: layout, inline: stored, logger)
                result.append((message, prefix.isEmpty ? whole : prefix + whole))
            }
            return result
        }
    }

    func messages(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, headerOnly: Bool, largest: Int64,
        whoseContent matches: @escaping @Sendable (StoredMessage, Data) -> Bool
    ) async throws(MailStoreError) -> (matched: [UInt32], unread: [StoredMessage]) {
        let logger = self.logger
        return try await self.access.read { connection in
            var matched: [UInt32] = []
            var unread: [StoredMessage] = []
            for row in try await Self.listing(connection, mailbox, uids, header: headerOnly, largest: largest, logger) {
                let (message, prefix, stored, blob, layout) = try Self.listed(row)
                if !headerOnly, message.size > largest {
                    unread.append(message)
                    continue
                }
                let whole = try await Self.storedContent(connection, blobID: blob, layout: layout, inline: stored ?? Data(), logger)
                if matches(message, prefix.isEmpty ? whole : prefix + whole) { matched.append(message.uid) }
            }
            return (matched, unread)
        }
    }

    func messageContents(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [UInt32: Data] {
        let logger = self.logger
        return try await self.access.read { connection in
            var contents: [UInt32: Data] = [:]
            for row in try await Self.listing(connection, mailbox, uids, header: false, largest: .max, logger) {
                let (message, prefix, stored, blob, layout) = try Self.listed(row)
                let whole = try await Self.storedContent(connection, blobID: blob, layout: layout, inline: stored ?? Data(), logger)
                contents[message.uid] = prefix + whole
            }
            return contents
        }
    }

    /// Only when a flag changes does a message get a new modseq; all changed messages of one call share
    /// one. Committed without waiting for the disk, as the SQLite backend does.
    func changeFlags(_ update: FlagUpdate, in mailbox: MailboxID, uids: [UInt32]) async throws(MailStoreError) -> FlagChange {
        let logger = self.logger
        return try await self.access.transaction(durable: false) { connection in
            guard let row = try await connection.rows(
                "SELECT highest_mod_seq FROM mailbox WHERE id = \(mailbox.rawValue) FOR UPDATE", logger
            ).first else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            let before = try row.decode(Int64.self)
            var current: [UInt32: StoredMessage] = [:]
            for row in try await connection.rows(
                """
                SELECT \(unescaped: Self.messageColumns()) FROM mailbox_message
                WHERE mailbox_id = \(mailbox.rawValue) AND uid = ANY(\(uids.map(Int64.init)))
                """, logger)
            {
                let message = try Self.storedMessage(from: row)
                current[message.uid] = message
            }
            var changedUIDs: [Int64] = []
            var changedFlags: [String] = []
            var next: [UInt32: Set<String>] = [:]
            for (uid, message) in current {
                let flags: Set<String>
                switch update {
                case .replace(let replacement): flags = replacement
                case .add(let added): flags = message.flags.union(added)
                case .remove(let removed): flags = message.flags.subtracting(removed)
                }
                let text = MailStore.flagString(flags)
                guard text != MailStore.flagString(message.flags) else { continue }
                changedUIDs.append(Int64(uid))
                changedFlags.append(text)
                next[uid] = MailStore.flagSet(text)
            }
            var after = before
            if !changedUIDs.isEmpty {
                after = try await Self.bumpModSeq(connection, mailboxID: mailbox.rawValue, logger)
                try await connection.query(
                    """
                    UPDATE mailbox_message m SET flags = c.flags, mod_seq = \(after)
                    FROM unnest(\(changedUIDs)::bigint[], \(changedFlags)::text[]) AS c(uid, flags)
                    WHERE m.mailbox_id = \(mailbox.rawValue) AND m.uid = c.uid
                    """, logger: logger)
                try await Self.recordChanges(
                    connection, mailboxID: mailbox.rawValue, modSeq: after, uids: changedUIDs.sorted(), kind: .flags, logger)
            }
            // In the order asked for, as they are now.
            var seen = Set<UInt32>()
            let messages = uids.compactMap { uid -> StoredMessage? in
                guard seen.insert(uid).inserted, let message = current[uid] else { return nil }
                guard let flags = next[uid] else { return message }
                return StoredMessage(
                    uid: uid, size: message.size, internalDate: message.internalDate, flags: flags, modSeq: UInt64(after))
            }
            return FlagChange(messages: messages, modSeqBefore: UInt64(before), modSeqAfter: UInt64(after))
        }
    }

    func expunge(uids: [UInt32], in mailbox: MailboxID) async throws(MailStoreError) -> [UInt32] {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard try await !connection.rows("SELECT 1 FROM mailbox WHERE id = \(mailbox.rawValue) FOR UPDATE", logger).isEmpty
            else { return [] }
            return try await Self.expungeMessages(connection, uids: uids, mailboxID: mailbox.rawValue, logger)
        }
    }

    func copyMessages(uids: [UInt32], from source: MailboxID, to target: MailboxID, move: Bool)
        async throws(MailStoreError) -> [(source: UInt32, copy: UInt32)]
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await connection.query(
                "SELECT id FROM mailbox WHERE id = ANY(\([source.rawValue, target.rawValue])) ORDER BY id FOR UPDATE", logger: logger)
            let pairs = try await Self.copyMessages(connection, uids: uids, from: source.rawValue, to: target.rawValue, logger)
            if move {
                // Within one account: what the copies add, the expunge takes away.
                _ = try await Self.expungeMessages(connection, uids: pairs.map(\.source), mailboxID: source.rawValue, logger)
            } else if !pairs.isEmpty {
                try await Self.requireWithinQuota(connection, mailboxID: target.rawValue, logger)
            }
            return pairs
        }
    }

    func storedContents() async throws(MailStoreError) -> (count: Int, bytes: Int64) {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows("SELECT count(*), coalesce(sum(size), 0)::bigint FROM message_blob", logger).first
            else { return (0, 0) }
            let (count, bytes) = try row.decode((Int64, Int64).self)
            return (Int(count), bytes)
        }
    }

    // MARK: POP3 maildrop leases (RFC 1939 §8)

    func lockMaildrop(of account: AccountID, owner: String, until expiresAt: Date, now: Date) async throws(MailStoreError) -> Bool {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await !connection.rows(
                """
                INSERT INTO maildrop_lock (account_id, owner, expires_at) VALUES (\(account.rawValue), \(owner), \(expiresAt))
                ON CONFLICT (account_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                WHERE maildrop_lock.owner = excluded.owner OR maildrop_lock.expires_at <= \(now)
                RETURNING account_id
                """, logger
            ).isEmpty
        }
    }

    func maildropListing(of mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, size: Int64)] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT uid, size FROM mailbox_message WHERE mailbox_id = \(mailbox.rawValue) ORDER BY uid", logger
            ).map { row in
                let (uid, size) = try row.decode((Int64, Int64).self)
                return (UInt32(clamping: uid), size)
            }
        }
    }

    func unlockMaildrop(of account: AccountID, owner: String) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await connection.query(
                "DELETE FROM maildrop_lock WHERE account_id = \(account.rawValue) AND owner = \(owner)", logger: logger)
        }
    }

    func expungeMaildrop(uids: [UInt32], in mailbox: MailboxID, account: AccountID, owner: String, now: Date)
        async throws(MailStoreError) -> [UInt32]
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            // The lease row locked first: a session taking the lease over waits for this UPDATE to end.
            guard try await !connection.rows(
                """
                SELECT 1 FROM maildrop_lock WHERE account_id = \(account.rawValue) AND owner = \(owner) AND expires_at > \(now)
                FOR UPDATE
                """, logger
            ).isEmpty else { throw MailStoreError.maildropLockLost }
            guard try await !connection.rows("SELECT 1 FROM mailbox WHERE id = \(mailbox.rawValue) FOR UPDATE", logger).isEmpty
            else { return [] }
            return try await Self.expungeMessages(connection, uids: uids, mailboxID: mailbox.rawValue, logger)
        }
    }

    // MARK: Inside transactions

    /// The columns `storedMessage(from:)` reads, in its order.
    static func messageColumns(_ prefix: String = "") -> String {
        "\(prefix)uid, \(prefix)size, \(prefix)internal_date, \(prefix)flags, \(prefix)mod_seq"
    }

    /// The date to the millisecond, as the SQLite file keeps it, so that both backends give the same.
    static func storedMessage(from row: PostgresRow) throws -> StoredMessage {
        let (uid, size, date, flags, modSeq) = try row.decode((Int64, Int64, Date, String, Int64).self)
        return StoredMessage(
            uid: UInt32(clamping: uid), size: size,
            internalDate: Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000),
            flags: MailStore.flagSet(flags), modSeq: UInt64(clamping: modSeq))
    }

    static func listed(_ row: PostgresRow) throws -> (StoredMessage, prefix: Data, stored: Data?, blob: Int64, layout: String) {
        let (_, _, _, _, _, prefix, stored, blob, layout) = try row.decode(
            (Int64, Int64, Date, String, Int64, Data, Data?, Int64, String).self)
        return (try Self.storedMessage(from: row), prefix, stored, blob, layout)
    }

    /// Messages in `uids` with, after the listing columns: added header lines, the stored content
    /// (only the header section when `header`; NULL when larger than `largest`), its id and layout.
    static func listing(
        _ connection: PostgresConnection, _ mailbox: MailboxID, _ uids: ClosedRange<UInt32>, header: Bool, largest: Int64,
        _ logger: Logger
    ) async throws -> [PostgresRow] {
        if header {
            return try await connection.rows(
                """
                SELECT \(unescaped: Self.messageColumns("m.")), m.header_prefix, h.header, m.message_blob_id, 'inline'
                FROM mailbox_message m JOIN message_header h ON h.message_blob_id = m.message_blob_id
                WHERE m.mailbox_id = \(mailbox.rawValue) AND m.uid BETWEEN \(Int64(uids.lowerBound)) AND \(Int64(uids.upperBound))
                ORDER BY m.uid
                """, logger)
        }
        return try await connection.rows(
            """
            SELECT \(unescaped: Self.messageColumns("m.")), m.header_prefix, CASE WHEN b.size <= \(largest) THEN b.content END,
                b.id, b.layout
            FROM mailbox_message m JOIN message_blob b ON b.id = m.message_blob_id
            WHERE m.mailbox_id = \(mailbox.rawValue) AND m.uid BETWEEN \(Int64(uids.lowerBound)) AND \(Int64(uids.upperBound))
            ORDER BY m.uid
            """, logger)
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
        guard let row = try await connection.rows(
            """
            INSERT INTO message_blob (layout, content, size, created_at) VALUES ('inline', \(content), \(Int64(content.count)), \(now))
            RETURNING id
            """, logger
        ).first else { throw MailStoreError.unavailable("storing a content gave no id") }
        let blob = try row.decode(Int64.self)
        let header = content.prefix(MIMEParser.headerLength(of: content))
        try await connection.query(
            "INSERT INTO message_header (message_blob_id, header) VALUES (\(blob), \(Data(header)))", logger: logger)
        return blob
    }

    /// Gives the message the mailbox's next UID and modseq (one `UPDATE … RETURNING`, which locks the
    /// mailbox row until commit) and records the append in the feed.
    static func insertMailboxMessage(
        _ connection: PostgresConnection, mailboxID: Int64, blobID: Int64, headerPrefix: Data, size: Int64, flags: Set<String>,
        internalDate: Date, _ logger: Logger
    ) async throws -> StoredMessage {
        guard let row = try await connection.rows(
            """
            UPDATE mailbox SET uid_next = uid_next + 1, highest_mod_seq = highest_mod_seq + 1
            WHERE id = \(mailboxID) AND uid_next < \(Int64(UInt32.max))
            RETURNING uid_next - 1, highest_mod_seq
            """, logger
        ).first else {
            guard try await connection.rows("SELECT 1 FROM mailbox WHERE id = \(mailboxID)", logger).isEmpty else {
                throw MailStoreError.unavailable("mailbox \(mailboxID) ran out of UIDs")
            }
            throw MailStoreError.unknownMailbox(String(mailboxID))
        }
        let (uid, modSeq) = try row.decode((Int64, Int64).self)
        try await connection.query(
            """
            INSERT INTO mailbox_message (mailbox_id, uid, message_blob_id, header_prefix, size, internal_date, flags, mod_seq)
            VALUES (\(mailboxID), \(uid), \(blobID), \(headerPrefix), \(size), \(internalDate), \(MailStore.flagString(flags)), \(modSeq))
            """, logger: logger)
        try await Self.recordChanges(connection, mailboxID: mailboxID, modSeq: modSeq, uids: [uid], kind: .append, logger)
        return StoredMessage(uid: UInt32(uid), size: size, internalDate: internalDate, flags: flags, modSeq: UInt64(modSeq))
    }

    static func bumpModSeq(_ connection: PostgresConnection, mailboxID: Int64, _ logger: Logger) async throws -> Int64 {
        guard let row = try await connection.rows(
            "UPDATE mailbox SET highest_mod_seq = highest_mod_seq + 1 WHERE id = \(mailboxID) RETURNING highest_mod_seq", logger
        ).first else { throw MailStoreError.unknownMailbox(String(mailboxID)) }
        return try row.decode(Int64.self)
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
