import Foundation
import GRDB
import MailFormat

struct AppendWork: Sendable {
    let content: AcceptedContent
    let mailbox: MailboxID
    let flags: Set<String>
    let internalDate: Date
}

extension MailStore {
    /// The hierarchy delimiter of mailbox names (IMAP LIST answers with it).
    public static let hierarchyDelimiter: Character = "/"
    static let maximumMailboxNameLength = 1024

    // MARK: Mailboxes

    public func mailboxes(of account: AccountID) async throws(MailStoreError) -> [Mailbox] {
        try await self.mailboxStore.mailboxes(of: account)
    }

    public func mailbox(named name: String, of account: AccountID) async throws(MailStoreError) -> Mailbox {
        try await self.mailboxStore.mailbox(named: Self.canonicalMailboxName(name), of: account)
    }

    @discardableResult
    public func createMailbox(
        named name: String, of account: AccountID, specialUse: SpecialUse? = nil, now: Date = Date()
    ) async throws(MailStoreError) -> Mailbox {
        let name = try Self.validatedMailboxName(name)
        return try await self.mailboxStore.insertMailbox(named: name, of: account, specialUse: specialUse, now: now)
    }

    /// STATUS of a mailbox: the counts its row keeps (migration "mailbox counts") and how many messages
    /// no session has claimed as \Recent, in one read.
    public func mailboxStatus(_ mailbox: MailboxID) async throws(MailStoreError) -> MailboxStatus {
        try await self.mailboxStore.mailboxStatus(mailbox)
    }

    /// The octets of the mailbox's messages flagged \Deleted (IMAP STATUS DELETED-STORAGE, RFC 9208 §4.2.1):
    /// counted when asked, from the mailbox's rows, as only that STATUS item wants it.
    public func deletedBytes(in mailbox: MailboxID) async throws(MailStoreError) -> Int64 {
        try await self.mailboxStore.deletedBytes(in: mailbox)
    }

    /// Claims for one IMAP session the messages below `uidLimit` that no session has been told of yet
    /// (RFC 3501 §2.3.2: \Recent in exactly one session, whichever process it runs in), and returns
    /// the floor before the claim: the caller's recent messages are those from it up to `uidLimit`.
    public func claimRecent(in mailbox: MailboxID, below uidLimit: UInt32) async throws(MailStoreError) -> UInt32 {
        try await self.mailboxStore.claimRecent(in: mailbox, below: uidLimit)
    }

    /// The current highest modseq of a mailbox: the cheap, indexed poll another process runs to learn
    /// that the mailbox changed.
    public func highestModSeq(of mailbox: MailboxID) async throws(MailStoreError) -> UInt64 {
        try await self.mailboxStore.highestModSeq(of: mailbox)
    }

    /// Where the change feed is now, across all mailboxes: where a process-wide watcher starts (see
    /// `mailboxesChanged(after:)`), taken before a session's own catch-up read so that nothing committed
    /// in between is missed.
    public func latestChange() async throws(MailStoreError) -> Int64 {
        try await self.mailboxStore.latestChange()
    }

    /// The mailboxes and accounts with feed entries after `change` and the newest entry seen: the one
    /// query a process makes per poll however many of its IMAP sessions are idling or notified. At most
    /// `limit` entries are read per call; the next call goes on from `latest`.
    public func mailboxesChanged(after change: Int64, limit: Int = 10_000) async throws(MailStoreError) -> FeedChanges {
        try await self.mailboxStore.mailboxesChanged(after: change, limit: limit)
    }

    /// Changes with a modseq above `modSeq`, oldest first.
    public func changes(in mailbox: MailboxID, since modSeq: UInt64, limit: Int = 10_000) async throws(MailStoreError)
        -> [MailboxChange]
    {
        try await self.mailboxStore.changes(in: mailbox, since: modSeq, limit: limit)
    }

    /// One statement (immediate reads must be one): the feed's entries, and a row of kind `pruned` when
    /// entries above `modSeq` may have been pruned (`changeFeedPruned`).
    static func changes(_ db: Database, in mailbox: MailboxID, since modSeq: UInt64, limit: Int) throws -> [MailboxChange] {
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT changeFloor AS modSeq, 0 AS uid, 'pruned' AS kind FROM mailbox WHERE id = ?1 AND changeFloor > ?2
                    UNION ALL
                    SELECT * FROM (SELECT modSeq, uid, kind FROM mailboxChange WHERE mailboxId = ?1 AND modSeq > ?2 ORDER BY id LIMIT ?3)
                    """),
            arguments: [mailbox.rawValue, Int64(clamping: modSeq), limit])
        var changes: [MailboxChange] = []
        changes.reserveCapacity(rows.count)
        for row in rows {
            let kindName: String = row["kind"]
            if kindName == "pruned" { throw MailStoreError.changeFeedPruned(String(mailbox.rawValue)) }
            guard let kind = MailboxChange.Kind(rawValue: kindName) else { continue }
            changes.append(MailboxChange(modSeq: UInt64(row["modSeq"] as Int64), uid: UInt32(row["uid"] as Int64), kind: kind))
        }
        return changes
    }

    // MARK: Messages

    /// Appends a message (IMAP APPEND): stores the content once and gives it the mailbox's next UID,
    /// in one transaction.
    public func appendMessage(
        _ content: Data, to mailbox: MailboxID, flags: Set<String> = [], internalDate: Date = Date()
    ) async throws(MailStoreError) -> StoredMessage {
        try await self.mailboxStore.appendMessage(content, to: mailbox, flags: flags, internalDate: internalDate)
    }

    /// `appendMessage` for content written beforehand as an upload (a large APPEND literal); `header` is
    /// its header section through the empty line. The upload is the message's content from this
    /// commit on; when the append fails (quota, space) it is left to the caller to discard.
    public func appendMessage(
        _ upload: ContentUpload, header: Data, to mailbox: MailboxID, flags: Set<String> = [], internalDate: Date = Date()
    ) async throws(MailStoreError) -> StoredMessage {
        try await self.contents.appendMessage(upload, header: header, to: mailbox, flags: flags, internalDate: internalDate)
    }

    /// Files several messages in one transaction (IMAP MULTIAPPEND, RFC 3502): all, in order under
    /// consecutive UIDs, or none. Uploads among them are the messages' content from this commit on;
    /// when it fails they are left to the caller to discard.
    /// `enforcingQuota: false` is for imports that were not asked to respect the account's quota.
    public func appendMessages(_ messages: [NewMessage], to mailbox: MailboxID, enforcingQuota: Bool = true) async throws(MailStoreError)
        -> [StoredMessage]
    {
        guard !messages.isEmpty else { return [] }
        return try await self.contents.appendMessages(messages, to: mailbox, enforcingQuota: enforcingQuota)
    }

    /// Messages with UIDs in `uids`, in UID order, without content.
    public func messages(in mailbox: MailboxID, uids: ClosedRange<UInt32> = 1...UInt32.max) async throws(MailStoreError)
        -> [StoredMessage]
    {
        try await self.mailboxStore.messages(in: mailbox, uids: uids)
    }

    /// The UID and flags of every message in `mailbox`, in UID order: what IMAP SELECT needs, without
    /// the rest of each listing row (dates, sizes, modseqs), which SELECT of a large mailbox would pay
    /// for on every message.
    public func messageFlags(in mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, flags: Set<String>)] {
        try await self.mailboxStore.messageFlags(in: mailbox)
    }

    /// The messages of `uids`, in UID order, as SORT reads them: with their sort keys where the store has
    /// them, else with their header section to work them out from (and `saveSortKeys` to keep them).
    /// The added header lines (Return-Path, Delivered-To) hold no field SORT looks at, so the keys belong
    /// to the shared content.
    public func sortListing(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [SortListing] {
        try await self.mailboxStore.sortListing(in: mailbox, uids: uids)
    }

    /// Keeps sort keys worked out from contents' headers, for the next SORT of any mailbox holding them.
    public func saveSortKeys(_ keys: [(contentID: Int64, keys: MessageSortKeys.Encoded)]) async throws(MailStoreError) {
        guard !keys.isEmpty else { return }
        try await self.mailboxStore.saveSortKeys(keys)
    }

    /// Messages with UIDs in `uids`, in UID order, with as much of their content as `content` says
    /// (IMAP FETCH): one read for both. A whole content stored larger than `largest` octets is not read
    /// (its message comes with nil): a large message is read a piece at a time (`contentReader`).
    public func messagesWithContent(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64 = .max
    ) async throws(MailStoreError) -> [(message: StoredMessage, content: Data?)] {
        try await self.mailboxStore.messagesWithContent(in: mailbox, uids: uids, content: content, largest: largest)
    }

    static let messageByRowSQL = "SELECT \(storedMessageColumns()) FROM mailboxMessage WHERE id = ?"
    static let listingSQL = """
        SELECT \(storedMessageColumns()) FROM mailboxMessage
        WHERE mailboxId = ? AND uid BETWEEN ? AND ? ORDER BY uid
        """
    static let listingWithContentSQL = """
        SELECT \(storedMessageColumns("m.")), m.headerPrefix, b.content, b.id, b.layout
        FROM mailboxMessage m JOIN messageBlob b ON b.id = m.messageBlobId
        WHERE m.mailboxId = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid
        """
    static let listingWithContentUpToSQL = """
        SELECT \(storedMessageColumns("m.")), m.headerPrefix, CASE WHEN b.size <= ?4 THEN b.content END, b.id, b.layout
        FROM mailboxMessage m JOIN messageBlob b ON b.id = m.messageBlobId
        WHERE m.mailboxId = ?1 AND m.uid BETWEEN ?2 AND ?3 ORDER BY m.uid
        """
    static let listingWithHeaderSQL = """
        SELECT \(storedMessageColumns("m.")), m.headerPrefix, h.header
        FROM mailboxMessage m JOIN messageHeader h ON h.messageBlobId = m.messageBlobId
        WHERE m.mailboxId = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid
        """

    static func listingSQL(_ content: ContentExtent) -> String {
        switch content {
        case .omitted: Self.listingSQL
        case .header: Self.listingWithHeaderSQL
        case .whole: Self.listingWithContentSQL
        }
    }

    static func messagesWithContent(
        _ db: Database, in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64 = .max
    ) throws -> [(message: StoredMessage, content: Data?)] {
        let limited = content == .whole && largest < .max
        var arguments: StatementArguments = [mailbox.rawValue, Int64(uids.lowerBound), Int64(uids.upperBound)]
        if limited { arguments += [largest] }
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: limited ? Self.listingWithContentUpToSQL : Self.listingSQL(content)), arguments: arguments)
        var result: [(message: StoredMessage, content: Data?)] = []
        while let row = try rows.next() {
            let message = Self.storedMessage(from: row)
            if content == .omitted {
                result.append((message, nil))
            } else {
                let prefix: Data = row[7]
                let stored: Data
                if content == .whole {
                    // Over `largest`, the query left the bytes unread (SQLite reads a blob's overflow
                    // pages whenever the column is in the result).
                    guard let inline = row[8] as Data? else {
                        result.append((message, nil))
                        continue
                    }
                    let layout: String = row[10]
                    if layout == "chunks", message.size > largest {
                        result.append((message, nil))
                        continue
                    }
                    stored = try Self.storedContent(db, blobID: row[9], layout: layout, inline: inline)
                } else {
                    stored = row[8]
                }
                result.append((message, prefix.isEmpty ? stored : prefix + stored))
            }
        }
        return result
    }

    /// The UIDs in `uids`, in order, of the messages `matches` accepts, shown each message and its
    /// content (added header lines, then the stored bytes; only the header section when `headerOnly`),
    /// in one read. The content is lent straight from SQLite when the message has no added header
    /// lines: a SEARCH on headers or text looks at every message, and need not copy each one out.
    /// `matches` runs on the reader's thread and must not keep the content. A whole content stored
    /// larger than `largest` octets is not read: its message is among `unread`, to be read a piece at
    /// a time.
    public func messages(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, headerOnly: Bool, largest: Int64 = .max,
        whoseContent matches: @escaping @Sendable (StoredMessage, Data) -> Bool
    ) async throws(MailStoreError) -> (matched: [UInt32], unread: [StoredMessage]) {
        try await self.mailboxStore.messages(in: mailbox, uids: uids, headerOnly: headerOnly, largest: largest, whoseContent: matches)
    }

    /// The full RFC 5322 content of one message as delivered: added header lines, then the stored blob.
    public func messageContent(in mailbox: MailboxID, uid: UInt32) async throws(MailStoreError) -> Data? {
        try await self.messageContents(in: mailbox, uids: uid...uid)[uid]
    }

    /// The contents of the messages with UIDs in `uids` (those still there), in one read: a client
    /// fetching message after message (POP3 RETR, IMAP FETCH of a range) pays for one query and one
    /// hop to a reader per batch rather than per message. The statement is prepared once per connection.
    public func messageContents(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError)
        -> [UInt32: Data]
    {
        try await self.mailboxStore.messageContents(in: mailbox, uids: uids)
    }

    /// Changes the flags of the messages with the given UIDs; each changed message gets a new modseq
    /// and a change-feed entry. Returns the messages as they are afterwards. Committed without waiting
    /// for the disk (`writeWithoutSync`): a power loss may undo the latest flag changes, never more.
    public func updateFlags(_ update: FlagUpdate, in mailbox: MailboxID, uids: [UInt32]) async throws(MailStoreError)
        -> [StoredMessage]
    {
        try await self.changeFlags(update, in: mailbox, uids: uids).messages
    }

    /// `updateFlags`, with the mailbox's highest modseq before and after: a session whose view was
    /// current before need not read its own change back from the feed. With `unchangedSince`, a message
    /// whose modseq is above it is left as it is and named in `modified` (IMAP's conditional STORE,
    /// RFC 7162 §3.1.3), judged in the same transaction as the change.
    public func changeFlags(
        _ update: FlagUpdate, in mailbox: MailboxID, uids: [UInt32], unchangedSince: UInt64? = nil
    ) async throws(MailStoreError) -> FlagChange {
        try await self.mailboxStore.changeFlags(update, in: mailbox, uids: uids, unchangedSince: unchangedSince)
    }

    /// Removes the messages with the given UIDs (IMAP EXPUNGE, POP3 UPDATE) in one transaction: all of
    /// them or none. Content no other message or queue row uses is removed with them.
    @discardableResult
    public func expunge(uids: [UInt32], in mailbox: MailboxID) async throws(MailStoreError) -> [UInt32] {
        try await self.mailboxStore.expunge(uids: uids, in: mailbox)
    }

    static func expungeMessages(_ db: Database, uids: [UInt32], mailboxID: Int64) throws -> [UInt32] {
        var removed: [UInt32] = []
        var blobs: Set<Int64> = []
        var modSeq: Int64?
        for uid in uids.sorted() {
            guard let blob = try Int64.fetchOne(
                db.cachedStatement(sql: "DELETE FROM mailboxMessage WHERE mailboxId = ? AND uid = ? RETURNING messageBlobId"),
                arguments: [mailboxID, Int64(uid)])
            else { continue }
            let changeSeq = try modSeq ?? Self.bumpModSeq(db, mailboxID: mailboxID)
            modSeq = changeSeq
            try Self.recordChange(db, mailboxID: mailboxID, modSeq: changeSeq, uid: uid, kind: .expunge)
            removed.append(uid)
            blobs.insert(blob)
        }
        for blob in blobs { try Self.deleteBlobIfUnreferenced(db, blob) }
        return removed
    }

    /// Removes one content once no mailbox message and no queue message refers to it: an expunge
    /// looks only at what it removed (both references are indexed), not at every blob in the store.
    static func deleteBlobIfUnreferenced(_ db: Database, _ blob: Int64) throws {
        try db.cachedStatement(
            sql: """
                DELETE FROM messageBlob WHERE id = ?
                    AND NOT EXISTS (SELECT 1 FROM mailboxMessage WHERE messageBlobId = ?)
                    AND NOT EXISTS (SELECT 1 FROM queueMessage WHERE messageBlobId = ?)
                """
        ).execute(arguments: [blob, blob, blob])
    }

    // MARK: Helpers inside transactions

    static func insertMailbox(
        _ db: Database, accountID: Int64, name: String, specialUse: SpecialUse?, now: Date
    ) throws {
        // UIDVALIDITY must differ from any value a mailbox of the same name had before (RFC 9051
        // §2.3.1.1); a store-wide counter that never goes back, seeded from the clock, guarantees it.
        let seed = Int64(now.timeIntervalSince1970)
        let uidValidity = try db.nextCounterValue("uidValidity", atLeast: min(max(seed, 1), Int64(UInt32.max)))
        guard uidValidity <= Int64(UInt32.max) else {
            throw MailStoreError.unavailable("UIDVALIDITY counter exhausted")
        }
        try db.execute(
            sql: """
                INSERT INTO mailbox(accountId, name, specialUse, uidValidity, uidNext, highestModSeq, createdAt)
                VALUES (?, ?, ?, ?, 1, 1, ?)
                """, arguments: [accountID, name, specialUse?.rawValue, uidValidity, now])
        // A new mailbox is subscribed (a subscription the name had already stays).
        try db.execute(
            sql: "INSERT OR IGNORE INTO mailboxSubscription(accountId, name) VALUES (?, ?)", arguments: [accountID, name])
    }

    static func insertBlob(_ db: Database, content: Data, now: Date) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO messageBlob(content, size, createdAt) VALUES (?, ?, ?)").execute(arguments: [content, content.count, now])
        let blobID = db.lastInsertedRowID
        try Self.insertHeader(db, blobID: blobID, content: content)
        return blobID
    }

    /// Stores the header section of a blob's content (`messageHeader`, `ContentExtent.header`).
    static func insertHeader(_ db: Database, blobID: Int64, content: Data) throws {
        try db.cachedStatement(sql: "INSERT INTO messageHeader(messageBlobId, header) VALUES (?, ?)").execute(
            arguments: [blobID, content.prefix(MIMEParser.headerLength(of: content))])
    }

    static func insertMailboxMessage(
        _ db: Database, mailboxID: Int64, blobID: Int64, headerPrefix: Data, size: Int64, flags: Set<String>,
        internalDate: Date
    ) throws -> StoredMessage {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT uidNext FROM mailbox WHERE id = ?"), arguments: [mailboxID])
        else { throw MailStoreError.unknownMailbox(String(mailboxID)) }
        let uid: Int64 = row["uidNext"]
        guard uid < Int64(UInt32.max) else { throw MailStoreError.unavailable("mailbox \(mailboxID) ran out of UIDs") }
        let modSeq = try Self.bumpModSeq(db, mailboxID: mailboxID)
        try db.cachedStatement(sql: "UPDATE mailbox SET uidNext = ? WHERE id = ?").execute(arguments: [uid + 1, mailboxID])
        let savedAt = StoredMessage.milliseconds(Date())
        try db.cachedStatement(sql: """
                INSERT INTO mailboxMessage(mailboxId, uid, messageBlobId, headerPrefix, size, internalDate, flags, modSeq, savedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [mailboxID, uid, blobID, headerPrefix, size, internalDate, Self.flagString(flags), modSeq, savedAt])
        try Self.recordChange(db, mailboxID: mailboxID, modSeq: modSeq, uid: UInt32(uid), kind: .append)
        return StoredMessage(
            uid: UInt32(uid), size: size, internalDate: internalDate, flags: flags, modSeq: UInt64(modSeq), contentID: blobID,
            savedDate: savedAt)
    }

    static func bumpModSeq(_ db: Database, mailboxID: Int64) throws -> Int64 {
        guard let next = try Int64.fetchOne(db.cachedStatement(sql: "UPDATE mailbox SET highestModSeq = highestModSeq + 1 WHERE id = ? RETURNING highestModSeq"), arguments: [mailboxID])
        else { throw MailStoreError.unknownMailbox(String(mailboxID)) }
        return next
    }

    static func recordChange(_ db: Database, mailboxID: Int64, modSeq: Int64, uid: UInt32, kind: MailboxChange.Kind)
        throws
    {
        // The time as SQLite writes it, in the format GRDB gives a Date ("YYYY-MM-DD HH:MM:SS.SSS",
        // UTC): formatting a Date in Swift (through ICU) was a visible part of a STORE's profile.
        try db.cachedStatement(
            sql: "INSERT INTO mailboxChange(mailboxId, modSeq, uid, kind, createdAt) VALUES (?, ?, ?, ?, strftime('%Y-%m-%d %H:%M:%f', 'now'))"
        ).execute(arguments: [mailboxID, modSeq, Int64(uid), kind.rawValue])
    }

    /// Tells the change feed's readers that the account's list of mailboxes or subscriptions changed
    /// (IMAP NOTIFY, RFC 5465 §5.4, §5.5): an entry of kind `mailboxes` that names no mailbox.
    static func recordMailboxListChange(_ db: Database, accountID: Int64) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO mailboxChange(mailboxId, modSeq, uid, kind, createdAt, accountId)
                VALUES (0, 0, 0, 'mailboxes', strftime('%Y-%m-%d %H:%M:%f', 'now'), ?)
                """
        ).execute(arguments: [accountID])
    }

    /// Removes content that no mailbox message and no queue message refers to any more.
    static func deleteUnreferencedBlobs(_ db: Database) throws {
        try db.execute(
            sql: """
                DELETE FROM messageBlob WHERE layout != 'upload'
                    AND NOT EXISTS (SELECT 1 FROM mailboxMessage WHERE messageBlobId = messageBlob.id)
                    AND NOT EXISTS (SELECT 1 FROM queueMessage WHERE messageBlobId = messageBlob.id)
                """)
    }

    static func fetchMailbox(_ db: Database, name: String, accountID: Int64) throws -> Mailbox {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(Self.mailboxColumns) FROM mailbox WHERE accountId = ? AND name = ?"), arguments: [accountID, name])
        else { throw MailStoreError.unknownMailbox(name) }
        return Self.mailbox(from: row)
    }

    /// What `mailbox(from:)` reads: the row and whether its name is subscribed.
    static let mailboxColumns = """
        mailbox.*, EXISTS (SELECT 1 FROM mailboxSubscription s WHERE s.accountId = mailbox.accountId AND s.name = mailbox.name)
            AS subscribed
        """

    static func mailbox(from row: Row) -> Mailbox {
        Mailbox(
            id: MailboxID(row["id"]), accountID: AccountID(row["accountId"]), name: row["name"],
            specialUse: (row["specialUse"] as String?).flatMap(SpecialUse.init(rawValue:)),
            subscribed: row["subscribed"], uidValidity: UInt32(clamping: row["uidValidity"] as Int64),
            uidNext: UInt32(clamping: row["uidNext"] as Int64),
            highestModSeq: UInt64(clamping: row["highestModSeq"] as Int64),
            recentFloor: UInt32(clamping: row["recentFloor"] as Int64))
    }

    /// The columns `storedMessage(from:)` reads, in its order (`prefix`: a table alias and dot). The
    /// date comes as seconds since 1970, computed by SQLite: decoding GRDB's date text into a `Date`
    /// through calendar components was the largest single cost of a message listing (SEARCH, SELECT).
    static func storedMessageColumns(_ prefix: String = "") -> String {
        """
        \(prefix)uid, \(prefix)size, (julianday(\(prefix)internalDate) - 2440587.5) * 86400.0, \(prefix)flags, \(prefix)modSeq, \(prefix)messageBlobId,
            (julianday(coalesce(\(prefix)savedAt, \(prefix)internalDate)) - 2440587.5) * 86400.0
        """
    }

    /// A message from the first columns of a row selected with `storedMessageColumns`, read by
    /// position (by name, each column lookup hashed the name).
    static func storedMessage(from row: Row) -> StoredMessage {
        let seconds: Double = row[2]
        let saved: Double = row[6]
        return StoredMessage(
            uid: UInt32(clamping: row[0] as Int64), size: row[1],
            internalDate: Date(timeIntervalSince1970: (seconds * 1000).rounded() / 1000),
            flags: Self.flagSet(row[3]), modSeq: UInt64(clamping: row[4] as Int64), contentID: row[5],
            savedDate: Date(timeIntervalSince1970: (saved * 1000).rounded() / 1000))
    }

    /// Flags from the text both backends keep them as (`flagString`).
    public static func flagSet(_ text: String) -> Set<String> {
        // Most messages have no flag or one: no splitting for those (listings decode every message).
        if text.isEmpty { return [] }
        if !text.utf8.contains(UInt8(ascii: " ")) { return [text] }
        return Set(text.split(separator: " ").map(String.init))
    }

    /// Flags as both backends keep them: sorted, space-separated (none empty or with a space in it).
    public static func flagString(_ flags: Set<String>) -> String {
        flags.filter { !$0.isEmpty && !$0.contains(" ") }.sorted().joined(separator: " ")
    }

    /// INBOX is case-insensitive (RFC 9051 §5.1); every other name is kept as given.
    static func canonicalMailboxName(_ name: String) -> String {
        name.uppercased() == "INBOX" ? "INBOX" : name
    }

    static func validatedMailboxName(_ name: String) throws(MailStoreError) -> String {
        let name = Self.canonicalMailboxName(name)
        guard !name.isEmpty, name.utf8.count <= Self.maximumMailboxNameLength,
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
            !name.hasPrefix("/"), !name.hasSuffix("/"), !name.contains("//")
        else { throw .invalidMailboxName(name) }
        return name
    }
}
