import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO

extension PostgresMailboxes {
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
}
