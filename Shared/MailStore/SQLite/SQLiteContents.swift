import Foundation
import GRDB

/// Uploads and piecewise reads of content in the SQLite file.
struct SQLiteContents: ContentBackend {
    let access: SQLiteAccess
    /// APPEND's group commit, which an upload's append shares with whole appends.
    let appends: GroupCommit<AppendWork, StoredMessage>

    func beginUpload(now: Date) async throws(MailStoreError) -> ContentUpload {
        try await self.access.writeWithoutSync { db in
            try db.cachedStatement(
                sql: "INSERT INTO messageBlob(content, size, createdAt, layout) VALUES (x'', 0, ?, 'upload')"
            ).execute(arguments: [now])
            return ContentUpload(blobID: db.lastInsertedRowID)
        }
    }

    func appendToUpload(_ upload: ContentUpload, piece: Data, sequence: Int, now: Date) async throws(MailStoreError) {
        let blobID = upload.blobID
        try await self.access.writeWithoutSync { db in
            try db.cachedStatement(
                sql: "UPDATE messageBlob SET size = size + ?, createdAt = ? WHERE id = ? AND layout = 'upload'"
            ).execute(arguments: [piece.count, now, blobID])
            guard db.changesCount == 1 else { throw MailStoreError.unavailable("upload \(blobID) is gone (abandoned?)") }
            try db.cachedStatement(sql: "INSERT INTO messageChunk(messageBlobId, seq, data) VALUES (?, ?, ?)")
                .execute(arguments: [blobID, sequence, piece])
        }
    }

    func discardUpload(_ upload: ContentUpload) async throws(MailStoreError) {
        try await self.access.writeWithoutSync { db in
            try db.cachedStatement(sql: "DELETE FROM messageBlob WHERE id = ? AND layout = 'upload'")
                .execute(arguments: [upload.blobID])
        }
    }

    func appendMessage(_ upload: ContentUpload, header: Data, to mailbox: MailboxID, flags: Set<String>, internalDate: Date)
        async throws(MailStoreError) -> StoredMessage
    {
        let content = AcceptedContent.uploaded(upload, prefix: Data(), header: header)
        do {
            return try await self.appends.submit(
                AppendWork(content: content, mailbox: mailbox, flags: flags, internalDate: internalDate),
                bytes: content.bytesWritten, in: self.access)
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    func appendMessages(_ messages: [NewMessage], to mailbox: MailboxID, enforcingQuota: Bool) async throws(MailStoreError) -> [StoredMessage] {
        try await self.access.write { db in
            var stored: [StoredMessage] = []
            for message in messages {
                let content: AcceptedContent = switch message.content {
                case .whole(let data): .whole(data)
                case .uploaded(let upload, let header): .uploaded(upload, prefix: Data(), header: header)
                }
                if let uid = message.uid { try Self.fileNext(db, mailbox: mailbox, as: uid) }
                let (blobID, size) = try MailStore.insertContent(db, content, now: message.internalDate)
                stored.append(
                    try MailStore.insertMailboxMessage(
                        db, mailboxID: mailbox.rawValue, blobID: blobID, headerPrefix: Data(), size: Int64(size), flags: message.flags,
                        internalDate: message.internalDate))
            }
            if enforcingQuota { try MailStore.requireWithinQuota(db, mailboxID: mailbox.rawValue) }
            return stored
        }
    }

    /// Makes `uid` the mailbox's next UID, for a message that keeps its UID from another server.
    static func fileNext(_ db: Database, mailbox: MailboxID, as uid: UInt32) throws {
        guard let next = try Int64.fetchOne(db, sql: "SELECT uidNext FROM mailbox WHERE id = ?", arguments: [mailbox.rawValue]) else {
            throw MailStoreError.unknownMailbox(String(mailbox.rawValue))
        }
        guard Int64(uid) >= next else {
            throw MailStoreError.numberingConflict("UID \(uid) is below the mailbox's next UID \(next)")
        }
        try db.execute(sql: "UPDATE mailbox SET uidNext = ? WHERE id = ?", arguments: [Int64(uid), mailbox.rawValue])
    }

    func contentReader(in mailbox: MailboxID, uid: UInt32) async throws(MailStoreError) -> ContentReader? {
        try await self.access.read { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT b.id, b.layout, b.size, m.headerPrefix FROM mailboxMessage m
                    JOIN messageBlob b ON b.id = m.messageBlobId WHERE m.mailboxId = ? AND m.uid = ?
                    """), arguments: [mailbox.rawValue, Int64(uid)])
            else { return nil }
            return ContentReader(blobID: row[0], layout: row[1], storedSize: row[2], prefix: row[3])
        }
    }

    func contentReader(ofQueued message: QueueMessageID) async throws(MailStoreError) -> ContentReader? {
        try await self.access.read { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT b.id, b.layout, b.size, CASE WHEN b.layout = 'inline' AND b.size <= ?2 THEN b.content END
                    FROM queueMessage m JOIN messageBlob b ON b.id = m.messageBlobId WHERE m.id = ?1
                    """), arguments: [message.rawValue, ContentReader.pieceBytes])
            else { return nil }
            return ContentReader(blobID: row[0], layout: row[1], storedSize: row[2], prefix: Data(), loaded: row[3])
        }
    }

    func piece(ofContent content: Int64, after sequence: Int64) async throws(MailStoreError) -> (sequence: Int64, data: Data)? {
        try await self.access.read { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT seq, data FROM messageChunk WHERE messageBlobId = ? AND seq > ? ORDER BY seq LIMIT 1"),
                arguments: [content, sequence])
            else { return nil }
            return (row[0], row[1])
        }
    }

    func slice(ofContent content: Int64, from offset: Int64, length: Int) async throws(MailStoreError) -> Data? {
        try await self.access.read { db in
            try Data.fetchOne(
                db.cachedStatement(sql: "SELECT substr(content, ?, ?) FROM messageBlob WHERE id = ?"),
                arguments: [offset + 1, length, content])
        }
    }

    /// SQLite documents answering `length()` of a blob without reading its bytes.
    func pieceLengths(ofContent content: Int64) async throws(MailStoreError) -> [(sequence: Int64, length: Int64)] {
        try await self.access.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT seq, length(data) FROM messageChunk WHERE messageBlobId = ? ORDER BY seq"),
                arguments: [content]
            ).map { ($0[0], $0[1]) }
        }
    }
}
