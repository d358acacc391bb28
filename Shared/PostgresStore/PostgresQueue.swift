import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO
import Synchronization

/// The delivery queue in PostgreSQL. Workers on every host lease due recipients with `FOR UPDATE SKIP
/// LOCKED`: a row another worker is claiming is passed over rather than waited for, and re-checked once
/// locked, so no recipient is leased twice and no worker waits on another. A change to a leased
/// recipient locks its row and checks the lease in the same transaction.
final class PostgresQueue: QueueBackend {
    let access: PostgresAccess
    /// Acceptances by this process, and the statements (each its own transaction) that held them.
    let accepted = Atomic<Int>(0)
    let acceptanceCommits = Atomic<Int>(0)
    /// Messages accepted while an acceptance is being written go together in the next statement: under
    /// load a round trip and a commit serve many SMTP sessions.
    let acceptances = WriteBatcher<QueueAcceptanceBatchStatement.Message, AcceptedMessage>()
    var logger: Logger { self.access.logger }

    init(access: PostgresAccess) {
        self.access = access
    }

    func acceptMessage(_ content: Data, envelope: Envelope, receivedAt: Date) async throws(MailStoreError) -> AcceptedMessage {
        let message = QueueAcceptanceBatchStatement.Message(
            content: content, header: Data(content.prefix(MIMEParser.headerLength(of: content))), envelope: envelope,
            receivedAt: receivedAt)
        do {
            return try await self.acceptances.submit(message, bytes: content.count) { batch in await self.accept(batch) }
        } catch let error as MailStoreError {
            throw error
        } catch {
            throw self.access.mapped(error)
        }
    }

    /// Writes a batch of acceptances: together in one statement when there are several, and one by one
    /// when that fails for a reason other than the database being unavailable (so that one message the
    /// database refuses does not turn its neighbours away).
    private func accept(_ batch: [QueueAcceptanceBatchStatement.Message]) async -> [Result<AcceptedMessage, any Error>] {
        let logger = self.logger
        if batch.count > 1 {
            do {
                let ids = try await self.access.statement { connection in
                    do {
                        return try await connection.rows(QueueAcceptanceBatchStatement(batch), logger).map {
                            try $0.decode((Int64, Int64).self)
                        }
                    } catch let error as PSQLError where Self.isRefusal(error) {
                        throw MailStoreError.invalidArgument(PostgresStore.reason(error))
                    }
                }
                if ids.map(\.0) == Array(1...Int64(batch.count)) {
                    self.accepted.add(batch.count, ordering: .relaxed)
                    self.acceptanceCommits.add(1, ordering: .relaxed)
                    return zip(batch, ids).map { message, id in
                        .success(AcceptedMessage(id: QueueMessageID(id.1), recipientCount: message.envelope.recipients.count))
                    }
                }
                return batch.map { _ in .failure(MailStoreError.unavailable("queueing \(batch.count) messages gave \(ids.count) ids")) }
            } catch .invalidArgument(let reason) {
                logger.warning("queueing messages together was refused; one by one", metadata: ["error": "\(reason)"])
            } catch {
                // The database is unavailable: each on its own would wait for it as long.
                return batch.map { _ in .failure(error) }
            }
        }
        var results: [Result<AcceptedMessage, any Error>] = []
        for message in batch {
            do {
                let accepted = try await self.access.statement { connection in
                    try await Self.insertAccepted(
                        connection, content: .whole(message.content), envelope: message.envelope, receivedAt: message.receivedAt, logger)
                }
                self.accepted.add(1, ordering: .relaxed)
                self.acceptanceCommits.add(1, ordering: .relaxed)
                results.append(.success(accepted))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    func acceptMessage(
        _ upload: ContentUpload, leadingWith prefix: Data, header: Data, envelope: Envelope, receivedAt: Date
    ) async throws(MailStoreError) -> AcceptedMessage {
        let logger = self.logger
        let message = try await self.access.transaction { connection in
            let blob = try await PostgresContents.sealUpload(connection, upload, prefix: prefix, header: header, now: receivedAt, logger)
            return try await Self.insertAccepted(connection, content: .stored(blob), envelope: envelope, receivedAt: receivedAt, logger)
        }
        self.accepted.add(1, ordering: .relaxed)
        self.acceptanceCommits.add(1, ordering: .relaxed)
        return message
    }

    /// PostgreSQL refusing what a statement carries (a data exception or a broken constraint: SQLSTATE
    /// classes 22 and 23), as opposed to failing to run it.
    static func isRefusal(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    var acceptanceStatistics: (messages: Int, commits: Int) {
        (self.accepted.load(ordering: .relaxed), self.acceptanceCommits.load(ordering: .relaxed))
    }

    /// What an accepted message's content is: already stored (a sealed upload, by its id), or the
    /// bytes to store with it.
    enum AcceptedContent {
        case stored(Int64)
        case whole(Data)
    }

    /// Queues a message with its recipients, and stores a whole content with it, in one statement: a
    /// message's acceptance is then one round trip to PostgreSQL.
    static func insertAccepted(
        _ connection: PostgresConnection, content: AcceptedContent, envelope: Envelope, receivedAt: Date, _ logger: Logger
    ) async throws -> AcceptedMessage {
        let (storedID, bytes): (Int64?, Data?) =
            switch content {
            case .stored(let id): (id, nil)
            case .whole(let data): (nil, data)
            }
        let header = bytes.map { Data($0.prefix(MIMEParser.headerLength(of: $0))) }
        let statement = try QueueAcceptanceStatement(
            storedID: storedID, content: bytes, header: header, envelope: envelope, receivedAt: receivedAt)
        guard let row = try await connection.rows(statement, logger).first else {
            throw MailStoreError.unavailable("queueing a message gave no id")
        }
        return AcceptedMessage(id: QueueMessageID(try row.decode(Int64.self)), recipientCount: envelope.recipients.count)
    }

    // MARK: Leases

    func leaseQueueItems(owner: String, limit: Int, expiresAt: Date, scope: LeaseScope, now: Date)
        async throws(MailStoreError) -> [QueueLease]
    {
        let logger = self.logger
        let scopeName =
            switch scope {
            case .all: "all"
            case .localDomains: "local"
            case .remoteDomains: "remote"
            }
        let statement = DueLeaseStatement(
            now: now, limit: PostgresDirectory.clamped(limit), owner: owner, expiresAt: expiresAt, scope: scopeName)
        return try await self.access.statement { connection in
            let rows = try await connection.rows(statement, logger)
            var leases: [(due: Date, lease: QueueLease)] = []
            for row in rows {
                let (id, message, recipient, attempts, original, notify, depth, sender, receivedAt, envelopeID, returnContent, due) =
                    try row.decode(
                        (Int64, Int64, String, Int32, String?, String?, Int32, String?, Date, String?, String?, Date).self)
                guard let recipient = try? EmailAddress(parsing: recipient) else { continue }
                leases.append((due, QueueLease(
                    recipientID: QueueRecipientID(id), messageID: QueueMessageID(message), owner: owner, expiresAt: expiresAt,
                    sender: sender.flatMap { try? EmailAddress(parsing: $0) }, recipient: recipient, attempts: Int(attempts),
                    firstQueuedAt: receivedAt, originalRecipient: original, notify: notify, expansionDepth: Int(depth),
                    envelopeID: envelopeID, returnContent: returnContent)))
            }
            // In the order they were due, as the SQLite backend hands them out.
            return leases.sorted { ($0.due, $0.lease.recipientID) < ($1.due, $1.lease.recipientID) }.map(\.lease)
        }
    }

    /// Locks the recipient's row and checks that `lease` still holds it; `leaseLost` otherwise.
    static func checkLease(_ connection: PostgresConnection, _ lease: QueueLease, now: Date, _ logger: Logger) async throws {
        let row = try await connection.rows(
            "SELECT lease_owner, lease_expires_at, state FROM queue_recipient WHERE id = \(lease.recipientID.rawValue) FOR UPDATE",
            logger
        ).first
        guard let (owner, expiry, state) = try row?.decode((String?, Date?, String).self), owner == lease.owner,
            let expiry, expiry > now, state == "queued" || state == "deferred"
        else { throw MailStoreError.leaseLost(lease.recipientID.rawValue) }
    }

    func recordOutcome(_ outcome: DeliveryOutcome, for lease: QueueLease, markReported: Bool, now: Date)
        async throws(MailStoreError)
    {
        let logger = self.logger
        let (state, nextAttempt, error): (QueueState, Date, String?) =
            switch outcome {
            case .delivered: (.delivered, now, nil)
            case .deferred(let until, let reason): (.deferred, until, reason)
            case .bounced(let reason): (.bounced, now, reason)
            }
        let reportedAt: Date? = state == .delivered && markReported ? now : nil
        let updated = try await self.access.statement { connection in
            try await connection.rows(
                try OutcomeStatement(
                    state: state.rawValue, nextAttempt: nextAttempt, error: error, now: now, reportedAt: reportedAt,
                    recipient: lease.recipientID.rawValue, owner: lease.owner), logger
            ).count
        }
        guard updated == 1 else { throw .leaseLost(lease.recipientID.rawValue) }
    }

    func deliverLocally(_ lease: QueueLease, into mailbox: MailboxID, headerPrefix: Data, markReported: Bool, now: Date)
        async throws(MailStoreError) -> StoredMessage
    {
        let logger = self.logger
        let row = try await self.access.statement { connection in
            let delivery = try LocalDeliveryStatement(
                recipient: lease.recipientID.rawValue, owner: lease.owner, now: now, mailbox: mailbox.rawValue,
                headerPrefix: headerPrefix, reportedAt: markReported ? now : nil)
            return try await connection.rows(delivery, logger).first
        }
        do {
            guard
                let (outcome, uid, modSeq, size, address, content, filedAt) = try row?.decode(
                    (String, Int64?, Int64?, Int64?, String?, Int64?, Date).self)
            else {
                throw MailStoreError.unavailable("local delivery returned nothing")
            }
            switch outcome {
            case "delivered":
                guard let uid, let modSeq, let size, let content else { throw MailStoreError.unavailable("local delivery returned no UID") }
                return StoredMessage(
                    uid: UInt32(uid), size: size, internalDate: now, flags: [], modSeq: UInt64(modSeq), contentID: content,
                    savedDate: StoredMessage.milliseconds(filedAt))
            case "lease lost": throw MailStoreError.leaseLost(lease.recipientID.rawValue)
            case "no mailbox": throw MailStoreError.unknownMailbox(String(mailbox.rawValue))
            case "no uid": throw MailStoreError.unavailable("mailbox \(mailbox.rawValue) ran out of UIDs")
            case "over quota": throw MailStoreError.overQuota(address ?? lease.recipient.description)
            default: throw MailStoreError.unavailable("local delivery: \(outcome)")
            }
        } catch let error as MailStoreError {
            throw error
        } catch {
            throw self.access.mapped(error)
        }
    }

    func localDeliveryPlan(for lease: QueueLease) async throws(MailStoreError) -> LocalDeliveryPlan? {
        let logger = self.logger
        let rows = try await self.access.read { connection in
            try await connection.rows(
                LocalDeliveryPlanStatement(recipient: lease.recipient, message: lease.messageID.rawValue), logger
            ).map { try $0.decode((Int, String?, Int64?, Bool?, Int64?, Int64?, Data?).self) }
        }
        var resolutionRows: [(Int, String?, Int64?, Bool?, Int64?, Int64?)] = []
        var destination: MailboxID?
        var content: (header: Data, size: Int64)?
        for (kind, target, id, enabled, quota, used, header) in rows {
            switch kind {
            case 4: destination = id.map(MailboxID.init)
            case 5: if let id, let header { content = (header, id) }
            default: resolutionRows.append((kind, target, id, enabled, quota, used))
            }
        }
        guard let content else { return nil }
        let resolution = PostgresDirectory.resolution(from: resolutionRows)
        // The destination row matches the address's account, which is not where mail goes when an alias of the
        // same address comes first.
        let isAccount = if case .account = resolution { true } else { false }
        return LocalDeliveryPlan(
            header: content.header, size: content.size, resolution: resolution, destination: isAccount ? destination : nil)
    }

    func expandRecipient(_ lease: QueueLease, into targets: [EmailAddress], originalRecipient: String, note: String, now: Date)
        async throws(MailStoreError)
    {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await Self.checkLease(connection, lease, now: now, logger)
            try await connection.query(
                """
                INSERT INTO queue_recipient (queue_message_id, recipient, domain, original_recipient, notify, state,
                                             next_attempt_at, updated_at, expansion_depth)
                SELECT \(lease.messageID.rawValue), t.recipient, t.domain, \(originalRecipient), \(lease.notify), 'queued',
                    \(now), \(now), \(Int32(lease.expansionDepth + 1))
                FROM unnest(\(targets.map(\.description))::text[], \(targets.map { $0.domain.lowercased() })::text[])
                    WITH ORDINALITY AS t(recipient, domain, position)
                ORDER BY t.position
                """, logger: logger)
            try await connection.query(
                """
                UPDATE queue_recipient SET state = 'delivered', attempts = attempts + 1, last_error = \(note),
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = \(now), reported_at = \(now)
                WHERE id = \(lease.recipientID.rawValue)
                """, logger: logger)
        }
    }

    // MARK: Delivery status reports

    func pendingReports(_ kind: ReportKind, limit: Int) async throws(MailStoreError) -> [PendingBounceReport] {
        let logger = self.logger
        let (condition, cutoff): (String, Date?) =
            switch kind {
            case .failure: ("r.state = 'bounced' AND r.reported_at IS NULL", nil)
            case .delay(let queuedBefore): ("r.state = 'deferred' AND r.delay_reported_at IS NULL AND m.received_at <= $1", queuedBefore)
            case .success: ("r.state = 'delivered' AND r.reported_at IS NULL AND upper(r.notify) LIKE '%SUCCESS%'", nil)
            }
        var binds = PostgresBindings()
        binds.append(cutoff ?? Date.distantPast)
        binds.append(PostgresDirectory.clamped(limit))
        let bindings = binds
        // One statement, so one snapshot: the messages owed a notice, and their recipients owed it.
        let rows = try await self.access.read { connection in
            try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        WITH owed AS (
                            SELECT m.id, m.sender, m.envelope_id, m.return_content, m.received_at
                            FROM queue_message m
                            WHERE EXISTS (SELECT 1 FROM queue_recipient r WHERE r.queue_message_id = m.id AND \(condition))
                            ORDER BY m.id LIMIT $2
                        )
                        SELECT m.id, m.sender, m.envelope_id, m.return_content, m.received_at,
                            r.id, r.recipient, r.original_recipient, r.notify, r.last_error, r.domain IN (SELECT lower(name) FROM domain)
                        FROM owed m JOIN queue_recipient r ON r.queue_message_id = m.id
                        WHERE \(condition)
                        ORDER BY m.id, r.id
                        """, binds: bindings), logger)
        }
        var messages: [(id: Int64, sender: String?, envelopeID: String?, returnContent: String?, receivedAt: Date)] = []
        var recipients: [Int64: [PendingBounceReport.Recipient]] = [:]
        do {
            for row in rows {
                let (message, sender, envelopeID, returnContent, receivedAt, id, recipient, original, notify, lastError, isLocal) =
                    try row.decode((Int64, String?, String?, String?, Date, Int64, String, String?, String?, String?, Bool).self)
                if messages.last?.id != message { messages.append((message, sender, envelopeID, returnContent, receivedAt)) }
                recipients[message, default: []].append(
                    PendingBounceReport.Recipient(
                        id: QueueRecipientID(id), recipient: recipient, originalRecipient: original, notify: notify,
                        lastError: lastError, isLocal: isLocal))
            }
        } catch {
            throw self.access.mapped(error)
        }
        return messages.map { message in
            PendingBounceReport(
                messageID: QueueMessageID(message.id), sender: message.sender.flatMap { try? EmailAddress(parsing: $0) },
                envelopeID: message.envelopeID, returnContent: message.returnContent, receivedAt: message.receivedAt,
                recipients: recipients[message.id] ?? [])
        }
    }

    func recordReport(
        for recipients: [QueueRecipientID], kind: ReportKind, queueing report: (content: Data, recipient: EmailAddress)?, now: Date
    ) async throws(MailStoreError) -> Bool {
        let logger = self.logger
        // A delay warning marks `delay_reported_at`; failures and successes mark `reported_at`.
        let column = if case .delay = kind { "delay_reported_at" } else { "reported_at" }
        let ids = recipients.map(\.rawValue)
        do {
            return try await self.access.transaction { connection in
                let marked = try await connection.rows(
                    """
                    UPDATE queue_recipient SET \(unescaped: column) = \(now)
                    WHERE \(unescaped: column) IS NULL AND id = ANY(\(ids)) RETURNING id
                    """, logger)
                guard marked.count == Set(ids).count else {
                    // Another worker reported (some of) them first: roll back, it queued the report.
                    throw MailStoreError.alreadyDone("delivery status report")
                }
                if let report {
                    _ = try await Self.insertAccepted(
                        connection, content: .whole(report.content),
                        envelope: Envelope(sender: nil, recipients: [Envelope.Recipient(address: report.recipient)]),
                        receivedAt: now, logger)
                }
                return true
            }
        } catch .alreadyDone {
            return false
        }
    }

    // MARK: Reading the queue

    func queuedHeader(_ message: QueueMessageID) async throws(MailStoreError) -> (header: Data, size: Int64)? {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(QueuedHeaderStatement(message: message.rawValue), logger).first.map { row in
                let (header, size) = try row.decode((Data, Int64).self)
                return (header, size)
            }
        }
    }

    func queuedContent(_ message: QueueMessageID) async throws(MailStoreError) -> Data? {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard let row = try await connection.rows(
                """
                SELECT b.id, b.layout, b.content FROM queue_message m JOIN message_blob b ON b.id = m.message_blob_id
                WHERE m.id = \(message.rawValue)
                """, logger
            ).first else { return nil }
            let (blob, layout, inline) = try row.decode((Int64, String, Data).self)
            return try await PostgresMailboxes.storedContent(connection, blobID: blob, layout: layout, inline: inline, logger)
        }
    }

    func queueRecipientStates(of message: QueueMessageID) async throws(MailStoreError)
        -> [(recipient: String, state: QueueState, attempts: Int)]
    {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT recipient, state, attempts FROM queue_recipient WHERE queue_message_id = \(message.rawValue) ORDER BY id",
                logger
            ).compactMap { row in
                let (recipient, state, attempts) = try row.decode((String, String, Int32).self)
                return QueueState(rawValue: state).map { (recipient, $0, Int(attempts)) }
            }
        }
    }

    func finishedRecipientsByHour(since: Date) async throws(MailStoreError) -> [(hour: Date, delivered: Int, bounced: Int)] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT floor(extract(epoch FROM updated_at) / 3600)::bigint * 3600,
                    count(*) FILTER (WHERE state = 'delivered'), count(*) FILTER (WHERE state = 'bounced')
                FROM queue_recipient WHERE state IN ('delivered', 'bounced') AND updated_at >= \(since) GROUP BY 1 ORDER BY 1
                """, logger
            ).map { row in
                let (hour, delivered, bounced) = try row.decode((Int64, Int64, Int64).self)
                return (Date(timeIntervalSince1970: TimeInterval(hour)), Int(delivered), Int(bounced))
            }
        }
    }

    func queueStats(now: Date) async throws(MailStoreError) -> QueueStats {
        let logger = self.logger
        return try await self.access.read { connection in
            var counts: [QueueState: Int] = [:]
            for state in QueueState.allCases { counts[state] = 0 }
            var oldest: Date?
            for row in try await connection.rows(
                """
                SELECT CASE WHEN r.state IN ('queued', 'deferred') AND r.lease_expires_at > \(now) THEN 'delivering' ELSE r.state END,
                    count(*), NULL::timestamptz
                FROM queue_recipient r GROUP BY 1
                UNION ALL
                SELECT NULL, 0, min(m.received_at) FROM queue_recipient r JOIN queue_message m ON m.id = r.queue_message_id
                WHERE r.state IN ('queued', 'deferred')
                """, logger)
            {
                let (state, count, pendingSince) = try row.decode((String?, Int64, Date?).self)
                if let state, let known = QueueState(rawValue: state) { counts[known] = Int(count) }
                if let pendingSince { oldest = pendingSince }
            }
            return QueueStats(counts: counts, oldestPendingSince: oldest)
        }
    }
}
