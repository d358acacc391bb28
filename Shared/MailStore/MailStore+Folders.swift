import Foundation
import GRDB

/// Mailbox management (IMAP SUBSCRIBE, DELETE, RENAME) and moving messages between mailboxes (COPY,
/// MOVE). Copies share the stored content: only the mailbox row is new.
extension MailStore {
    /// Subscribes to or unsubscribes from an existing mailbox.
    public func setSubscribed(_ subscribed: Bool, mailbox name: String, of account: AccountID) async throws(MailStoreError) {
        let name = Self.canonicalMailboxName(name)
        try await self.write { db in
            try db.execute(
                sql: "UPDATE mailbox SET subscribed = ? WHERE accountId = ? AND name = ?",
                arguments: [subscribed, account.rawValue, name])
            guard db.changesCount > 0 else { throw MailStoreError.unknownMailbox(name) }
        }
    }

    /// Deletes a mailbox and its messages. INBOX cannot be deleted; nor can a mailbox with children
    /// (`.mailboxHasChildren`; IMAP answers `NO [HASCHILDREN]`, RFC 9051 §6.3.5), since a name without
    /// a mailbox of its own is not kept.
    public func deleteMailbox(named name: String, of account: AccountID) async throws(MailStoreError) {
        let name = Self.canonicalMailboxName(name)
        guard name != "INBOX" else { throw MailStoreError.mailboxProtected(name) }
        try await self.write { db in
            let mailbox = try Self.fetchMailbox(db, name: name, accountID: account.rawValue)
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
            _ = try Self.expungeMessages(db, uids: uids.map { UInt32(truncatingIfNeeded: $0) }, mailboxID: mailbox.id.rawValue)
            // Then the mailbox's own end, for those sessions (`MailboxChange.isMailboxDeletion`).
            try Self.recordChange(
                db, mailboxID: mailbox.id.rawValue, modSeq: try Self.bumpModSeq(db, mailboxID: mailbox.id.rawValue), uid: 0,
                kind: .expunge)
            try db.execute(sql: "DELETE FROM mailbox WHERE id = ?", arguments: [mailbox.id.rawValue])
        }
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
        try await self.write { db in
            let mailbox = try Self.fetchMailbox(db, name: oldName, accountID: account.rawValue)
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM mailbox WHERE accountId = ? AND name = ?", arguments: [account.rawValue, newName]) == true
            {
                throw MailStoreError.mailboxExists(newName)
            }
            if oldName == "INBOX" {
                try Self.insertMailbox(db, accountID: account.rawValue, name: newName, specialUse: nil, now: now)
                let target = try Self.fetchMailbox(db, name: newName, accountID: account.rawValue)
                let uids = try Int64.fetchAll(
                    db, sql: "SELECT uid FROM mailboxMessage WHERE mailboxId = ? ORDER BY uid", arguments: [mailbox.id.rawValue])
                    .map { UInt32(truncatingIfNeeded: $0) }
                _ = try Self.copyMessages(db, uids: uids, from: mailbox.id.rawValue, to: target.id.rawValue)
                _ = try Self.expungeMessages(db, uids: uids, mailboxID: mailbox.id.rawValue)
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
        }
    }

    /// Copies messages into another mailbox in one transaction (IMAP COPY); with `move`, removes them
    /// from the source in the same transaction (RFC 6851 MOVE: never both or neither visible).
    /// Returns (source UID, new UID) pairs in source UID order, for COPYUID (RFC 4315).
    public func copyMessages(uids: [UInt32], from source: MailboxID, to target: MailboxID, move: Bool = false)
        async throws(MailStoreError) -> [(source: UInt32, copy: UInt32)]
    {
        try await self.write { db in
            let pairs = try Self.copyMessages(db, uids: uids, from: source.rawValue, to: target.rawValue)
            if move {
                // Within one account: what the copies add, the expunge takes away.
                _ = try Self.expungeMessages(db, uids: pairs.map(\.source), mailboxID: source.rawValue)
            } else if !pairs.isEmpty {
                try Self.requireWithinQuota(db, mailboxID: target.rawValue)
            }
            return pairs
        }
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
