import Foundation
import Logging
import MailStore
import PostgresNIO

/// DKIM keys in PostgreSQL. Selectors are stored lower-cased (`MailStore` folds them), so they are
/// compared as they are.
extension PostgresDirectory {
    func insertDKIMKey(_ key: NewDKIMKey, now: Date, audit: AuditActor?) async throws(MailStoreError) -> StoredDKIMKey {
        let logger = self.logger
        return try await self.access.transaction { connection in
            let domainID = try await Self.localDomainID(connection, key.domain, lock: true, logger)
            guard try await !connection.rows(
                """
                INSERT INTO dkim_key (domain_id, selector, algorithm, private_key, public_key, state, created_at)
                VALUES (\(domainID), \(key.selector), \(key.algorithm), \(key.privateKey), \(key.publicKey), 'pending', \(now))
                ON CONFLICT DO NOTHING RETURNING id
                """, logger
            ).isEmpty else { throw MailStoreError.dkimKeyExists("\(key.domain)/\(key.selector)") }
            try await Self.appendAudit(
                connection, audit, action: "dkim.create", target: "\(key.domain)/\(key.selector)", detail: key.algorithm,
                now: now, logger)
            return try await Self.dkimKey(connection, domainID: domainID, domain: key.domain, selector: key.selector, logger)
        }
    }

    func dkimKeys(domain: String) async throws(MailStoreError) -> [StoredDKIMKey] {
        let logger = self.logger
        return try await self.access.read { connection in
            let domainID = try await Self.localDomainID(connection, domain, lock: false, logger)
            return try await connection.rows(
                "SELECT \(unescaped: Self.dkimColumns) FROM dkim_key WHERE domain_id = \(domainID) ORDER BY selector", logger
            ).compactMap { try Self.dkimKey(from: $0, domain: domain) }
        }
    }

    func changeDKIMKeyState(domain: String, selector: String, to state: DKIMKeyState, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> StoredDKIMKey
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            // The domain row is locked so that two activations of one domain's keys take turns.
            let domainID = try await Self.localDomainID(connection, domain, lock: true, logger)
            let key = try await Self.dkimKey(connection, domainID: domainID, domain: domain, selector: selector, logger)
            switch state {
            case .active:
                try await connection.query(
                    """
                    UPDATE dkim_key SET state = 'retired', retired_at = \(now)
                    WHERE domain_id = \(domainID) AND algorithm = \(key.algorithm) AND state = 'active' AND id <> \(key.id)
                    """, logger: logger)
                try await connection.query(
                    "UPDATE dkim_key SET state = 'active', activated_at = \(now), retired_at = NULL WHERE id = \(key.id)",
                    logger: logger)
            case .retired:
                try await connection.query(
                    "UPDATE dkim_key SET state = 'retired', retired_at = coalesce(retired_at, \(now)) WHERE id = \(key.id)",
                    logger: logger)
            case .pending:
                throw MailStoreError.invalidArgument("a key cannot go back to pending")
            }
            try await Self.appendAudit(
                connection, audit, action: state == .active ? "dkim.activate" : "dkim.retire", target: "\(domain)/\(selector)",
                detail: nil, now: now, logger)
            return try await Self.dkimKey(connection, domainID: domainID, domain: domain, selector: selector, logger)
        }
    }

    func deleteDKIMKey(domain: String, selector: String, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            let domainID = try await Self.localDomainID(connection, domain, lock: true, logger)
            let key = try await Self.dkimKey(connection, domainID: domainID, domain: domain, selector: selector, logger)
            guard key.state != .active else { throw MailStoreError.dkimKeyActive("\(domain)/\(selector)") }
            try await connection.query("DELETE FROM dkim_key WHERE id = \(key.id)", logger: logger)
            try await Self.appendAudit(
                connection, audit, action: "dkim.delete", target: "\(domain)/\(selector)", detail: nil, now: now, logger)
        }
    }

    func dkimSigningKeys(domain: String) async throws(MailStoreError) -> [DKIMSigningKeyRecord] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT k.selector, k.algorithm, k.private_key, k.public_key FROM dkim_key k JOIN domain d ON d.id = k.domain_id
                WHERE lower(d.name) = lower(\(domain) COLLATE "C") AND k.state = 'active' ORDER BY k.algorithm DESC, k.selector
                """, logger
            ).map { row in
                let (selector, algorithm, privateKey, publicKey) = try row.decode((String, String, Data, Data).self)
                return DKIMSigningKeyRecord(
                    domain: domain, selector: selector, algorithm: algorithm, privateKey: privateKey, publicKey: publicKey)
            }
        }
    }

    static let dkimColumns = "id, selector, algorithm, public_key, state, created_at, activated_at, retired_at"

    static func localDomainID(_ connection: PostgresConnection, _ domain: String, lock: Bool, _ logger: Logger)
        async throws -> Int64
    {
        guard let row = try await connection.rows(
            """
            SELECT id FROM domain WHERE lower(name) = lower(\(domain) COLLATE "C") \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger
        ).first else { throw MailStoreError.unknownDomain(domain) }
        return try row.decode(Int64.self)
    }

    private static func dkimKey(
        _ connection: PostgresConnection, domainID: Int64, domain: String, selector: String, _ logger: Logger
    ) async throws -> StoredDKIMKey {
        guard
            let row = try await connection.rows(
                """
                SELECT \(unescaped: Self.dkimColumns) FROM dkim_key WHERE domain_id = \(domainID) AND selector = \(selector)
                """, logger
            ).first,
            let key = try Self.dkimKey(from: row, domain: domain)
        else { throw MailStoreError.unknownDKIMKey("\(domain)/\(selector)") }
        return key
    }

    private static func dkimKey(from row: PostgresRow, domain: String) throws -> StoredDKIMKey? {
        let (id, selector, algorithm, publicKey, state, createdAt, activatedAt, retiredAt) = try row.decode(
            (Int64, String, String, Data, String, Date, Date?, Date?).self)
        guard let state = DKIMKeyState(rawValue: state) else { return nil }
        return StoredDKIMKey(
            id: id, domain: domain, selector: selector, algorithm: algorithm, publicKey: publicKey, state: state,
            createdAt: createdAt, activatedAt: activatedAt, retiredAt: retiredAt)
    }
}
