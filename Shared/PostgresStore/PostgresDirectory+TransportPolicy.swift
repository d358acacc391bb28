import Foundation
import Logging
import MailStore
import PostgresNIO

/// Local domains' transport policies (MTA-STS and TLS reporting) in PostgreSQL.
extension PostgresDirectory {
    func domainTransportPolicy(domain: String) async throws(MailStoreError) -> DomainTransportPolicy {
        let logger = self.logger
        return try await self.access.read { connection in
            let domainID = try await Self.localDomainID(connection, domain, lock: false, logger)
            guard let row = try await connection.rows(
                """
                SELECT mta_sts_mode, mta_sts_max_age, mta_sts_mx, tls_report_addresses, updated_at
                FROM domain_transport_policy WHERE domain_id = \(domainID)
                """, logger
            ).first else { return DomainTransportPolicy() }
            let (mode, maxAge, mx, addresses, updatedAt) = try row.decode((String, Int64, String, String, Date).self)
            return DomainTransportPolicy(
                mtaSTSMode: DomainTransportPolicy.Mode(rawValue: mode) ?? .none, mtaSTSMaxAge: Int(maxAge),
                mtaSTSMX: mx.split(separator: " ").map(String.init),
                tlsReportAddresses: addresses.split(separator: " ").map(String.init), updatedAt: updatedAt)
        }
    }

    func setDomainTransportPolicy(domain: String, _ policy: DomainTransportPolicy, now: Date, audit: AuditActor?)
        async throws(MailStoreError)
    {
        let logger = self.logger
        try await self.access.transaction { connection in
            let domainID = try await Self.localDomainID(connection, domain, lock: true, logger)
            let mx = policy.mtaSTSMX.joined(separator: " ")
            let addresses = policy.tlsReportAddresses.joined(separator: " ")
            try await connection.query(
                """
                INSERT INTO domain_transport_policy (domain_id, mta_sts_mode, mta_sts_max_age, mta_sts_mx, tls_report_addresses, updated_at)
                VALUES (\(domainID), \(policy.mtaSTSMode.rawValue), \(Int64(policy.mtaSTSMaxAge)), \(mx), \(addresses), \(now))
                ON CONFLICT (domain_id) DO UPDATE SET mta_sts_mode = excluded.mta_sts_mode,
                    mta_sts_max_age = excluded.mta_sts_max_age, mta_sts_mx = excluded.mta_sts_mx,
                    tls_report_addresses = excluded.tls_report_addresses, updated_at = excluded.updated_at
                """, logger: logger)
            try await Self.appendAudit(
                connection, audit, action: "domain.transport-policy", target: domain, detail: policy.auditDetail, now: now, logger)
        }
    }
}
