import MailFormat
import Foundation
import GRDB

/// Mailboxes, their messages and the change feed in the SQLite file. Its single writer makes UID and
/// modseq allocation (read, then update, in one IMMEDIATE transaction) safe across processes.
struct SQLiteMailboxes: MailboxBackend {
    let access: SQLiteAccess
    /// APPEND's group commit.
    let appends: GroupCommit<AppendWork, StoredMessage>

    /// APPEND's group commit (mailboxes and contents share it: whole contents and uploads alike).
    static func makeAppends() -> GroupCommit<AppendWork, StoredMessage> {
        GroupCommit<AppendWork, StoredMessage> { db, work in
            let (blobID, size) = try MailStore.insertContent(db, work.content, now: work.internalDate)
            let stored = try MailStore.insertMailboxMessage(
                db, mailboxID: work.mailbox.rawValue, blobID: blobID, headerPrefix: Data(), size: Int64(size),
                flags: work.flags, internalDate: work.internalDate)
            // Inside the append's savepoint: over the quota, this append alone is undone.
            try MailStore.requireWithinQuota(db, mailboxID: work.mailbox.rawValue)
            return stored
        }
    }

    func mailboxes(of account: AccountID) async throws(MailStoreError) -> [Mailbox] {
        try await self.access.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(MailStore.mailboxColumns) FROM mailbox WHERE accountId = ? ORDER BY name", arguments: [account.rawValue])
                .map(MailStore.mailbox(from:))
        }
    }

    func mailbox(named name: String, of account: AccountID) async throws(MailStoreError) -> Mailbox {
        try await self.access.read { db in try MailStore.fetchMailbox(db, name: name, accountID: account.rawValue) }
    }

    func insertMailbox(named name: String, of account: AccountID, specialUse: SpecialUse?, now: Date)
        async throws(MailStoreError) -> Mailbox
    {
        try await self.access.write { db in
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM mailbox WHERE accountId = ? AND name = ?", arguments: [account.rawValue, name])
                == true
            {
                throw MailStoreError.mailboxExists(name)
            }
            try MailStore.recordMailboxListChange(db, accountID: account.rawValue)
            try MailStore.insertMailbox(db, accountID: account.rawValue, name: name, specialUse: specialUse, now: now)
            return try MailStore.fetchMailbox(db, name: name, accountID: account.rawValue)
        }
    }

    func prepareImportedMailbox(named name: String, of account: AccountID, uidValidity: UInt32, specialUse: SpecialUse?, now: Date)
        async throws(MailStoreError) -> Mailbox
    {
        try await self.access.write { db in
            _ = try db.nextCounterValue("uidValidity", atLeast: Int64(uidValidity))
            if let row = try Row.fetchOne(
                db, sql: "SELECT id, uidValidity, uidNext FROM mailbox WHERE accountId = ? AND name = ?",
                arguments: [account.rawValue, name])
            {
                let (id, existing, next): (Int64, Int64, Int64) = (row["id"], row["uidValidity"], row["uidNext"])
                if existing != Int64(uidValidity) {
                    guard next == 1 else {
                        throw MailStoreError.numberingConflict("mailbox \(name) holds mail under UIDVALIDITY \(existing), not \(uidValidity)")
                    }
                    try db.execute(sql: "UPDATE mailbox SET uidValidity = ? WHERE id = ?", arguments: [Int64(uidValidity), id])
                }
            } else {
                try MailStore.recordMailboxListChange(db, accountID: account.rawValue)
                try db.execute(
                    sql: """
                        INSERT INTO mailbox(accountId, name, specialUse, uidValidity, uidNext, highestModSeq, createdAt)
                        VALUES (?, ?, ?, ?, 1, 1, ?)
                        """, arguments: [account.rawValue, name, specialUse?.rawValue, Int64(uidValidity), now])
            }
            return try MailStore.fetchMailbox(db, name: name, accountID: account.rawValue)
        }
    }

    func raiseUIDNext(of mailbox: MailboxID, to uidNext: UInt32) async throws(MailStoreError) {
        try await self.access.write { db in
            try db.execute(
                sql: "UPDATE mailbox SET uidNext = max(uidNext, ?) WHERE id = ?", arguments: [Int64(uidNext), mailbox.rawValue])
            guard db.changesCount == 1 else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
        }
    }

    func mailboxStatus(_ mailbox: MailboxID) async throws(MailStoreError) -> MailboxStatus {
        try await self.access.read { db in
            // The recent count is an index range: only the messages at or above the floor are counted.
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT \(MailStore.mailboxColumns),
                        (SELECT count(*) FROM mailboxMessage m WHERE m.mailboxId = mailbox.id AND m.uid >= mailbox.recentFloor)
                        AS recentCount
                    FROM mailbox WHERE id = ?
                    """), arguments: [mailbox.rawValue])
            else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            return MailboxStatus(
                mailbox: MailStore.mailbox(from: row), messages: row["messageCount"], unseen: row["unseenCount"],
                deleted: row["deletedCount"], sizeBytes: row["sizeBytes"], recent: row["recentCount"])
        }
    }

    func deletedBytes(in mailbox: MailboxID) async throws(MailStoreError) -> Int64 {
        try await self.access.read { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: """
                    SELECT coalesce(sum(size), 0) FROM mailboxMessage
                    WHERE mailboxId = ? AND ' ' || flags || ' ' LIKE '% \\Deleted %' ESCAPE '!'
                    """), arguments: [mailbox.rawValue]) ?? 0
        }
    }

    func claimRecent(in mailbox: MailboxID, below uidLimit: UInt32) async throws(MailStoreError) -> UInt32 {
        try await self.access.write { db in
            guard let floor = try Int64.fetchOne(
                db, sql: "SELECT recentFloor FROM mailbox WHERE id = ?", arguments: [mailbox.rawValue])
            else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            if floor < Int64(uidLimit) {
                try db.execute(
                    sql: "UPDATE mailbox SET recentFloor = ? WHERE id = ?", arguments: [Int64(uidLimit), mailbox.rawValue])
            }
            return UInt32(clamping: floor)
        }
    }

    func highestModSeq(of mailbox: MailboxID) async throws(MailStoreError) -> UInt64 {
        try await self.access.read { db in
            guard let value = try Int64.fetchOne(
                db, sql: "SELECT highestModSeq FROM mailbox WHERE id = ?", arguments: [mailbox.rawValue])
            else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            return UInt64(value)
        }
    }

    func setSubscribed(_ subscribed: Bool, mailbox name: String, of account: AccountID) async throws(MailStoreError) {
        try await self.access.write { db in
            try MailStore.recordMailboxListChange(db, accountID: account.rawValue)
            if subscribed {
                // Only an existing mailbox can be subscribed to (RFC 9051 §6.3.7 lets the server check).
                guard try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM mailbox WHERE accountId = ? AND name = ?", arguments: [account.rawValue, name]) == true
                else { throw MailStoreError.unknownMailbox(name) }
                try db.execute(
                    sql: "INSERT OR IGNORE INTO mailboxSubscription(accountId, name) VALUES (?, ?)", arguments: [account.rawValue, name])
                return
            }
            try db.execute(sql: "DELETE FROM mailboxSubscription WHERE accountId = ? AND name = ?", arguments: [account.rawValue, name])
            // Unsubscribing a mailbox that exists and was not subscribed is fine; a name that is neither is not.
            if db.changesCount == 0, try Bool.fetchOne(
                db, sql: "SELECT 1 FROM mailbox WHERE accountId = ? AND name = ?", arguments: [account.rawValue, name]) != true
            {
                throw MailStoreError.unknownMailbox(name)
            }
        }
    }

    func subscriptions(of account: AccountID) async throws(MailStoreError) -> [String] {
        try await self.access.read { db in
            try String.fetchAll(
                db, sql: "SELECT name FROM mailboxSubscription WHERE accountId = ? ORDER BY name", arguments: [account.rawValue])
        }
    }

    func deleteMailbox(named name: String, of account: AccountID) async throws(MailStoreError) {
        try await self.access.write { db in
            try MailStore.recordMailboxListChange(db, accountID: account.rawValue)
            let mailbox = try MailStore.fetchMailbox(db, name: name, accountID: account.rawValue)
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM mailbox WHERE accountId = ? AND substr(name, 1, ?) = ?",
                arguments: [account.rawValue, name.count + 1, name + "/"]) == true
            {
                throw MailStoreError.mailboxHasChildren(name)
            }
            let uids = try Int64.fetchAll(
                db, sql: "SELECT uid FROM mailboxMessage WHERE mailboxId = ?", arguments: [mailbox.id.rawValue])
            // Expunged one by one first, so the change feed tells sessions that still have it selected
            // and the usage triggers see the mailbox row.
            _ = try MailStore.expungeMessages(db, uids: uids.map { UInt32(truncatingIfNeeded: $0) }, mailboxID: mailbox.id.rawValue)
            // Then the mailbox's own end, for those sessions (`MailboxChange.isMailboxDeletion`).
            try MailStore.recordChange(
                db, mailboxID: mailbox.id.rawValue, modSeq: try MailStore.bumpModSeq(db, mailboxID: mailbox.id.rawValue), uid: 0,
                kind: .expunge)
            try db.execute(sql: "DELETE FROM mailbox WHERE id = ?", arguments: [mailbox.id.rawValue])
        }
    }

    func renameMailbox(from oldName: String, to newName: String, of account: AccountID, now: Date)
        async throws(MailStoreError)
    {
        try await self.access.write { db in
            let mailbox = try MailStore.fetchMailbox(db, name: oldName, accountID: account.rawValue)
            try MailStore.recordMailboxListChange(db, accountID: account.rawValue)
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM mailbox WHERE accountId = ? AND name = ?", arguments: [account.rawValue, newName]) == true
            {
                throw MailStoreError.mailboxExists(newName)
            }
            if oldName == "INBOX" {
                try MailStore.insertMailbox(db, accountID: account.rawValue, name: newName, specialUse: nil, now: now)
                let target = try MailStore.fetchMailbox(db, name: newName, accountID: account.rawValue)
                let uids = try Int64.fetchAll(
                    db, sql: "SELECT uid FROM mailboxMessage WHERE mailboxId = ? ORDER BY uid", arguments: [mailbox.id.rawValue])
                    .map { UInt32(truncatingIfNeeded: $0) }
                _ = try MailStore.copyMessages(db, uids: uids, from: mailbox.id.rawValue, to: target.id.rawValue)
                _ = try MailStore.expungeMessages(db, uids: uids, mailboxID: mailbox.id.rawValue)
                return
            }
            let children = try Row.fetchAll(
                db, sql: "SELECT id, name FROM mailbox WHERE accountId = ? AND substr(name, 1, ?) = ?",
                arguments: [account.rawValue, oldName.count + 1, oldName + "/"])
            for child in children {
                let childName: String = child["name"]
                let renamed = newName + childName.dropFirst(oldName.count)
                if try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM mailbox WHERE accountId = ? AND name = ?", arguments: [account.rawValue, renamed]) == true
                {
                    throw MailStoreError.mailboxExists(renamed)
                }
                try db.execute(sql: "UPDATE mailbox SET name = ? WHERE id = ?", arguments: [renamed, child["id"] as Int64])
            }
            try db.execute(sql: "UPDATE mailbox SET name = ? WHERE id = ?", arguments: [newName, mailbox.id.rawValue])
            // The subscriptions of the mailbox and those below it follow their names.
            let moved = try String.fetchAll(
                db, sql: "SELECT name FROM mailboxSubscription WHERE accountId = ? AND (name = ? OR substr(name, 1, ?) = ?)",
                arguments: [account.rawValue, oldName, oldName.count + 1, oldName + "/"])
            for name in moved {
                try db.execute(sql: "DELETE FROM mailboxSubscription WHERE accountId = ? AND name = ?", arguments: [account.rawValue, name])
                try db.execute(
                    sql: "INSERT OR IGNORE INTO mailboxSubscription(accountId, name) VALUES (?, ?)",
                    arguments: [account.rawValue, newName + name.dropFirst(oldName.count)])
            }
        }
    }

    func mailboxesChanged(after change: Int64, limit: Int) async throws(MailStoreError) -> FeedChanges {
        try await self.access.read { db in
            // A message entry's account is its mailbox's; a deleted mailbox's last entries find no row,
            // but its deletion also wrote an entry of kind 'mailboxes' naming the account.
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: """
                    SELECT c.id, c.mailboxId, coalesce(c.accountId, m.accountId)
                    FROM (SELECT id, mailboxId, accountId FROM mailboxChange WHERE id > ? ORDER BY id LIMIT ?) c
                    LEFT JOIN mailbox m ON m.id = c.mailboxId
                    ORDER BY c.id
                    """),
                arguments: [change, limit])
            var latest = change
            var mailboxes = Set<MailboxID>()
            var accounts = Set<AccountID>()
            while let row = try rows.next() {
                latest = row[0]
                let mailbox: Int64 = row[1]
                if mailbox != 0 { mailboxes.insert(MailboxID(mailbox)) }
                if let account: Int64 = row[2] { accounts.insert(AccountID(account)) }
            }
            return FeedChanges(latest: latest, mailboxes: mailboxes, accounts: accounts)
        }
    }

    /// The newest entry's id (0 when the feed is empty).
    func latestChange() async throws(MailStoreError) -> Int64 {
        try await self.access.read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM mailboxChange") ?? 0 }
    }

    func changes(in mailbox: MailboxID, since modSeq: UInt64, limit: Int) async throws(MailStoreError) -> [MailboxChange] {
        try await self.access.read { db in try MailStore.changes(db, in: mailbox, since: modSeq, limit: limit) }
    }

    /// Concurrent appends share a commit (`GroupCommit`): one sync of the WAL per message capped APPEND
    /// at the disk's sync rate.
    func appendMessage(_ content: Data, to mailbox: MailboxID, flags: Set<String>, internalDate: Date)
        async throws(MailStoreError) -> StoredMessage
    {
        do {
            return try await self.appends.submit(
                AppendWork(content: .whole(content), mailbox: mailbox, flags: flags, internalDate: internalDate),
                bytes: content.count, in: self.access)
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    func messages(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [StoredMessage] {
        try await self.access.read { db in
            try MailStore.messagesWithContent(db, in: mailbox, uids: uids, content: .omitted).map(\.message)
        }
    }

    func sortListing(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [SortListing] {
        try await self.access.read { db in
            // The header is read only where the keys are missing or of another version.
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: """
                    SELECT m.uid, m.messageBlobId, CAST(strftime('%s', m.internalDate) AS INTEGER), m.size, h.sortKeys,
                        CASE WHEN substr(h.sortKeys, 1, 2) = ?4 THEN NULL ELSE h.header END
                    FROM mailboxMessage m JOIN messageHeader h ON h.messageBlobId = m.messageBlobId
                    WHERE m.mailboxId = ?1 AND m.uid BETWEEN ?2 AND ?3 ORDER BY m.uid
                    """),
                arguments: [mailbox.rawValue, Int64(uids.lowerBound), Int64(uids.upperBound), MessageSortKeys.encodingPrefix])
            var listing: [SortListing] = []
            while let row = try rows.next() {
                let header: Data? = row[5]
                listing.append(
                    SortListing(
                        uid: UInt32(clamping: row[0] as Int64), contentID: row[1], arrival: row[2], size: row[3],
                        keys: header == nil ? (row[4] as String?).flatMap(MessageSortKeys.Encoded.init) : nil, header: header))
            }
            return listing
        }
    }

    func saveSortKeys(_ keys: [(contentID: Int64, keys: MessageSortKeys.Encoded)]) async throws(MailStoreError) {
        try await self.access.write { db in
            let statement = try db.cachedStatement(sql: "UPDATE messageHeader SET sortKeys = ? WHERE messageBlobId = ?")
            for (contentID, sortKeys) in keys { try statement.execute(arguments: [sortKeys.text, contentID]) }
        }
    }

    func messageFlags(in mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, flags: Set<String>)] {
        try await self.access.read { db in
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT uid, flags FROM mailboxMessage WHERE mailboxId = ? ORDER BY uid"),
                arguments: [mailbox.rawValue])
            var result: [(uid: UInt32, flags: Set<String>)] = []
            // Neighbouring messages mostly have the same flags: they share one set (no allocation each).
            var lastText = ""
            var lastFlags: Set<String> = []
            while let row = try rows.next() {
                let text: String = row[1]
                if text != lastText {
                    lastText = text
                    lastFlags = MailStore.flagSet(text)
                }
                result.append((UInt32(clamping: row[0] as Int64), lastFlags))
            }
            return result
        }
    }

    func messagesWithContent(in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64)
        async throws(MailStoreError) -> [(message: StoredMessage, content: Data?)]
    {
        try await self.access.read { db in
            try MailStore.messagesWithContent(db, in: mailbox, uids: uids, content: content, largest: largest)
        }
    }

    func messages(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, headerOnly: Bool, largest: Int64,
        whoseContent matches: @escaping @Sendable (StoredMessage, Data) -> Bool
    ) async throws(MailStoreError) -> (matched: [UInt32], unread: [StoredMessage]) {
        try await self.access.read { db in
            let limited = !headerOnly && largest < .max
            var arguments: StatementArguments = [mailbox.rawValue, Int64(uids.lowerBound), Int64(uids.upperBound)]
            if limited { arguments += [largest] }
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: limited ? MailStore.listingWithContentUpToSQL : MailStore.listingSQL(headerOnly ? .header : .whole)),
                arguments: arguments)
            var matched: [UInt32] = []
            var unread: [StoredMessage] = []
            while let row = try rows.next() {
                let message = MailStore.storedMessage(from: row)
                let prefix: Data = row[7]
                if !headerOnly, message.size > largest {
                    unread.append(message)
                    continue
                }
                if !headerOnly, row[10] as String == "chunks" {
                    let stored = try MailStore.storedContent(db, blobID: row[9], layout: row[10], inline: Data())
                    if matches(message, prefix + stored) { matched.append(message.uid) }
                    continue
                }
                let accepted = try row.withUnsafeData(atIndex: 8) { stored in
                    let stored = stored ?? Data()
                    return matches(message, prefix.isEmpty ? stored : prefix + stored)
                }
                if accepted { matched.append(message.uid) }
            }
            return (matched, unread)
        }
    }

    func messageContents(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError)
        -> [UInt32: Data]
    {
        try await self.access.read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT m.uid, m.headerPrefix, b.content, b.id, b.layout
                    FROM mailboxMessage m JOIN messageBlob b ON b.id = m.messageBlobId
                    WHERE m.mailboxId = ? AND m.uid BETWEEN ? AND ?
                    """)
            let rows = try Row.fetchCursor(
                statement, arguments: [mailbox.rawValue, Int64(uids.lowerBound), Int64(uids.upperBound)])
            var contents: [UInt32: Data] = [:]
            while let row = try rows.next() {
                let uid: Int64 = row[0]
                let prefix: Data = row[1]
                let content = try MailStore.storedContent(db, blobID: row[3], layout: row[4], inline: row[2])
                contents[UInt32(truncatingIfNeeded: uid)] = prefix + content
            }
            return contents
        }
    }

    func changeFlags(_ update: FlagUpdate, in mailbox: MailboxID, uids: [UInt32], unchangedSince: UInt64?) async throws(MailStoreError)
        -> FlagChange
    {
        try await self.access.writeWithoutSync { db in
            guard let before = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT highestModSeq FROM mailbox WHERE id = ?"), arguments: [mailbox.rawValue])
            else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            var result: [StoredMessage] = []
            var modified: [UInt32] = []
            var modSeq: Int64?
            for uid in uids {
                guard let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT id, flags, modSeq FROM mailboxMessage WHERE mailboxId = ? AND uid = ?"),
                    arguments: [mailbox.rawValue, Int64(uid)])
                else { continue }
                if let unchangedSince, UInt64(clamping: row["modSeq"] as Int64) > unchangedSince {
                    modified.append(uid)
                    continue
                }
                let current = MailStore.flagSet(row["flags"])
                let next: Set<String>
                switch update {
                case .replace(let flags): next = flags
                case .add(let flags): next = current.union(flags)
                case .remove(let flags): next = current.subtracting(flags)
                }
                if next != current {
                    let changeSeq = try modSeq ?? MailStore.bumpModSeq(db, mailboxID: mailbox.rawValue)
                    modSeq = changeSeq
                    try db.cachedStatement(sql: "UPDATE mailboxMessage SET flags = ?, modSeq = ? WHERE id = ?")
                        .execute(arguments: [MailStore.flagString(next), changeSeq, row["id"] as Int64])
                    try MailStore.recordChange(db, mailboxID: mailbox.rawValue, modSeq: changeSeq, uid: uid, kind: .flags)
                }
                if let updated = try Row.fetchOne(
                    db.cachedStatement(sql: MailStore.messageByRowSQL),
                    arguments: [row["id"] as Int64])
                {
                    result.append(MailStore.storedMessage(from: updated))
                }
            }
            return FlagChange(
                messages: result, modSeqBefore: UInt64(before), modSeqAfter: UInt64(modSeq ?? before), modified: modified)
        }
    }

    func expunge(uids: [UInt32], in mailbox: MailboxID) async throws(MailStoreError) -> [UInt32] {
        try await self.access.write { db in try MailStore.expungeMessages(db, uids: uids, mailboxID: mailbox.rawValue) }
    }

    func copyMessages(uids: [UInt32], from source: MailboxID, to target: MailboxID, move: Bool)
        async throws(MailStoreError) -> [(source: UInt32, copy: UInt32)]
    {
        try await self.access.write { db in
            let pairs = try MailStore.copyMessages(db, uids: uids, from: source.rawValue, to: target.rawValue)
            if move {
                // Within one account: what the copies add, the expunge takes away.
                _ = try MailStore.expungeMessages(db, uids: pairs.map(\.source), mailboxID: source.rawValue)
            } else if !pairs.isEmpty {
                try MailStore.requireWithinQuota(db, mailboxID: target.rawValue)
            }
            return pairs
        }
    }

    func storedContents() async throws(MailStoreError) -> (count: Int, bytes: Int64) {
        try await self.access.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(sum(size), 0) FROM messageBlob") else { return (0, 0) }
            return (row[0], row[1])
        }
    }

    func lockMaildrop(of account: AccountID, owner: String, until expiresAt: Date, now: Date)
        async throws(MailStoreError) -> Bool
    {
        try await self.access.write { db in
            try db.execute(
                sql: """
                    INSERT INTO maildropLock(accountId, owner, expiresAt) VALUES (?, ?, ?)
                    ON CONFLICT(accountId) DO UPDATE SET owner = excluded.owner, expiresAt = excluded.expiresAt
                    WHERE maildropLock.owner = excluded.owner OR maildropLock.expiresAt <= ?
                    """, arguments: [account.rawValue, owner, expiresAt, now])
            return db.changesCount > 0
        }
    }

    func maildropListing(of mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, size: Int64)] {
        try await self.access.read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT uid, size FROM mailboxMessage WHERE mailboxId = ? ORDER BY uid", arguments: [mailbox.rawValue])
            var listing: [(uid: UInt32, size: Int64)] = []
            while let row = try rows.next() {
                listing.append((UInt32(row[0] as Int64), row[1] as Int64))
            }
            return listing
        }
    }

    func unlockMaildrop(of account: AccountID, owner: String) async throws(MailStoreError) {
        try await self.access.write { db in
            try db.execute(
                sql: "DELETE FROM maildropLock WHERE accountId = ? AND owner = ?", arguments: [account.rawValue, owner])
        }
    }

    func expungeMaildrop(
        uids: [UInt32], in mailbox: MailboxID, account: AccountID, owner: String, now: Date
    ) async throws(MailStoreError) -> [UInt32] {
        try await self.access.write { db in
            let held = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM maildropLock WHERE accountId = ? AND owner = ? AND expiresAt > ?",
                arguments: [account.rawValue, owner, now]) ?? 0
            guard held > 0 else { throw MailStoreError.maildropLockLost }
            return try MailStore.expungeMessages(db, uids: uids, mailboxID: mailbox.rawValue)
        }
    }

    // MARK: Metadata

    func metadata(of account: AccountID, mailbox: MailboxID?) async throws(MailStoreError) -> [MetadataEntry] {
        try await self.access.read { db in
            let rows = if let mailbox {
                try Row.fetchAll(db, sql: "SELECT name, value FROM mailboxMetadata WHERE mailboxId = ? ORDER BY name", arguments: [mailbox.rawValue])
            } else {
                try Row.fetchAll(db, sql: "SELECT name, value FROM serverMetadata WHERE accountId = ? ORDER BY name", arguments: [account.rawValue])
            }
            return rows.map { MetadataEntry(name: $0[0], value: $0[1]) }
        }
    }

    func setMetadata(_ changes: [(name: String, value: Data?)], of account: AccountID, mailbox: MailboxID?, maximumEntries: Int)
        async throws(MailStoreError)
    {
        let (table, column, owner) = mailbox.map { ("mailboxMetadata", "mailboxId", $0.rawValue) } ?? ("serverMetadata", "accountId", account.rawValue)
        try await self.access.write { db in
            for (name, value) in changes {
                if let value {
                    try db.execute(
                        sql: "INSERT INTO \(table)(\(column), name, value) VALUES (?, ?, ?) ON CONFLICT(\(column), name) DO UPDATE SET value = excluded.value",
                        arguments: [owner, name, value])
                } else {
                    try db.execute(sql: "DELETE FROM \(table) WHERE \(column) = ? AND name = ?", arguments: [owner, name])
                }
            }
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE \(column) = ?", arguments: [owner]) ?? 0
            if count > maximumEntries { throw MailStoreError.tooManyMetadataEntries(maximumEntries) }
        }
    }
}
