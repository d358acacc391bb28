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

    package init(
        id: QueueRecipientID, recipient: String, state: QueueState, attempts: Int, nextAttemptAt: Date,
        lastError: String?, leaseOwner: String?, leaseExpiresAt: Date?
    ) {
        self.id = id
        self.recipient = recipient
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
    }
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

    package init(
        id: QueueMessageID, sender: String?, envelopeID: String?, returnContent: String?, authenticatedAs: String?,
        receivedAt: Date, size: Int64, recipients: [QueueRecipientStatus]
    ) {
        self.id = id
        self.sender = sender
        self.envelopeID = envelopeID
        self.returnContent = returnContent
        self.authenticatedAs = authenticatedAs
        self.receivedAt = receivedAt
        self.size = size
        self.recipients = recipients
    }
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
        try await self.queue.queueMessages(matching: filter, after: after ?? 0, limit: limit, now: Date())
    }

    public func queueMessage(_ id: QueueMessageID) async throws(MailStoreError) -> QueueMessageDetail? {
        try await self.queue.queueMessage(id, now: Date())
    }

    /// Makes the message's pending recipients due now. Leased recipients keep their lease (the worker
    /// holding them decides); returns how many recipients were rescheduled.
    @discardableResult
    public func retryQueueMessageNow(_ id: QueueMessageID, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> Int
    {
        try await self.queue.retryQueueMessageNow(id, now: now, audit: audit)
    }

    /// Gives up on the message's pending recipients (operator bounce). Refused while a worker holds
    /// one of them, so the API never races a delivery in progress.
    @discardableResult
    public func bounceQueueMessage(_ id: QueueMessageID, reason: String, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> Int
    {
        try await self.queue.bounceQueueMessage(id, reason: reason, now: now, audit: audit)
    }

    /// Removes a queued message and its recipients without delivering or bouncing. Refused while a
    /// worker holds one of its recipients.
    public func deleteQueueMessage(_ id: QueueMessageID, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError)
    {
        try await self.queue.deleteQueueMessage(id, now: now, audit: audit)
    }

    /// Makes every pending recipient due now (like `postqueue -f`); returns how many.
    @discardableResult
    public func flushQueue(now: Date = Date(), audit: AuditActor? = nil) async throws(MailStoreError) -> Int {
        try await self.queue.flushQueue(now: now, audit: audit)
    }

    /// Recipients delivered and bounced in each of the last `hours` hours, oldest first, the current
    /// hour last (counted so far). Finished recipients are kept as long as the retention policy keeps
    /// finished queue entries, so hours before that show none.
    public func queueActivity(hours: Int, now: Date = Date()) async throws(MailStoreError) -> [QueueActivityHour] {
        let count = max(1, hours)
        let currentHour = (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600
        let first = Date(timeIntervalSince1970: currentHour - Double(count - 1) * 3600)
        var byHour: [Date: (delivered: Int, bounced: Int)] = [:]
        for row in try await self.queue.finishedRecipientsByHour(since: first) {
            byHour[row.hour] = (row.delivered, row.bounced)
        }
        return (0..<count).map { index in
            let start = first.addingTimeInterval(Double(index) * 3600)
            let counts = byHour[start] ?? (0, 0)
            return QueueActivityHour(start: start, delivered: counts.delivered, bounced: counts.bounced)
        }
    }

    /// Deferred recipients per destination domain, most first.
    public func deferralsByDomain(limit: Int = 100) async throws(MailStoreError) -> [(domain: String, count: Int)] {
        try await self.queue.deferralsByDomain(limit: limit)
    }
}

/// The SQLite backend's queue administration helpers.
extension MailStore {
    static func fetchQueueMessage(_ db: Database, id: Int64, now: Date) throws -> QueueMessageDetail? {
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
            let leased = expires.map { $0 > now } ?? false
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
