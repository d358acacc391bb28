import Foundation
import GRDB

/// Local domains' transport policies (MTA-STS and TLS reporting) in the SQLite file.
extension SQLiteDirectory {
    func domainTransportPolicy(domain: String) async throws(MailStoreError) -> DomainTransportPolicy {
        try await self.access.read { db in
            guard let domainID = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [domain]) else {
                throw MailStoreError.unknownDomain(domain)
            }
            guard let row = try Row.fetchOne(
                db, sql: "SELECT * FROM domainTransportPolicy WHERE domainId = ?", arguments: [domainID])
            else { return DomainTransportPolicy() }
            return DomainTransportPolicy(
                mtaSTSMode: DomainTransportPolicy.Mode(rawValue: row["mtaStsMode"]) ?? .none, mtaSTSMaxAge: row["mtaStsMaxAge"],
                mtaSTSMX: Self.spaceSeparated(row["mtaStsMx"]), tlsReportAddresses: Self.spaceSeparated(row["tlsReportAddresses"]),
                updatedAt: row["updatedAt"])
        }
    }

    func setDomainTransportPolicy(domain: String, _ policy: DomainTransportPolicy, now: Date, audit: AuditActor?)
        async throws(MailStoreError)
    {
        try await self.access.write { db in
            guard let domainID = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [domain]) else {
                throw MailStoreError.unknownDomain(domain)
            }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO domainTransportPolicy(domainId, mtaStsMode, mtaStsMaxAge, mtaStsMx, tlsReportAddresses, updatedAt)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    domainID, policy.mtaSTSMode.rawValue, policy.mtaSTSMaxAge, policy.mtaSTSMX.joined(separator: " "),
                    policy.tlsReportAddresses.joined(separator: " "), now,
                ])
            try Self.appendAudit(db, audit, action: "domain.transport-policy", target: domain, detail: policy.auditDetail, now: now)
        }
    }

    private static func spaceSeparated(_ text: String) -> [String] {
        text.split(separator: " ").map(String.init)
    }
}
