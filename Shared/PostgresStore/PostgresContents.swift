import Foundation
import Logging
import MailStore
import PostgresNIO

/// Uploads and piecewise reads of content in PostgreSQL, laid out as in the SQLite file. An upload's
/// pieces commit without waiting for the disk (`synchronous_commit = off`): the WAL is written in
/// order, so the durable commit that accepts the message makes every earlier piece durable with it.
struct PostgresContents: ContentBackend {
    let access: PostgresAccess
    var logger: Logger { self.access.logger }

    func beginUpload(now: Date) async throws(MailStoreError) -> ContentUpload {
        let logger = self.logger
        return try await self.access.transaction(durable: false) { connection in
            guard let row = try await connection.rows(
                "INSERT INTO message_blob (layout, content, size, created_at) VALUES ('upload', '', 0, \(now)) RETURNING id", logger
            ).first else { throw MailStoreError.unavailable("starting an upload gave no id") }
            return ContentUpload(blobID: try row.decode(Int64.self))
        }
    }

    func appendToUpload(_ upload: ContentUpload, piece: Data, sequence: Int, now: Date) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction(durable: false) { connection in
            guard try await !connection.rows(
                """
                UPDATE message_blob SET size = size + \(Int64(piece.count)), created_at = \(now)
                WHERE id = \(upload.blobID) AND layout = 'upload' RETURNING id
                """, logger
            ).isEmpty else { throw MailStoreError.unavailable("upload \(upload.blobID) is gone (abandoned?)") }
            try await connection.query(
                "INSERT INTO message_chunk (message_blob_id, seq, data) VALUES (\(upload.blobID), \(Int32(sequence)), \(piece))",
                logger: logger)
        }
    }

    func discardUpload(_ upload: ContentUpload) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction(durable: false) { connection in
            try await connection.query("DELETE FROM message_blob WHERE id = \(upload.blobID) AND layout = 'upload'", logger: logger)
        }
    }

    func appendMessage(_ upload: ContentUpload, header: Data, to mailbox: MailboxID, flags: Set<String>, internalDate: Date)
        async throws(MailStoreError) -> StoredMessage
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            let blob = try await Self.sealUpload(connection, upload, prefix: Data(), header: header, now: internalDate, logger)
            let stored = try await PostgresMailboxes.insertMailboxMessage(
                connection, mailboxID: mailbox.rawValue, blobID: blob, headerPrefix: Data(), size: Int64(upload.size),
                flags: flags, internalDate: internalDate, logger)
            try await PostgresMailboxes.requireWithinQuota(connection, mailboxID: mailbox.rawValue, logger)
            return stored
        }
    }

    func appendMessages(_ messages: [NewMessage], to mailbox: MailboxID, enforcingQuota: Bool) async throws(MailStoreError) -> [StoredMessage] {
        let logger = self.logger
        return try await self.access.transaction { connection in
            var stored: [StoredMessage] = []
            for message in messages {
                if let uid = message.uid {
                    // The message keeps its UID from another server: it becomes the mailbox's next UID.
                    // One statement when it fits; why it does not is looked up only then.
                    let raised = try await connection.rows(
                        """
                        UPDATE mailbox SET uid_next = \(Int64(uid)) WHERE id = \(mailbox.rawValue) AND uid_next <= \(Int64(uid))
                        RETURNING id
                        """, logger)
                    if raised.isEmpty {
                        guard let row = try await connection.rows("SELECT uid_next FROM mailbox WHERE id = \(mailbox.rawValue)", logger).first
                        else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
                        throw MailStoreError.numberingConflict("UID \(uid) is below the mailbox's next UID \(try row.decode(Int64.self))")
                    }
                }
                let blob: Int64
                let size: Int
                switch message.content {
                case .whole(let data):
                    blob = try await PostgresMailboxes.insertContent(connection, data, now: message.internalDate, logger)
                    size = data.count
                case .uploaded(let upload, let header):
                    blob = try await Self.sealUpload(connection, upload, prefix: Data(), header: header, now: message.internalDate, logger)
                    size = upload.size
                }
                stored.append(
                    try await PostgresMailboxes.insertMailboxMessage(
                        connection, mailboxID: mailbox.rawValue, blobID: blob, headerPrefix: Data(), size: Int64(size),
                        flags: message.flags, internalDate: message.internalDate, logger))
            }
            if enforcingQuota { try await PostgresMailboxes.requireWithinQuota(connection, mailboxID: mailbox.rawValue, logger) }
            return stored
        }
    }

    /// Turns an upload into stored content inside the accepting transaction: `prefix` becomes piece 0
    /// and the header section is kept apart. Fails if the upload was purged as abandoned meanwhile.
    static func sealUpload(
        _ connection: PostgresConnection, _ upload: ContentUpload, prefix: Data, header: Data, now: Date, _ logger: Logger
    ) async throws -> Int64 {
        guard try await !connection.rows(
            """
            UPDATE message_blob SET layout = 'chunks', size = \(Int64(upload.size + prefix.count)), created_at = \(now)
            WHERE id = \(upload.blobID) AND layout = 'upload' RETURNING id
            """, logger
        ).isEmpty else { throw MailStoreError.unavailable("upload \(upload.blobID) is gone (abandoned?)") }
        if !prefix.isEmpty {
            try await connection.query(
                "INSERT INTO message_chunk (message_blob_id, seq, data) VALUES (\(upload.blobID), 0, \(prefix))", logger: logger)
        }
        try await connection.query(
            "INSERT INTO message_header (message_blob_id, header) VALUES (\(upload.blobID), \(prefix + header))", logger: logger)
        return upload.blobID
    }

    func contentReader(in mailbox: MailboxID, uid: UInt32) async throws(MailStoreError) -> ContentReader? {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                """
                SELECT b.id, b.layout, b.size, m.header_prefix FROM mailbox_message m
                JOIN message_blob b ON b.id = m.message_blob_id WHERE m.mailbox_id = \(mailbox.rawValue) AND m.uid = \(Int64(uid))
                """, logger
            ).first else { return nil }
            let (blob, layout, size, prefix) = try row.decode((Int64, String, Int64, Data).self)
            return ContentReader(blobID: blob, layout: layout, storedSize: size, prefix: prefix)
        }
    }

    func contentReader(ofQueued message: QueueMessageID) async throws(MailStoreError) -> ContentReader? {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                """
                SELECT b.id, b.layout, b.size,
                    CASE WHEN b.layout = 'inline' AND b.size <= \(Int64(ContentReader.pieceBytes)) THEN b.content END
                FROM queue_message m JOIN message_blob b ON b.id = m.message_blob_id WHERE m.id = \(message.rawValue)
                """, logger
            ).first else { return nil }
            let (blob, layout, size, loaded) = try row.decode((Int64, String, Int64, Data?).self)
            return ContentReader(blobID: blob, layout: layout, storedSize: size, prefix: Data(), loaded: loaded)
        }
    }

    func piece(ofContent content: Int64, after sequence: Int64) async throws(MailStoreError) -> (sequence: Int64, data: Data)? {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                """
                SELECT seq, data FROM message_chunk WHERE message_blob_id = \(content) AND seq > \(Int32(clamping: sequence))
                ORDER BY seq LIMIT 1
                """, logger
            ).first else { return nil }
            let (number, data) = try row.decode((Int32, Data).self)
            return (Int64(number), data)
        }
    }

    func slice(ofContent content: Int64, from offset: Int64, length: Int) async throws(MailStoreError) -> Data? {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT substring(content FROM \(Int32(clamping: offset + 1)) FOR \(Int32(clamping: length)))
                FROM message_blob WHERE id = \(content)
                """, logger
            ).first?.decode(Data.self)
        }
    }

    func pieceLengths(ofContent content: Int64) async throws(MailStoreError) -> [(sequence: Int64, length: Int64)] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT seq, octet_length(data)::bigint FROM message_chunk WHERE message_blob_id = \(content) ORDER BY seq", logger
            ).map { row in
                let (number, length) = try row.decode((Int32, Int64).self)
                return (Int64(number), length)
            }
        }
    }
}
