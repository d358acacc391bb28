import Foundation
import Logging
import MailStore
import PostgresNIO

/// IMAP METADATA entries (RFC 5464) of mailboxes and of accounts' server scope.
extension PostgresMailboxes {
    func metadata(of account: AccountID, mailbox: MailboxID?) async throws(MailStoreError) -> [MetadataEntry] {
        let logger = self.logger
        return try await self.access.read { connection in
            let rows = if let mailbox {
                try await connection.rows(
                    "SELECT name, value FROM mailbox_metadata WHERE mailbox_id = \(mailbox.rawValue) ORDER BY name COLLATE \"C\"", logger)
            } else {
                try await connection.rows(
                    "SELECT name, value FROM server_metadata WHERE account_id = \(account.rawValue) ORDER BY name COLLATE \"C\"", logger)
            }
            return try rows.map { row in
                let (name, value) = try row.decode((String, Data).self)
                return MetadataEntry(name: name, value: value)
            }
        }
    }

    func setMetadata(_ changes: [(name: String, value: Data?)], of account: AccountID, mailbox: MailboxID?, maximumEntries: Int)
        async throws(MailStoreError)
    {
        let logger = self.logger
        try await self.access.transaction { connection in
            for (name, value) in changes {
                switch (mailbox, value) {
                case (let mailbox?, let value?):
                    try await connection.query(
                        """
                        INSERT INTO mailbox_metadata (mailbox_id, name, value) VALUES (\(mailbox.rawValue), \(name), \(value))
                        ON CONFLICT (mailbox_id, name) DO UPDATE SET value = excluded.value
                        """, logger: logger)
                case (let mailbox?, nil):
                    try await connection.query(
                        "DELETE FROM mailbox_metadata WHERE mailbox_id = \(mailbox.rawValue) AND name = \(name)", logger: logger)
                case (nil, let value?):
                    try await connection.query(
                        """
                        INSERT INTO server_metadata (account_id, name, value) VALUES (\(account.rawValue), \(name), \(value))
                        ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value
                        """, logger: logger)
                case (nil, nil):
                    try await connection.query(
                        "DELETE FROM server_metadata WHERE account_id = \(account.rawValue) AND name = \(name)", logger: logger)
                }
            }
            let counted = if let mailbox {
                try await connection.rows("SELECT count(*) FROM mailbox_metadata WHERE mailbox_id = \(mailbox.rawValue)", logger)
            } else {
                try await connection.rows("SELECT count(*) FROM server_metadata WHERE account_id = \(account.rawValue)", logger)
            }
            let count = try counted.first?.decode(Int64.self) ?? 0
            if count > maximumEntries { throw MailStoreError.tooManyMetadataEntries(maximumEntries) }
        }
    }
}
