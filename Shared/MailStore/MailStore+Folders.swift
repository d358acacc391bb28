import Foundation
import GRDB

/// Mailbox management (IMAP SUBSCRIBE, DELETE, RENAME) and moving messages between mailboxes (COPY,
/// MOVE). Copies share the stored content: only the mailbox row is new.
extension MailStore {
    /// Subscribes to an existing mailbox, or unsubscribes from a name (whether its mailbox still exists or
    /// not). A subscription belongs to the name: it stays when the mailbox is deleted and follows a rename.
    public func setSubscribed(_ subscribed: Bool, mailbox name: String, of account: AccountID) async throws(MailStoreError) {
        try await self.mailboxStore.setSubscribed(subscribed, mailbox: Self.canonicalMailboxName(name), of: account)
    }

    /// The names the account is subscribed to, in order: mailboxes, and names whose mailbox was deleted.
    public func subscriptions(of account: AccountID) async throws(MailStoreError) -> [String] {
        try await self.mailboxStore.subscriptions(of: account)
    }

    /// Deletes a mailbox and its messages. INBOX cannot be deleted; nor can a mailbox with children
    /// (`.mailboxHasChildren`; IMAP answers `NO [HASCHILDREN]`, RFC 9051 §6.3.5), since a name without
    /// a mailbox of its own is not kept.
    public func deleteMailbox(named name: String, of account: AccountID) async throws(MailStoreError) {
        let name = Self.canonicalMailboxName(name)
        guard name != "INBOX" else { throw MailStoreError.mailboxProtected(name) }
        try await self.mailboxStore.deleteMailbox(named: name, of: account)
    }

    /// Renames a mailbox and every mailbox below it (RFC 9051 §6.3.6); they keep their UIDVALIDITY
    /// and UIDs. Renaming INBOX moves its messages into a new mailbox of that name and leaves INBOX
    /// empty. The new name must be free and valid.
    public func renameMailbox(from oldName: String, to newName: String, of account: AccountID, now: Date = Date())
        async throws(MailStoreError)
    {
        let oldName = Self.canonicalMailboxName(oldName)
        let newName = try Self.validatedMailboxName(newName)
        guard newName != "INBOX", !newName.hasPrefix(oldName + "/") else { throw MailStoreError.invalidMailboxName(newName) }
        try await self.mailboxStore.renameMailbox(from: oldName, to: newName, of: account, now: now)
    }

    /// Copies messages into another mailbox in one transaction (IMAP COPY); with `move`, removes them
    /// from the source in the same transaction (RFC 6851 MOVE: never both or neither visible).
    /// Returns (source UID, new UID) pairs in source UID order, for COPYUID (RFC 4315).
    public func copyMessages(uids: [UInt32], from source: MailboxID, to target: MailboxID, move: Bool = false)
        async throws(MailStoreError) -> [(source: UInt32, copy: UInt32)]
    {
        try await self.mailboxStore.copyMessages(uids: uids, from: source, to: target, move: move)
    }

    /// Throws `overQuota` (rolling back the caller's transaction or savepoint) when the account owning the
    /// mailbox uses more than its quota after what was just added; the usage triggers have counted it.
    /// Checked after the insert rather than before, so several additions in one transaction add up.
    static func requireWithinQuota(_ db: Database, mailboxID: Int64) throws {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT a.address, a.quotaBytes, a.usedBytes FROM mailbox m JOIN account a ON a.id = m.accountId
                WHERE m.id = ?
                """), arguments: [mailboxID])
        guard let row, let quota = row[1] as Int64?, (row[2] as Int64) > quota else { return }
        throw MailStoreError.overQuota(row[0])
    }

    static func copyMessages(_ db: Database, uids: [UInt32], from source: Int64, to target: Int64) throws
        -> [(source: UInt32, copy: UInt32)]
    {
        var pairs: [(source: UInt32, copy: UInt32)] = []
        for uid in uids.sorted() {
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT messageBlobId, headerPrefix, size, internalDate, flags FROM mailboxMessage
                    WHERE mailboxId = ? AND uid = ?
                    """), arguments: [source, Int64(uid)])
            else { continue }
            let copy = try Self.insertMailboxMessage(
                db, mailboxID: target, blobID: row["messageBlobId"], headerPrefix: row["headerPrefix"], size: row["size"],
                flags: Self.flagSet(row["flags"]), internalDate: row["internalDate"])
            pairs.append((uid, copy.uid))
        }
        return pairs
    }
}
