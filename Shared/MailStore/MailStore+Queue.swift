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
    let now: Date
}

struct OutcomeWork: Sendable {
    let outcome: DeliveryOutcome
    let lease: QueueLease
    let now: Date
    let noticeHandedOn: Bool
}

extension MailStore {
    /// Stores the message once and queues one delivery per recipient, in a single transaction.
    /// Returns only after COMMIT with synchronous=FULL, which is what makes an SMTP "250" true.
    /// Concurrent acceptances share a commit (`AcceptanceBatcher`); each still returns only after the
    /// commit that holds it.
    public func acceptMessage(_ content: Data, envelope: Envelope, receivedAt: Date = Date())
        async throws(MailStoreError) -> AcceptedMessage
    {
        guard !envelope.recipients.isEmpty else { throw .invalidArgument("a message needs at least one recipient") }
        do {
            return try await self.acceptances.submit(
                AcceptanceWork(content: .whole(content), envelope: envelope, receivedAt: receivedAt), bytes: content.count,
                in: self.sqliteAccess())
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    /// `acceptMessage` for content written beforehand as an upload, with `prefix` (the `Received:`
    /// line) put in front of it; `header` is the upload's header section through its empty line. The
    /// upload is the message's content from this commit on: it is not to be discarded afterwards.
    public func acceptMessage(
        _ upload: ContentUpload, leadingWith prefix: Data, header: Data, envelope: Envelope, receivedAt: Date = Date()
    ) async throws(MailStoreError) -> AcceptedMessage {
        guard !envelope.recipients.isEmpty else { throw .invalidArgument("a message needs at least one recipient") }
        let content = AcceptedContent.uploaded(upload, prefix: prefix, header: header)
        do {
            return try await self.acceptances.submit(
                AcceptanceWork(content: content, envelope: envelope, receivedAt: receivedAt), bytes: content.bytesWritten,
                in: self.sqliteAccess())
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    /// How many messages `acceptMessage` has handed to the database and in how many transactions
    /// (their ratio is the group-commit batch size).
    public var acceptanceStatistics: (messages: Int, commits: Int) {
        let statistics = self.acceptances.statistics
        return (statistics.writes, statistics.commits)
    }

    static func insertAcceptedMessage(_ db: Database, content: AcceptedContent, envelope: Envelope, receivedAt: Date) throws
        -> AcceptedMessage
    {
        let (blobID, _) = try Self.insertContent(db, content, now: receivedAt)
        try db.cachedStatement(sql: """
                INSERT INTO queueMessage(messageBlobId, sender, envelopeId, returnContent, authenticatedAs, receivedAt)
                VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                blobID, envelope.sender?.description, envelope.envelopeID, envelope.returnContent,
                envelope.authenticatedAs, receivedAt,
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

    /// Claims up to `limit` due recipients for `owner` until `now + leaseDuration`.
    ///
    /// The select and the claim happen in one IMMEDIATE transaction, which holds SQLite's write lock:
    /// two workers, in one process or in several, can never claim the same recipient at once. A
    /// recipient whose lease expired (its worker died) is due again.
    public func leaseQueueItems(
        owner: String, limit: Int, leaseDuration: Duration, scope: LeaseScope = .all, now: Date = Date()
    ) async throws(MailStoreError) -> [QueueLease] {
        guard limit > 0 else { return [] }
        let expiresAt = now.addingTimeInterval(TimeInterval(leaseDuration.components.seconds))
        let scopeCondition =
            switch scope {
            case .all: ""
            case .localDomains: "AND r.domain IN (SELECT name FROM domain)"
            case .remoteDomains: "AND r.domain NOT IN (SELECT name FROM domain)"
            }
        return try await self.write { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT r.id, r.queueMessageId, r.recipient, r.attempts, r.originalRecipient, r.notify,
                           r.expansionDepth, m.sender, m.receivedAt, m.envelopeId, m.returnContent
                    FROM queueRecipient r JOIN queueMessage m ON m.id = r.queueMessageId
                    WHERE r.state IN ('queued', 'deferred') AND r.nextAttemptAt <= ?
                      AND (r.leaseExpiresAt IS NULL OR r.leaseExpiresAt <= ?) \(scopeCondition)
                    ORDER BY r.nextAttemptAt, r.id
                    LIMIT ?
                    """), arguments: [now, now, limit])
            var leases: [QueueLease] = []
            for row in rows {
                let id: Int64 = row["id"]
                try db.cachedStatement(sql: "UPDATE queueRecipient SET leaseOwner = ?, leaseExpiresAt = ?, updatedAt = ? WHERE id = ?").execute(arguments: [owner, expiresAt, now, id])
                guard let recipient = try? EmailAddress(parsing: row["recipient"]) else { continue }
                let sender = (row["sender"] as String?).flatMap { try? EmailAddress(parsing: $0) }
                leases.append(
                    QueueLease(
                        recipientID: QueueRecipientID(id), messageID: QueueMessageID(row["queueMessageId"]),
                        owner: owner, expiresAt: expiresAt, sender: sender, recipient: recipient,
                        attempts: row["attempts"], firstQueuedAt: row["receivedAt"],
                        originalRecipient: row["originalRecipient"], notify: row["notify"],
                        expansionDepth: row["expansionDepth"], envelopeID: row["envelopeId"],
                        returnContent: row["returnContent"]))
            }
            return leases
        }
    }

    /// Records the outcome of one delivery attempt and releases the lease. Throws `leaseLost` when the
    /// lease expired and another worker may have taken the recipient over: the outcome is then not
    /// recorded, and the caller must treat its delivery as a possible duplicate.
    /// Concurrent outcomes share a commit (`GroupCommit`): the relay records one per recipient.
    /// `noticeHandedOn`: the next hop took the DSN request (RFC 3461 §5.2.2), so no success notice is
    /// due from here.
    public func recordOutcome(
        _ outcome: DeliveryOutcome, for lease: QueueLease, now: Date = Date(), noticeHandedOn: Bool = false
    ) async throws(MailStoreError) {
        do {
            try await self.outcomes.submit(
                OutcomeWork(outcome: outcome, lease: lease, now: now, noticeHandedOn: noticeHandedOn), bytes: 0, in: self.sqliteAccess())
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    /// A delivered recipient is marked reported at once unless it asked for a success notice, so the
    /// set of unreported delivered rows (scanned for success notices) stays small.
    static func wantsSuccessNotice(_ notify: String?) -> Bool {
        notify?.uppercased().contains("SUCCESS") ?? false
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
                    state == .delivered && (work.noticeHandedOn || !Self.wantsSuccessNotice(work.lease.notify)), work.now,
                    work.lease.recipientID.rawValue,
                ])
    }

    /// Local delivery, exactly once: files the queued message into `mailbox` (with `headerPrefix`,
    /// e.g. Return-Path and Delivered-To, in front of the shared content) and marks the recipient
    /// delivered, in one transaction. Concurrent deliveries share a commit (`GroupCommit`).
    @discardableResult
    public func deliverLocally(_ lease: QueueLease, into mailbox: MailboxID, headerPrefix: Data, now: Date = Date())
        async throws(MailStoreError) -> StoredMessage
    {
        do {
            return try await self.deliveries.submit(
                LocalDeliveryWork(lease: lease, mailbox: mailbox, headerPrefix: headerPrefix, now: now),
                bytes: headerPrefix.count, in: self.sqliteAccess())
        } catch {
            throw SQLiteAccess.classified(error)
        }
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
                    work.now, Self.wantsSuccessNotice(work.lease.notify) ? nil : work.now, work.lease.recipientID.rawValue,
                ])
        return stored
    }

    /// Alias expansion, exactly once: the recipient is marked done ("expanded") and each target queued
    /// as a recipient of the same message, in one transaction. The targets inherit ORCPT (or get the
    /// alias as their original recipient) and NOTIFY, and count one more expansion.
    public func expandRecipient(_ lease: QueueLease, into targets: [EmailAddress], now: Date = Date())
        async throws(MailStoreError)
    {
        try await self.write { db in
            try Self.checkLease(db, lease, now: now)
            let original = lease.originalRecipient ?? "rfc822;\(lease.recipient)"
            for target in targets {
                try db.execute(
                    sql: """
                        INSERT INTO queueRecipient(queueMessageId, recipient, domain, originalRecipient, notify, state,
                                                   nextAttemptAt, updatedAt, expansionDepth)
                        VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)
                        """,
                    arguments: [
                        lease.messageID.rawValue, target.description, target.domain.lowercased(), original, lease.notify,
                        now, now, lease.expansionDepth + 1,
                    ])
            }
            let note = "expanded to " + targets.map(\.description).joined(separator: ", ")
            // Marked reported: the targets carry the DSN request on and get the notices themselves.
            try db.execute(
                sql: """
                    UPDATE queueRecipient SET state = 'delivered', attempts = attempts + 1, lastError = ?,
                        leaseOwner = NULL, leaseExpiresAt = NULL, updatedAt = ?, reportedAt = ?
                    WHERE id = ?
                    """, arguments: [String(note.prefix(1000)), now, now, lease.recipientID.rawValue])
        }
    }

    /// Recipients owed a notice of `kind`, grouped by message. Failures: bounced and not reported.
    /// Delays: deferred, queued before the cut-off, not warned. Successes: delivered with SUCCESS in
    /// NOTIFY and not reported (a next hop that took the DSN request marked them reported).
    public func pendingReports(_ kind: ReportKind, limit: Int = 50) async throws(MailStoreError) -> [PendingBounceReport] {
        let condition: String
        var cutoff: Date?
        switch kind {
        case .failure:
            condition = "r.state = 'bounced' AND r.reportedAt IS NULL"
        case .delay(let queuedBefore):
            condition = "r.state = 'deferred' AND r.delayReportedAt IS NULL AND m.receivedAt <= ?"
            cutoff = queuedBefore
        case .success:
            condition = "r.state = 'delivered' AND r.reportedAt IS NULL AND r.notify LIKE '%SUCCESS%'"
        }
        let conditionCutoff = cutoff
        return try await self.read { db in
            var arguments: [any DatabaseValueConvertible] = []
            if let conditionCutoff { arguments.append(conditionCutoff) }
            let messageArguments: StatementArguments = conditionCutoff.map { [$0, limit] } ?? [limit]
            let messages = try Row.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT m.id, m.sender, m.envelopeId, m.returnContent, m.receivedAt
                    FROM queueRecipient r JOIN queueMessage m ON m.id = r.queueMessageId
                    WHERE \(condition)
                    ORDER BY m.id LIMIT ?
                    """, arguments: messageArguments)
            return try messages.map { message in
                let id: Int64 = message["id"]
                var recipientValues: [any DatabaseValueConvertible] = [id]
                recipientValues += arguments
                let recipients = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT r.id, r.recipient, r.originalRecipient, r.notify, r.lastError,
                               r.domain IN (SELECT name FROM domain) AS isLocal
                        FROM queueRecipient r JOIN queueMessage m ON m.id = r.queueMessageId
                        WHERE r.queueMessageId = ? AND \(condition) ORDER BY r.id
                        """, arguments: StatementArguments(recipientValues)
                ).map { row in
                    PendingBounceReport.Recipient(
                        id: QueueRecipientID(row["id"]), recipient: row["recipient"],
                        originalRecipient: row["originalRecipient"], notify: row["notify"], lastError: row["lastError"],
                        isLocal: row["isLocal"])
                }
                return PendingBounceReport(
                    messageID: QueueMessageID(id),
                    sender: (message["sender"] as String?).flatMap { try? EmailAddress(parsing: $0) },
                    envelopeID: message["envelopeId"], returnContent: message["returnContent"],
                    receivedAt: message["receivedAt"], recipients: recipients)
            }
        }
    }

    /// Marks the recipients reported and, when `report` is given, queues it (from the null reverse-path,
    /// so it can never bounce back) in the same transaction: each notice goes out exactly once even
    /// with several workers. Returns false, queueing nothing, when another worker reported them first.
    /// A delay warning marks `delayReportedAt`; failures and successes mark `reportedAt`.
    @discardableResult
    public func recordBounceReport(
        for recipients: [QueueRecipientID], report: (content: Data, recipient: EmailAddress)?, kind: ReportKind = .failure,
        now: Date = Date()
    ) async throws(MailStoreError) -> Bool {
        guard !recipients.isEmpty else { return true }
        let content = report?.content
        let reportRecipient = report?.recipient
        let column = if case .delay = kind { "delayReportedAt" } else { "reportedAt" }
        do {
            return try await self.reportBounces(
                recipients, column: column, content: content, reportRecipient: reportRecipient, now: now)
        } catch .alreadyDone {
            return false
        }
    }

    private func reportBounces(
        _ recipients: [QueueRecipientID], column: String, content: Data?, reportRecipient: EmailAddress?, now: Date
    ) async throws(MailStoreError) -> Bool {
        try await self.write { db in
            let placeholders = Array(repeating: "?", count: recipients.count).joined(separator: ", ")
            var arguments: [any DatabaseValueConvertible] = [now]
            arguments += recipients.map(\.rawValue)
            try db.execute(
                sql: "UPDATE queueRecipient SET \(column) = ? WHERE \(column) IS NULL AND id IN (\(placeholders))",
                arguments: StatementArguments(arguments))
            guard db.changesCount == recipients.count else {
                // Another worker reported (some of) them first: roll back, it queued the report.
                throw MailStoreError.alreadyDone("delivery status report")
            }
            if let content, let reportRecipient {
                _ = try Self.insertAcceptedMessage(
                    db, content: .whole(content),
                    envelope: Envelope(sender: nil, recipients: [Envelope.Recipient(address: reportRecipient)]),
                    receivedAt: now)
            }
            return true
        }
    }

    /// The header section and the size of a queued message's content: what local delivery checks (loops,
    /// quota) without reading the content itself, which may be tens of megabytes.
    public func queuedHeader(_ message: QueueMessageID) async throws(MailStoreError) -> (header: Data, size: Int64)? {
        try await self.read { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT h.header, b.size FROM queueMessage m JOIN messageBlob b ON b.id = m.messageBlobId
                    JOIN messageHeader h ON h.messageBlobId = b.id WHERE m.id = ?
                    """),
                arguments: [message.rawValue])
            else { return nil }
            return (row[0], row[1])
        }
    }

    /// The content of a queued message, for the relay and for bounces.
    public func queuedContent(_ message: QueueMessageID) async throws(MailStoreError) -> Data? {
        try await self.read { db in
            guard let row = try Row.fetchOne(
                db,
                sql: "SELECT b.id, b.layout, b.content FROM queueMessage m JOIN messageBlob b ON b.id = m.messageBlobId WHERE m.id = ?",
                arguments: [message.rawValue])
            else { return nil }
            return try Self.storedContent(db, blobID: row[0], layout: row[1], inline: row[2])
        }
    }

    /// The state of every recipient of a queued message, in insertion order.
    public func queueRecipientStates(of message: QueueMessageID) async throws(MailStoreError)
        -> [(recipient: String, state: QueueState, attempts: Int)]
    {
        try await self.read { db in
            try Row.fetchAll(
                db, sql: "SELECT recipient, state, attempts FROM queueRecipient WHERE queueMessageId = ? ORDER BY id",
                arguments: [message.rawValue]
            ).compactMap { row in
                guard let state = QueueState(rawValue: row["state"]) else { return nil }
                return (row["recipient"], state, row["attempts"])
            }
        }
    }

    public func queueStats() async throws(MailStoreError) -> QueueStats {
        try await self.read { db in
            var counts: [QueueState: Int] = [:]
            for state in QueueState.allCases { counts[state] = 0 }
            for row in try Row.fetchAll(
                db, sql: "SELECT \(QueueState.reportedSQL) AS state, count(*) AS n FROM queueRecipient r GROUP BY 1",
                arguments: [Date()])
            {
                if let state = QueueState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            let oldest = try Date.fetchOne(
                db,
                sql: """
                    SELECT min(m.receivedAt) FROM queueRecipient r JOIN queueMessage m ON m.id = r.queueMessageId
                    WHERE r.state IN ('queued', 'deferred')
                    """)
            return QueueStats(counts: counts, oldestPendingSince: oldest)
        }
    }

    static func checkLease(_ db: Database, _ lease: QueueLease, now: Date) throws {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT leaseOwner, leaseExpiresAt, state FROM queueRecipient WHERE id = ?"), arguments: [lease.recipientID.rawValue])
        guard let row, row["leaseOwner"] as String? == lease.owner,
            let expiry = row["leaseExpiresAt"] as Date?, expiry > now,
            ["queued", "deferred"].contains(row["state"] as String)
        else { throw MailStoreError.leaseLost(lease.recipientID.rawValue) }
    }
}
