import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO

/// The operator's view of the queue and actions on it (the admin API's queue endpoints).
extension PostgresQueue {
    func queueMessages(matching filter: QueueFilter, after: Int64, limit: Int, now: Date) async throws(MailStoreError)
        -> [QueueMessageDetail]
    {
        let logger = self.logger
        let domainPattern = filter.recipientDomain.map { "%@" + Self.likeEscaped($0.lowercased()) }
        return try await self.access.transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            let ids = try await connection.rows(
                """
                SELECT m.id FROM queue_message m
                WHERE m.id > \(after)
                  AND (\(filter.sender)::text IS NULL OR lower(m.sender COLLATE "C") = lower(\(filter.sender) COLLATE "C"))
                  AND EXISTS (SELECT 1 FROM queue_recipient r WHERE r.queue_message_id = m.id
                              AND (\(filter.state?.rawValue)::text IS NULL
                                   OR (CASE WHEN r.state IN ('queued', 'deferred') AND r.lease_expires_at > \(now)
                                       THEN 'delivering' ELSE r.state END) = \(filter.state?.rawValue))
                              AND (\(domainPattern)::text IS NULL OR lower(r.recipient COLLATE "C") LIKE \(domainPattern) ESCAPE '\\'))
                ORDER BY m.id LIMIT \(PostgresDirectory.clamped(limit))
                """, logger
            ).map { try $0.decode(Int64.self) }
            var details: [QueueMessageDetail] = []
            for id in ids {
                if let detail = try await Self.fetchQueueMessage(connection, id: id, now: now, logger) { details.append(detail) }
            }
            return details
        }
    }

    func queueMessage(_ id: QueueMessageID, now: Date) async throws(MailStoreError) -> QueueMessageDetail? {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            return try await Self.fetchQueueMessage(connection, id: id.rawValue, now: now, logger)
        }
    }

    func retryQueueMessageNow(_ id: QueueMessageID, now: Date, audit: AuditActor?) async throws(MailStoreError) -> Int {
        let logger = self.logger
        return try await self.access.transaction { connection in
            _ = try await Self.lockQueueMessage(connection, id: id, logger)
            let count = try await connection.rows(
                """
                UPDATE queue_recipient SET next_attempt_at = \(now), updated_at = \(now)
                WHERE queue_message_id = \(id.rawValue) AND state IN ('queued', 'deferred') RETURNING id
                """, logger
            ).count
            try await PostgresDirectory.appendAudit(
                connection, audit, action: "queue.retry", target: id.description, detail: nil, now: now, logger)
            return count
        }
    }

    func bounceQueueMessage(_ id: QueueMessageID, reason: String, now: Date, audit: AuditActor?) async throws(MailStoreError) -> Int {
        let logger = self.logger
        return try await self.access.transaction { connection in
            _ = try await Self.lockQueueMessage(connection, id: id, logger)
            try await Self.refuseWhileLeased(connection, id: id, now: now, logger)
            let count = try await connection.rows(
                """
                UPDATE queue_recipient SET state = 'bounced', last_error = \(reason), updated_at = \(now)
                WHERE queue_message_id = \(id.rawValue) AND state IN ('queued', 'deferred') RETURNING id
                """, logger
            ).count
            try await PostgresDirectory.appendAudit(
                connection, audit, action: "queue.bounce", target: id.description, detail: reason, now: now, logger)
            return count
        }
    }

    func deleteQueueMessage(_ id: QueueMessageID, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            let blob = try await Self.lockQueueMessage(connection, id: id, logger)
            try await Self.refuseWhileLeased(connection, id: id, now: now, logger)
            try await connection.query("DELETE FROM queue_message WHERE id = \(id.rawValue)", logger: logger)
            try await PostgresMailboxes.deleteContentsIfUnreferenced(connection, [blob], logger)
            try await PostgresDirectory.appendAudit(
                connection, audit, action: "queue.delete", target: id.description, detail: nil, now: now, logger)
        }
    }

    func flushQueue(now: Date, audit: AuditActor?) async throws(MailStoreError) -> Int {
        let logger = self.logger
        return try await self.access.transaction { connection in
            let count = try await connection.rows(
                """
                UPDATE queue_recipient SET next_attempt_at = \(now), updated_at = \(now)
                WHERE state IN ('queued', 'deferred') AND next_attempt_at > \(now) RETURNING id
                """, logger
            ).count
            try await PostgresDirectory.appendAudit(
                connection, audit, action: "queue.flush", target: "*", detail: "\(count)", now: now, logger)
            return count
        }
    }

    func deferralsByDomain(limit: Int) async throws(MailStoreError) -> [(domain: String, count: Int)] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT lower(substring(recipient COLLATE "C" FROM position('@' IN recipient) + 1)) AS domain, count(*)
                FROM queue_recipient WHERE state = 'deferred' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT \(PostgresDirectory.clamped(limit))
                """, logger
            ).map { row in
                let (domain, count) = try row.decode((String, Int64).self)
                return (domain, Int(count))
            }
        }
    }

    func mtaSTSPolicy(for domain: String, now: Date) async throws(MailStoreError) -> StoredMTASTSPolicy? {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT policy_id, policy, expires_at FROM mta_sts_policy WHERE domain = \(domain) AND expires_at > \(now)", logger
            ).first.map { row in
                let (id, policy, expires) = try row.decode((String, String, Date).self)
                return StoredMTASTSPolicy(domain: domain, id: id, policy: policy, expiresAt: expires)
            }
        }
    }

    func saveMTASTSPolicy(_ policy: StoredMTASTSPolicy, now: Date) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await connection.query("DELETE FROM mta_sts_policy WHERE expires_at <= \(now)", logger: logger)
            try await connection.query(
                """
                INSERT INTO mta_sts_policy (domain, policy_id, policy, expires_at)
                VALUES (\(policy.domain), \(policy.id), \(policy.policy), \(policy.expiresAt))
                ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, policy = excluded.policy,
                    expires_at = excluded.expires_at
                """, logger: logger)
        }
    }

    func addTLSSessions(_ tally: TLSSessionTally) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await connection.query(
                """
                INSERT INTO tls_session_tally
                    (period_start, policy_domain, policy_type, policy, mx_host, result_type, receiving_ip, sessions)
                VALUES (\(tally.periodStart), \(tally.policyDomain), \(tally.policyType), \(tally.policy), \(tally.mxHost),
                        \(tally.resultType), \(tally.receivingIP), \(Int64(tally.sessions)))
                ON CONFLICT (period_start, policy_domain, policy_type, mx_host, result_type, receiving_ip)
                DO UPDATE SET sessions = tls_session_tally.sessions + excluded.sessions, policy = excluded.policy
                """, logger: logger)
        }
    }

    func tlsReportsDue(periodsStartedBefore before: Date) async throws(MailStoreError) -> [TLSReportKey] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT DISTINCT policy_domain, period_start FROM tls_session_tally WHERE period_start < \(before)
                ORDER BY period_start, policy_domain
                """, logger
            ).map { row in
                let (domain, start) = try row.decode((String, Date).self)
                return TLSReportKey(policyDomain: domain, periodStart: start)
            }
        }
    }

    func tlsSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await Self.tallies(
                connection.rows(
                    """
                    SELECT policy_type, policy, mx_host, result_type, receiving_ip, sessions FROM tls_session_tally
                    WHERE policy_domain = \(key.policyDomain) AND period_start = \(key.periodStart)
                    """, logger), key)
        }
    }

    func takeTLSSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally] {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await Self.tallies(
                connection.rows(
                    """
                    DELETE FROM tls_session_tally WHERE policy_domain = \(key.policyDomain) AND period_start = \(key.periodStart)
                    RETURNING policy_type, policy, mx_host, result_type, receiving_ip, sessions
                    """, logger), key)
        }
    }

    private static func tallies(_ rows: [PostgresRow], _ key: TLSReportKey) throws -> [TLSSessionTally] {
        try rows.map { row in
            let (type, policy, mx, result, ip, sessions) = try row.decode((String, String, String, String, String, Int64).self)
            return TLSSessionTally(
                periodStart: key.periodStart, policyDomain: key.policyDomain, policyType: type, policy: policy, mxHost: mx,
                resultType: result, receivingIP: ip, sessions: Int(sessions))
        }.sorted { ($0.policyType, $0.mxHost, $0.resultType, $0.receivingIP) < ($1.policyType, $1.mxHost, $1.resultType, $1.receivingIP) }
    }

    /// Locks the message's row (so that workers' changes to it and this one take turns) and returns its
    /// content's id; `unknownQueueMessage` when there is none.
    static func lockQueueMessage(_ connection: PostgresConnection, id: QueueMessageID, _ logger: Logger) async throws -> Int64 {
        guard let row = try await connection.rows(
            "SELECT message_blob_id FROM queue_message WHERE id = \(id.rawValue) FOR UPDATE", logger
        ).first else { throw MailStoreError.unknownQueueMessage(id.rawValue) }
        return try row.decode(Int64.self)
    }

    static func refuseWhileLeased(_ connection: PostgresConnection, id: QueueMessageID, now: Date, _ logger: Logger) async throws {
        guard try await connection.rows(
            """
            SELECT 1 FROM queue_recipient
            WHERE queue_message_id = \(id.rawValue) AND state IN ('queued', 'deferred') AND lease_expires_at > \(now) LIMIT 1
            """, logger
        ).isEmpty else { throw MailStoreError.queueMessageBusy(id.rawValue) }
    }

    static func fetchQueueMessage(_ connection: PostgresConnection, id: Int64, now: Date, _ logger: Logger) async throws
        -> QueueMessageDetail?
    {
        guard let row = try await connection.rows(
            """
            SELECT m.sender, m.envelope_id, m.return_content, m.authenticated_as, m.received_at, b.size
            FROM queue_message m JOIN message_blob b ON b.id = m.message_blob_id WHERE m.id = \(id)
            """, logger
        ).first else { return nil }
        let (sender, envelopeID, returnContent, authenticatedAs, receivedAt, size) = try row.decode(
            (String?, String?, String?, String?, Date, Int64).self)
        let recipients = try await connection.rows(
            """
            SELECT id, recipient, state, attempts, next_attempt_at, last_error, lease_owner, lease_expires_at
            FROM queue_recipient WHERE queue_message_id = \(id) ORDER BY id
            """, logger
        ).compactMap { row -> QueueRecipientStatus? in
            let (recipientID, recipient, stored, attempts, nextAttempt, lastError, owner, expires) = try row.decode(
                (Int64, String, String, Int32, Date, String?, String?, Date?).self)
            guard let stored = QueueState(rawValue: stored) else { return nil }
            let leased = expires.map { $0 > now } ?? false
            let state = leased && (stored == .queued || stored == .deferred) ? .delivering : stored
            return QueueRecipientStatus(
                id: QueueRecipientID(recipientID), recipient: recipient, state: state, attempts: Int(attempts),
                nextAttemptAt: nextAttempt, lastError: lastError, leaseOwner: leased ? owner : nil,
                leaseExpiresAt: leased ? expires : nil)
        }
        return QueueMessageDetail(
            id: QueueMessageID(id), sender: sender, envelopeID: envelopeID, returnContent: returnContent,
            authenticatedAs: authenticatedAs, receivedAt: receivedAt, size: size, recipients: recipients)
    }

    /// Escapes `%`, `_` and the escape character itself for a LIKE pattern.
    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
