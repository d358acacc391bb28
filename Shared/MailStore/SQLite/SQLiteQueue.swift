import Foundation
import GRDB
import MailFormat

/// The delivery queue in the SQLite file. Leasing selects and claims in one IMMEDIATE transaction, which
/// holds the file's write lock: workers in any process never claim the same recipient. Acceptances,
/// local deliveries and outcomes each go through a group commit: concurrent calls share a commit (and
/// its sync of the WAL), each still returning only after the commit that holds it.
struct SQLiteQueue: QueueBackend {
    let access: SQLiteAccess
    let acceptances = GroupCommit<AcceptanceWork, AcceptedMessage> { db, work in
        try MailStore.insertAcceptedMessage(db, content: work.content, envelope: work.envelope, receivedAt: work.receivedAt)
    }
    let deliveries = GroupCommit<LocalDeliveryWork, StoredMessage> { db, work in
        try MailStore.fileQueuedMessage(db, work)
    }
    let outcomes = GroupCommit<OutcomeWork, Void> { db, work in
        try MailStore.applyOutcome(db, work)
    }

    func acceptMessage(_ content: Data, envelope: Envelope, receivedAt: Date) async throws(MailStoreError) -> AcceptedMessage {
        try await self.accept(AcceptanceWork(content: .whole(content), envelope: envelope, receivedAt: receivedAt))
    }

    func acceptMessage(
        _ upload: ContentUpload, leadingWith prefix: Data, header: Data, envelope: Envelope, receivedAt: Date
    ) async throws(MailStoreError) -> AcceptedMessage {
        try await self.accept(
            AcceptanceWork(content: .uploaded(upload, prefix: prefix, header: header), envelope: envelope, receivedAt: receivedAt))
    }

    private func accept(_ work: AcceptanceWork) async throws(MailStoreError) -> AcceptedMessage {
        do {
            return try await self.acceptances.submit(work, bytes: work.content.bytesWritten, in: self.access)
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    var acceptanceStatistics: (messages: Int, commits: Int) {
        let statistics = self.acceptances.statistics
        return (statistics.writes, statistics.commits)
    }

    func leaseQueueItems(owner: String, limit: Int, expiresAt: Date, scope: LeaseScope, now: Date)
        async throws(MailStoreError) -> [QueueLease]
    {
        let scopeCondition =
            switch scope {
            case .all: ""
            case .localDomains: "AND r.domain IN (SELECT name FROM domain)"
            case .remoteDomains: "AND r.domain NOT IN (SELECT name FROM domain)"
            }
        return try await self.access.write { db in
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

    func recordOutcome(_ outcome: DeliveryOutcome, for lease: QueueLease, markReported: Bool, now: Date)
        async throws(MailStoreError)
    {
        do {
            try await self.outcomes.submit(
                OutcomeWork(outcome: outcome, lease: lease, now: now, markReported: markReported), bytes: 0, in: self.access)
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    func deliverLocally(_ lease: QueueLease, into mailbox: MailboxID, headerPrefix: Data, markReported: Bool, now: Date)
        async throws(MailStoreError) -> StoredMessage
    {
        do {
            return try await self.deliveries.submit(
                LocalDeliveryWork(lease: lease, mailbox: mailbox, headerPrefix: headerPrefix, markReported: markReported, now: now),
                bytes: headerPrefix.count, in: self.access)
        } catch {
            throw SQLiteAccess.classified(error)
        }
    }

    func expandRecipient(_ lease: QueueLease, into targets: [EmailAddress], originalRecipient original: String, note: String, now: Date)
        async throws(MailStoreError)
    {
        try await self.access.write { db in
            try MailStore.checkLease(db, lease, now: now)
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
            // Marked reported: the targets carry the DSN request on and get the notices themselves.
            try db.execute(
                sql: """
                    UPDATE queueRecipient SET state = 'delivered', attempts = attempts + 1, lastError = ?,
                        leaseOwner = NULL, leaseExpiresAt = NULL, updatedAt = ?, reportedAt = ?
                    WHERE id = ?
                    """, arguments: [String(note.prefix(1000)), now, now, lease.recipientID.rawValue])
        }
    }

    func pendingReports(_ kind: ReportKind, limit: Int) async throws(MailStoreError) -> [PendingBounceReport] {
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
        return try await self.access.read { db in
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

    func recordReport(
        for recipients: [QueueRecipientID], kind: ReportKind, queueing report: (content: Data, recipient: EmailAddress)?, now: Date
    ) async throws(MailStoreError) -> Bool {
        // A delay warning marks `delayReportedAt`; failures and successes mark `reportedAt`.
        let column = if case .delay = kind { "delayReportedAt" } else { "reportedAt" }
        let content = report?.content
        let reportRecipient = report?.recipient
        do {
            return try await self.markReported(recipients, column: column, content: content, reportRecipient: reportRecipient, now: now)
        } catch .alreadyDone {
            return false
        }
    }

    private func markReported(
        _ recipients: [QueueRecipientID], column: String, content: Data?, reportRecipient: EmailAddress?, now: Date
    ) async throws(MailStoreError) -> Bool {
        try await self.access.write { db in
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
                _ = try MailStore.insertAcceptedMessage(
                    db, content: .whole(content),
                    envelope: Envelope(sender: nil, recipients: [Envelope.Recipient(address: reportRecipient)]),
                    receivedAt: now)
            }
            return true
        }
    }

    func queuedHeader(_ message: QueueMessageID) async throws(MailStoreError) -> (header: Data, size: Int64)? {
        try await self.access.read { db in try Self.queuedHeader(db, message) }
    }

    static func queuedHeader(_ db: Database, _ message: QueueMessageID) throws -> (header: Data, size: Int64)? {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT h.header, b.size FROM queueMessage m JOIN messageBlob b ON b.id = m.messageBlobId
                JOIN messageHeader h ON h.messageBlobId = b.id WHERE m.id = ?
                """),
            arguments: [message.rawValue])
        else { return nil }
        return (row[0], row[1])
    }

    func localDeliveryPlan(for lease: QueueLease) async throws(MailStoreError) -> LocalDeliveryPlan? {
        try await self.access.read { db in
            guard let (header, size) = try Self.queuedHeader(db, lease.messageID) else { return nil }
            let resolution = try SQLiteDirectory.resolve(db, lease.recipient)
            var destination: MailboxID?
            if case .account(let account, _, _, _) = resolution {
                // INBOX, or a quarantined message's Junk mailbox when the account has one.
                destination = try Int64.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT mb.id FROM mailbox mb JOIN queueMessage q ON q.id = ?
                            WHERE mb.accountId = ? AND (mb.name = 'INBOX' OR (q.quarantined AND mb.specialUse = ?))
                            ORDER BY mb.name = 'INBOX', mb.id LIMIT 1
                            """),
                    arguments: [lease.messageID.rawValue, account.rawValue, SpecialUse.junk.rawValue]
                ).map(MailboxID.init)
            }
            return LocalDeliveryPlan(header: header, size: size, resolution: resolution, destination: destination)
        }
    }

    func queuedContent(_ message: QueueMessageID) async throws(MailStoreError) -> Data? {
        try await self.access.read { db in
            guard let row = try Row.fetchOne(
                db,
                sql: "SELECT b.id, b.layout, b.content FROM queueMessage m JOIN messageBlob b ON b.id = m.messageBlobId WHERE m.id = ?",
                arguments: [message.rawValue])
            else { return nil }
            return try MailStore.storedContent(db, blobID: row[0], layout: row[1], inline: row[2])
        }
    }

    func queueRecipientStates(of message: QueueMessageID) async throws(MailStoreError)
        -> [(recipient: String, state: QueueState, attempts: Int)]
    {
        try await self.access.read { db in
            try Row.fetchAll(
                db, sql: "SELECT recipient, state, attempts FROM queueRecipient WHERE queueMessageId = ? ORDER BY id",
                arguments: [message.rawValue]
            ).compactMap { row in
                guard let state = QueueState(rawValue: row["state"]) else { return nil }
                return (row["recipient"], state, row["attempts"])
            }
        }
    }

    func finishedRecipientsByHour(since: Date) async throws(MailStoreError) -> [(hour: Date, delivered: Int, bounced: Int)] {
        try await self.access.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(strftime('%s', updatedAt) AS INTEGER) / 3600 * 3600 AS hour,
                        sum(state = 'delivered') AS delivered, sum(state = 'bounced') AS bounced
                    FROM queueRecipient WHERE state IN ('delivered', 'bounced') AND updatedAt >= ? GROUP BY 1 ORDER BY 1
                    """, arguments: [since]
            ).map { row in (Date(timeIntervalSince1970: TimeInterval(row["hour"] as Int64)), row["delivered"], row["bounced"]) }
        }
    }

    func queueStats(now: Date) async throws(MailStoreError) -> QueueStats {
        try await self.access.read { db in
            var counts: [QueueState: Int] = [:]
            for state in QueueState.allCases { counts[state] = 0 }
            for row in try Row.fetchAll(
                db, sql: "SELECT \(QueueState.reportedSQL) AS state, count(*) AS n FROM queueRecipient r GROUP BY 1",
                arguments: [now])
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

    func queueMessages(matching filter: QueueFilter, after: Int64, limit: Int, now: Date) async throws(MailStoreError)
        -> [QueueMessageDetail]
    {
        try await self.access.read { db in
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
                    after, filter.sender, filter.sender, filter.state?.rawValue, now, filter.state?.rawValue,
                    filter.recipientDomain, filter.recipientDomain.map(MailStore.likeEscaped), min(limit, Int(Int32.max)),
                ])
            return try ids.compactMap { try MailStore.fetchQueueMessage(db, id: $0, now: now) }
        }
    }

    func queueMessage(_ id: QueueMessageID, now: Date) async throws(MailStoreError) -> QueueMessageDetail? {
        try await self.access.read { db in try MailStore.fetchQueueMessage(db, id: id.rawValue, now: now) }
    }

    /// Makes the message's pending recipients due now. Leased recipients keep their lease (the worker
    /// holding them decides); returns how many recipients were rescheduled.
    func retryQueueMessageNow(_ id: QueueMessageID, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Int
    {
        try await self.access.write { db in
            try MailStore.requireQueueMessage(db, id: id)
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
    func bounceQueueMessage(_ id: QueueMessageID, reason: String, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Int
    {
        try await self.access.write { db in
            try MailStore.requireQueueMessage(db, id: id)
            try MailStore.refuseWhileLeased(db, id: id, now: now)
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
    func deleteQueueMessage(_ id: QueueMessageID, now: Date, audit: AuditActor?)
        async throws(MailStoreError)
    {
        try await self.access.write { db in
            try MailStore.requireQueueMessage(db, id: id)
            try MailStore.refuseWhileLeased(db, id: id, now: now)
            try db.execute(sql: "DELETE FROM queueMessage WHERE id = ?", arguments: [id.rawValue])
            try MailStore.deleteUnreferencedBlobs(db)
            try SQLiteDirectory.appendAudit(db, audit, action: "queue.delete", target: id.description, detail: nil, now: now)
        }
    }

    /// Makes every pending recipient due now (like `postqueue -f`); returns how many.
    func flushQueue(now: Date, audit: AuditActor?) async throws(MailStoreError) -> Int {
        try await self.access.write { db in
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
    func deferralsByDomain(limit: Int) async throws(MailStoreError) -> [(domain: String, count: Int)] {
        try await self.access.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT lower(substr(recipient, instr(recipient, '@') + 1)) AS domain, count(*) AS n
                    FROM queueRecipient WHERE state = 'deferred' GROUP BY domain ORDER BY n DESC, domain LIMIT ?
                    """, arguments: [limit]
            ).map { ($0["domain"], $0["n"]) }
        }
    }

    func mtaSTSPolicy(for domain: String, now: Date) async throws(MailStoreError) -> StoredMTASTSPolicy? {
        try await self.access.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM mtaStsPolicy WHERE domain = ? AND expiresAt > ?", arguments: [domain, now]
            ).map { StoredMTASTSPolicy(domain: $0["domain"], id: $0["policyId"], policy: $0["policy"], expiresAt: $0["expiresAt"]) }
        }
    }

    func saveMTASTSPolicy(_ policy: StoredMTASTSPolicy, now: Date) async throws(MailStoreError) {
        try await self.access.write { db in
            try db.execute(sql: "DELETE FROM mtaStsPolicy WHERE expiresAt <= ?", arguments: [now])
            try db.execute(
                sql: "INSERT OR REPLACE INTO mtaStsPolicy (domain, policyId, policy, expiresAt) VALUES (?, ?, ?, ?)",
                arguments: [policy.domain, policy.id, policy.policy, policy.expiresAt])
        }
    }

    func addTLSSessions(_ tally: TLSSessionTally) async throws(MailStoreError) {
        try await self.access.write { db in
            try db.execute(
                sql: """
                    INSERT INTO tlsSessionTally
                        (periodStart, policyDomain, policyType, policy, mxHost, resultType, receivingIP, sessions)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (periodStart, policyDomain, policyType, mxHost, resultType, receivingIP)
                    DO UPDATE SET sessions = sessions + excluded.sessions, policy = excluded.policy
                    """,
                arguments: [
                    tally.periodStart, tally.policyDomain, tally.policyType, tally.policy, tally.mxHost, tally.resultType,
                    tally.receivingIP, tally.sessions,
                ])
        }
    }

    func tlsReportsDue(periodsStartedBefore before: Date) async throws(MailStoreError) -> [TLSReportKey] {
        try await self.access.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT policyDomain, periodStart FROM tlsSessionTally WHERE periodStart < ?
                    ORDER BY periodStart, policyDomain
                    """, arguments: [before]
            ).map { TLSReportKey(policyDomain: $0["policyDomain"], periodStart: $0["periodStart"]) }
        }
    }

    func tlsSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally] {
        try await self.access.read { db in
            try Self.tallies(db, "SELECT * FROM tlsSessionTally WHERE policyDomain = ? AND periodStart = ?", key)
        }
    }

    func takeTLSSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally] {
        try await self.access.write { db in
            try Self.tallies(db, "DELETE FROM tlsSessionTally WHERE policyDomain = ? AND periodStart = ? RETURNING *", key)
        }
    }

    private static func tallies(_ db: Database, _ sql: String, _ key: TLSReportKey) throws -> [TLSSessionTally] {
        try Row.fetchAll(db, sql: sql, arguments: [key.policyDomain, key.periodStart]).map {
            TLSSessionTally(
                periodStart: $0["periodStart"], policyDomain: $0["policyDomain"], policyType: $0["policyType"],
                policy: $0["policy"], mxHost: $0["mxHost"], resultType: $0["resultType"], receivingIP: $0["receivingIP"],
                sessions: $0["sessions"])
        }.sorted { ($0.policyType, $0.mxHost, $0.resultType, $0.receivingIP) < ($1.policyType, $1.mxHost, $1.resultType, $1.receivingIP) }
    }
}
