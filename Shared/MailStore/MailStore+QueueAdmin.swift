import Foundation
import GRDB

/// One recipient of a queued message, as operators see it.
public struct QueueRecipientStatus: Sendable, Equatable {
    public let id: QueueRecipientID
    public let recipient: String
    public let state: QueueState
    public let attempts: Int
    public let nextAttemptAt: Date
    /// The last remote reply or local error.
    public let lastError: String?
    /// Set while a worker holds the recipient (its lease has not expired).
    public let leaseOwner: String?
    public let leaseExpiresAt: Date?
}

/// A queued message with its envelope and every recipient's state.
public struct QueueMessageDetail: Sendable, Equatable {
    public let id: QueueMessageID
    public let sender: String?
    public let envelopeID: String?
    public let returnContent: String?
    public let authenticatedAs: String?
    public let receivedAt: Date
    public let size: Int64
    public let recipients: [QueueRecipientStatus]
}

/// Which queued messages to list. A message matches when one of its recipients matches every given
/// recipient condition.
public struct QueueFilter: Sendable, Equatable {
    public var state: QueueState?
    public var sender: String?
    public var recipientDomain: String?
    public init(state: QueueState? = nil, sender: String? = nil, recipientDomain: String? = nil) {
        self.state = state
        self.sender = sender
        self.recipientDomain = recipientDomain
    }
}

extension MailStore {
    /// Queued messages in id order, filtered; `after` (a message id) and `limit` page.
    public func queueMessages(matching filter: QueueFilter, after: Int64? = nil, limit: Int = 100)
        async throws(MailStoreError) -> [QueueMessageDetail]
    {
        try await self.read { db in
            let ids = try Int64.fetchAll(
                db,
                sql: """
                    SELECT m.id FROM queueMessage m
                    WHERE m.id > ?
                      AND (? IS NULL OR m.sender = ? COLLATE NOCASE)
                      AND EXISTS (SELECT 1 FROM queueRecipient r WHERE r.queueMessageId = m.id
                                  AND (? IS NULL OR \(QueueState.reportedSQL) = ?)
                                  AND (? IS NULL OR r.recipient LIKE '%@' || ? ESCAPE '\\'))
                    ORDER BY m.id LIMIT ?
                    """,
                arguments: [
                    after ?? 0, filter.sender, filter.sender, filter.state?.rawValue, Date(), filter.state?.rawValue,
                    filter.recipientDomain, filter.recipientDomain.map(Self.likeEscaped), min(limit, Int(Int32.max)),
                ])
            return try ids.compactMap { try Self.fetchQueueMessage(db, id: $0) }
        }
    }

    public func queueMessage(_ id: QueueMessageID) async throws(MailStoreError) -> QueueMessageDetail? {
        try await self.read { db in try Self.fetchQueueMessage(db, id: id.rawValue) }
    }

    /// Makes the message's pending recipients due now. Leased recipients keep their lease (the worker
    /// holding them decides); returns how many recipients were rescheduled.
    @discardableResult
    public func retryQueueMessageNow(_ id: QueueMessageID, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> Int
    {
        try await self.write { db in
            try Self.requireQueueMessage(db, id: id)
            try db.execute(
                sql: """
                    UPDATE queueRecipient SET nextAttemptAt = ?, updatedAt = ?
                    WHERE queueMessageId = ? AND state IN ('queued', 'deferred')
                    """, arguments: [now, now, id.rawValue])
            let count = db.changesCount
            try SQLiteDirectory.appendAudit(db, audit, action: "queue.retry", target: id.description, detail: nil, now: now)
            return count
        }
    }

    /// Gives up on the message's pending recipients (operator bounce). Refused while a worker holds
    /// one of them, so the API never races a delivery in progress.
    @discardableResult
    public func bounceQueueMessage(_ id: QueueMessageID, reason: String, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> Int
    {
        try await self.write { db in
            try Self.requireQueueMessage(db, id: id)
            try Self.refuseWhileLeased(db, id: id, now: now)
            try db.execute(
                sql: """
                    UPDATE queueRecipient SET state = 'bounced', lastError = ?, updatedAt = ?
                    WHERE queueMessageId = ? AND state IN ('queued', 'deferred')
                    """, arguments: [reason, now, id.rawValue])
            let count = db.changesCount
            try SQLiteDirectory.appendAudit(db, audit, action: "queue.bounce", target: id.description, detail: reason, now: now)
            return count
        }
    }

    /// Removes a queued message and its recipients without delivering or bouncing. Refused while a
    /// worker holds one of its recipients.
    public func deleteQueueMessage(_ id: QueueMessageID, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError)
    {
        try await self.write { db in
            try Self.requireQueueMessage(db, id: id)
            try Self.refuseWhileLeased(db, id: id, now: now)
            try db.execute(sql: "DELETE FROM queueMessage WHERE id = ?", arguments: [id.rawValue])
            try Self.deleteUnreferencedBlobs(db)
            try SQLiteDirectory.appendAudit(db, audit, action: "queue.delete", target: id.description, detail: nil, now: now)
        }
    }

    /// Makes every pending recipient due now (like `postqueue -f`); returns how many.
    @discardableResult
    public func flushQueue(now: Date = Date(), audit: AuditActor? = nil) async throws(MailStoreError) -> Int {
        try await self.write { db in
            try db.execute(
                sql: """
                    UPDATE queueRecipient SET nextAttemptAt = ?, updatedAt = ?
                    WHERE state IN ('queued', 'deferred') AND nextAttemptAt > ?
                    """, arguments: [now, now, now])
            let count = db.changesCount
            try SQLiteDirectory.appendAudit(db, audit, action: "queue.flush", target: "*", detail: "\(count)", now: now)
            return count
        }
    }

    /// Deferred recipients per destination domain, most first.
    public func deferralsByDomain(limit: Int = 100) async throws(MailStoreError) -> [(domain: String, count: Int)] {
        try await self.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT lower(substr(recipient, instr(recipient, '@') + 1)) AS domain, count(*) AS n
                    FROM queueRecipient WHERE state = 'deferred' GROUP BY domain ORDER BY n DESC, domain LIMIT ?
                    """, arguments: [limit]
            ).map { ($0["domain"], $0["n"]) }
        }
    }

    static func fetchQueueMessage(_ db: Database, id: Int64) throws -> QueueMessageDetail? {
        guard let row = try Row.fetchOne(
            db,
            sql: """
                SELECT m.*, b.size FROM queueMessage m JOIN messageBlob b ON b.id = m.messageBlobId WHERE m.id = ?
                """, arguments: [id])
        else { return nil }
        let recipients = try Row.fetchAll(
            db, sql: "SELECT * FROM queueRecipient WHERE queueMessageId = ? ORDER BY id", arguments: [id]
        ).compactMap { row -> QueueRecipientStatus? in
            guard let stored = QueueState(rawValue: row["state"]) else { return nil }
            let expires: Date? = row["leaseExpiresAt"]
            let leased = expires.map { $0 > Date() } ?? false
            let state = leased && (stored == .queued || stored == .deferred) ? .delivering : stored
            return QueueRecipientStatus(
                id: QueueRecipientID(row["id"]), recipient: row["recipient"], state: state, attempts: row["attempts"],
                nextAttemptAt: row["nextAttemptAt"], lastError: row["lastError"],
                leaseOwner: leased ? row["leaseOwner"] : nil, leaseExpiresAt: leased ? expires : nil)
        }
        return QueueMessageDetail(
            id: QueueMessageID(id), sender: row["sender"], envelopeID: row["envelopeId"],
            returnContent: row["returnContent"], authenticatedAs: row["authenticatedAs"],
            receivedAt: row["receivedAt"], size: row["size"], recipients: recipients)
    }

    static func requireQueueMessage(_ db: Database, id: QueueMessageID) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM queueMessage WHERE id = ?", arguments: [id.rawValue]) == true
        else { throw MailStoreError.unknownQueueMessage(id.rawValue) }
    }

    static func refuseWhileLeased(_ db: Database, id: QueueMessageID, now: Date) throws {
        let leased = try Int.fetchOne(
            db,
            sql: """
                SELECT count(*) FROM queueRecipient
                WHERE queueMessageId = ? AND state IN ('queued', 'deferred') AND leaseExpiresAt > ?
                """, arguments: [id.rawValue, now]) ?? 0
        if leased > 0 { throw MailStoreError.queueMessageBusy(id.rawValue) }
    }

    /// Escapes `%`, `_` and the escape character itself for a LIKE pattern.
    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
