import Foundation
import GRDB

/// POP3's exclusive access to a maildrop (RFC 1939 §8), as a lease: `owner` holds it until `expiresAt`
/// and renews it while the session lives. Another session gets it only once it has been released or
/// has expired, so a dropped connection or a killed process never locks a user out for long.
extension MailStore {
    /// Takes or renews the lease; false when another owner holds an unexpired one.
    public func lockMaildrop(of account: AccountID, owner: String, for duration: Duration, now: Date = Date())
        async throws(MailStoreError) -> Bool
    {
        let expiresAt = now.addingTimeInterval(TimeInterval(duration.components.seconds))
        return try await self.write { db in
            try db.execute(
                sql: """
                    INSERT INTO maildropLock(accountId, owner, expiresAt) VALUES (?, ?, ?)
                    ON CONFLICT(accountId) DO UPDATE SET owner = excluded.owner, expiresAt = excluded.expiresAt
                    WHERE maildropLock.owner = excluded.owner OR maildropLock.expiresAt <= ?
                    """, arguments: [account.rawValue, owner, expiresAt, now])
            return db.changesCount > 0
        }
    }

    /// UID and size of each message in the mailbox, in UID order: all a POP3 session keeps of its
    /// maildrop (RFC 1939 numbers, LIST, UIDL), without the flags and dates `messages(in:)` decodes.
    public func maildropListing(of mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, size: Int64)] {
        try await self.read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT uid, size FROM mailboxMessage WHERE mailboxId = ? ORDER BY uid", arguments: [mailbox.rawValue])
            var listing: [(uid: UInt32, size: Int64)] = []
            while let row = try rows.next() {
                listing.append((UInt32(row[0] as Int64), row[1] as Int64))
            }
            return listing
        }
    }

    /// Gives the lease up (nothing happens when `owner` no longer holds it).
    public func unlockMaildrop(of account: AccountID, owner: String) async throws(MailStoreError) {
        try await self.write { db in
            try db.execute(
                sql: "DELETE FROM maildropLock WHERE accountId = ? AND owner = ?", arguments: [account.rawValue, owner])
        }
    }

    /// POP3 UPDATE: removes the messages in one transaction, only while `owner` still holds the lease
    /// (`.maildropLockLost` otherwise: another session may have the maildrop now). Messages already
    /// gone (expunged over IMAP) are skipped. Returns the UIDs removed.
    public func expungeMaildrop(
        uids: [UInt32], in mailbox: MailboxID, account: AccountID, owner: String, now: Date = Date()
    ) async throws(MailStoreError) -> [UInt32] {
        try await self.write { db in
            let held = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM maildropLock WHERE accountId = ? AND owner = ? AND expiresAt > ?",
                arguments: [account.rawValue, owner, now]) ?? 0
            guard held > 0 else { throw MailStoreError.maildropLockLost }
            return try Self.expungeMessages(db, uids: uids, mailboxID: mailbox.rawValue)
        }
    }
}
