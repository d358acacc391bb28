import Foundation
import GRDB
import MailFormat

/// One `acceptMessage` call, as the group commit carries it.
struct AcceptanceWork: Sendable {
    let content: AcceptedContent
    let envelope: Envelope
    let receivedAt: Date
}

/// One `deliverLocally` call, as the group commit carries it.
struct LocalDeliveryWork: Sendable {
    let lease: QueueLease
    let mailbox: MailboxID
    let headerPrefix: Data
    let markReported: Bool
    let now: Date
}

struct OutcomeWork: Sendable {
    let outcome: DeliveryOutcome
    let lease: QueueLease
    let now: Date
    let markReported: Bool
}

extension MailStore {
    /// Stores the message once and queues one delivery per recipient, in a single transaction.
    /// Returns only after the durable commit, which is what makes an SMTP "250" true.
    public func acceptMessage(_ content: Data, envelope: Envelope, receivedAt: Date = Date())
        async throws(MailStoreError) -> AcceptedMessage
    {
        guard !envelope.recipients.isEmpty else { throw .invalidArgument("a message needs at least one recipient") }
        return try await self.queue.acceptMessage(content, envelope: envelope, receivedAt: receivedAt)
    }

    /// `acceptMessage` for content written beforehand as an upload, with `prefix` (the `Received:`
    /// line) put in front of it; `header` is the upload's header section through its empty line. The
    /// upload is the message's content from this commit on: it is not to be discarded afterwards.
    public func acceptMessage(
        _ upload: ContentUpload, leadingWith prefix: Data, header: Data, envelope: Envelope, receivedAt: Date = Date()
    ) async throws(MailStoreError) -> AcceptedMessage {
        guard !envelope.recipients.isEmpty else { throw .invalidArgument("a message needs at least one recipient") }
        return try await self.queue.acceptMessage(
            upload, leadingWith: prefix, header: header, envelope: envelope, receivedAt: receivedAt)
    }

    /// How many messages `acceptMessage` has handed to the database and in how many transactions
    /// (their ratio is the group-commit batch size).
    public var acceptanceStatistics: (messages: Int, commits: Int) { self.queue.acceptanceStatistics }

    /// Claims up to `limit` due recipients for `owner` until `now + leaseDuration`. Two workers, in one
    /// process or on several hosts, never claim the same recipient at once; a recipient whose lease
    /// expired (its worker died) is due again.
    public func leaseQueueItems(
        owner: String, limit: Int, leaseDuration: Duration, scope: LeaseScope = .all, now: Date = Date()
    ) async throws(MailStoreError) -> [QueueLease] {
        guard limit > 0 else { return [] }
        let expiresAt = now.addingTimeInterval(TimeInterval(leaseDuration.components.seconds))
        return try await self.queue.leaseQueueItems(owner: owner, limit: limit, expiresAt: expiresAt, scope: scope, now: now)
    }

    /// Records the outcome of one delivery attempt and releases the lease. Throws `leaseLost` when the
    /// lease expired and another worker may have taken the recipient over: the outcome is then not
    /// recorded, and the caller must treat its delivery as a possible duplicate.
    /// `noticeHandedOn`: the next hop took the DSN request (RFC 3461 §5.2.2), so no success notice is
    /// due from here.
    public func recordOutcome(
        _ outcome: DeliveryOutcome, for lease: QueueLease, now: Date = Date(), noticeHandedOn: Bool = false
    ) async throws(MailStoreError) {
        try await self.queue.recordOutcome(
            outcome, for: lease, markReported: noticeHandedOn || !Self.wantsSuccessNotice(lease.notify), now: now)
    }

    /// A delivered recipient is marked reported at once unless it asked for a success notice, so the
    /// set of unreported delivered rows (scanned for success notices) stays small.
    static func wantsSuccessNotice(_ notify: String?) -> Bool {
        notify?.uppercased().contains("SUCCESS") ?? false
    }

    /// Local delivery, exactly once: files the queued message into `mailbox` (with `headerPrefix`,
    /// e.g. Return-Path and Delivered-To, in front of the shared content) and marks the recipient
    /// delivered, in one transaction.
    @discardableResult
    public func deliverLocally(_ lease: QueueLease, into mailbox: MailboxID, headerPrefix: Data, now: Date = Date())
        async throws(MailStoreError) -> StoredMessage
    {
        try await self.queue.deliverLocally(
            lease, into: mailbox, headerPrefix: headerPrefix, markReported: !Self.wantsSuccessNotice(lease.notify), now: now)
    }

    /// Alias expansion, exactly once: the recipient is marked done ("expanded") and each target queued
    /// as a recipient of the same message, in one transaction. The targets inherit ORCPT (or get the
    /// alias as their original recipient) and NOTIFY, and count one more expansion; the alias itself is
    /// marked reported, since the targets carry the DSN request on and get the notices themselves.
    public func expandRecipient(_ lease: QueueLease, into targets: [EmailAddress], now: Date = Date())
        async throws(MailStoreError)
    {
        let note = "expanded to " + targets.map(\.description).joined(separator: ", ")
        try await self.queue.expandRecipient(
            lease, into: targets, originalRecipient: lease.originalRecipient ?? "rfc822;\(lease.recipient)",
            note: String(note.prefix(1000)), now: now)
    }

    /// Recipients owed a notice of `kind`, grouped by message. Failures: bounced and not reported.
    /// Delays: deferred, queued before the cut-off, not warned. Successes: delivered with SUCCESS in
    /// NOTIFY and not reported (a next hop that took the DSN request marked them reported).
    public func pendingReports(_ kind: ReportKind, limit: Int = 50) async throws(MailStoreError) -> [PendingBounceReport] {
        try await self.queue.pendingReports(kind, limit: limit)
    }

    /// Marks the recipients reported and, when `report` is given, queues it (from the null reverse-path,
    /// so it can never bounce back) in the same transaction: each notice goes out exactly once even
    /// with several workers. Returns false, queueing nothing, when another worker reported them first.
    @discardableResult
    public func recordBounceReport(
        for recipients: [QueueRecipientID], report: (content: Data, recipient: EmailAddress)?, kind: ReportKind = .failure,
        now: Date = Date()
    ) async throws(MailStoreError) -> Bool {
        guard !recipients.isEmpty else { return true }
        return try await self.queue.recordReport(for: recipients, kind: kind, queueing: report, now: now)
    }

    /// The header section and the size of a queued message's content: what local delivery checks (loops,
    /// quota) without reading the content itself, which may be tens of megabytes.
    public func queuedHeader(_ message: QueueMessageID) async throws(MailStoreError) -> (header: Data, size: Int64)? {
        try await self.queue.queuedHeader(message)
    }

    /// What a local delivery of `lease` reads before filing (`LocalDeliveryPlan`), in one read; nil when
    /// an operator deleted the message since it was leased.
    public func localDeliveryPlan(for lease: QueueLease) async throws(MailStoreError) -> LocalDeliveryPlan? {
        try await self.queue.localDeliveryPlan(for: lease)
    }

    /// The content of a queued message, for the relay and for bounces.
    public func queuedContent(_ message: QueueMessageID) async throws(MailStoreError) -> Data? {
        try await self.queue.queuedContent(message)
    }

    /// The state of every recipient of a queued message, in insertion order.
    public func queueRecipientStates(of message: QueueMessageID) async throws(MailStoreError)
        -> [(recipient: String, state: QueueState, attempts: Int)]
    {
        try await self.queue.queueRecipientStates(of: message)
    }

    public func queueStats() async throws(MailStoreError) -> QueueStats {
        try await self.queue.queueStats(now: Date())
    }
}

/// The SQLite backend's queue helpers, inside its transactions.
extension MailStore {
    static func insertAcceptedMessage(_ db: Database, content: AcceptedContent, envelope: Envelope, receivedAt: Date) throws
        -> AcceptedMessage
    {
        let (blobID, _) = try Self.insertContent(db, content, now: receivedAt)
        try db.cachedStatement(sql: """
                INSERT INTO queueMessage(messageBlobId, sender, envelopeId, returnContent, authenticatedAs, receivedAt, quarantined)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                blobID, envelope.sender?.description, envelope.envelopeID, envelope.returnContent,
                envelope.authenticatedAs, receivedAt, envelope.quarantined,
            ])
        let messageID = db.lastInsertedRowID
        for recipient in envelope.recipients {
            try db.cachedStatement(sql: """
                    INSERT INTO queueRecipient(queueMessageId, recipient, domain, originalRecipient, notify, state,
                                               nextAttemptAt, updatedAt)
                    VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)
                    """).execute(arguments: [
                    messageID, recipient.address.description, recipient.address.domain.lowercased(),
                    recipient.originalRecipient, recipient.notify, receivedAt, receivedAt,
                ])
        }
        return AcceptedMessage(id: QueueMessageID(messageID), recipientCount: envelope.recipients.count)
    }

    static func applyOutcome(_ db: Database, _ work: OutcomeWork) throws {
        try Self.checkLease(db, work.lease, now: work.now)
        let state: QueueState
        var nextAttempt = work.now
        var error: String?
        switch work.outcome {
        case .delivered:
            state = .delivered
        case .deferred(let until, let reason):
            state = .deferred
            nextAttempt = until
            error = reason
        case .bounced(let reason):
            state = .bounced
            error = reason
        }
        try db.cachedStatement(sql: """
                UPDATE queueRecipient SET state = ?, attempts = attempts + 1, nextAttemptAt = ?,
                    lastError = coalesce(?, lastError), leaseOwner = NULL, leaseExpiresAt = NULL, updatedAt = ?,
                    reportedAt = CASE WHEN ? THEN ? ELSE reportedAt END
                WHERE id = ?
                """).execute(arguments: [
                    state.rawValue, nextAttempt, error, work.now,
                    state == .delivered && work.markReported, work.now,
                    work.lease.recipientID.rawValue,
                ])
    }

    static func fileQueuedMessage(_ db: Database, _ work: LocalDeliveryWork) throws -> StoredMessage {
        try Self.checkLease(db, work.lease, now: work.now)
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT b.id, b.size FROM queueMessage m JOIN messageBlob b ON b.id = m.messageBlobId WHERE m.id = ?"), arguments: [work.lease.messageID.rawValue])
        else { throw MailStoreError.unavailable("queue message \(work.lease.messageID) has no content") }
        let blobSize: Int64 = row["size"]
        let stored = try Self.insertMailboxMessage(
            db, mailboxID: work.mailbox.rawValue, blobID: row["id"], headerPrefix: work.headerPrefix,
            size: blobSize + Int64(work.headerPrefix.count), flags: [], internalDate: work.now)
        // Checked here, in the delivery's own savepoint, as well as by the worker beforehand: two
        // deliveries to one account can both pass the worker's check before either is filed.
        try Self.requireWithinQuota(db, mailboxID: work.mailbox.rawValue)
        try db.cachedStatement(sql: """
                UPDATE queueRecipient SET state = 'delivered', attempts = attempts + 1, leaseOwner = NULL,
                    leaseExpiresAt = NULL, updatedAt = ?, reportedAt = ?
                WHERE id = ?
                """).execute(arguments: [
                    work.now, work.markReported ? work.now : nil, work.lease.recipientID.rawValue,
                ])
        return stored
    }

    static func checkLease(_ db: Database, _ lease: QueueLease, now: Date) throws {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT leaseOwner, leaseExpiresAt, state FROM queueRecipient WHERE id = ?"), arguments: [lease.recipientID.rawValue])
        guard let row, row["leaseOwner"] as String? == lease.owner,
            let expiry = row["leaseExpiresAt"] as Date?, expiry > now,
            ["queued", "deferred"].contains(row["state"] as String)
        else { throw MailStoreError.leaseLost(lease.recipientID.rawValue) }
    }
}
