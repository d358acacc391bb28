import Foundation
import GRDB

/// DKIM keys in the SQLite file.
extension SQLiteDirectory {
    func insertDKIMKey(_ key: NewDKIMKey, now: Date, audit: AuditActor?) async throws(MailStoreError) -> StoredDKIMKey {
        try await self.access.write { db in
            let domainID = try Self.domainID(db, key.domain)
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM dkimKey WHERE domainId = ? AND selector = ?", arguments: [domainID, key.selector]) == true
            {
                throw MailStoreError.dkimKeyExists("\(key.domain)/\(key.selector)")
            }
            try db.execute(
                sql: """
                    INSERT INTO dkimKey(domainId, selector, algorithm, privateKey, publicKey, state, createdAt)
                    VALUES (?, ?, ?, ?, ?, 'pending', ?)
                    """, arguments: [domainID, key.selector, key.algorithm, key.privateKey, key.publicKey, now])
            try Self.appendAudit(
                db, audit, action: "dkim.create", target: "\(key.domain)/\(key.selector)", detail: key.algorithm, now: now)
            return try Self.dkimKey(db, domain: key.domain, selector: key.selector)
        }
    }

    func dkimKeys(domain: String) async throws(MailStoreError) -> [StoredDKIMKey] {
        try await self.access.read { db in
            let domainID = try Self.domainID(db, domain)
            return try Row.fetchAll(
                db, sql: "SELECT * FROM dkimKey WHERE domainId = ? ORDER BY selector", arguments: [domainID]
            ).compactMap { Self.dkimKey(from: $0, domain: domain) }
        }
    }

    func changeDKIMKeyState(domain: String, selector: String, to state: DKIMKeyState, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> StoredDKIMKey
    {
        try await self.access.write { db in
            let key = try Self.dkimKey(db, domain: domain, selector: selector)
            let domainID = try Self.domainID(db, domain)
            switch state {
            case .active:
                try db.execute(
                    sql: """
                        UPDATE dkimKey SET state = 'retired', retiredAt = ?
                        WHERE domainId = ? AND algorithm = ? AND state = 'active' AND id != ?
                        """, arguments: [now, domainID, key.algorithm, key.id])
                try db.execute(
                    sql: "UPDATE dkimKey SET state = 'active', activatedAt = ?, retiredAt = NULL WHERE id = ?",
                    arguments: [now, key.id])
            case .retired:
                try db.execute(
                    sql: "UPDATE dkimKey SET state = 'retired', retiredAt = coalesce(retiredAt, ?) WHERE id = ?",
                    arguments: [now, key.id])
            case .pending:
                throw MailStoreError.invalidArgument("a key cannot go back to pending")
            }
            try Self.appendAudit(
                db, audit, action: state == .active ? "dkim.activate" : "dkim.retire", target: "\(domain)/\(selector)",
                detail: nil, now: now)
            return try Self.dkimKey(db, domain: domain, selector: selector)
        }
    }

    func deleteDKIMKey(domain: String, selector: String, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        try await self.access.write { db in
            let key = try Self.dkimKey(db, domain: domain, selector: selector)
            guard key.state != .active else { throw MailStoreError.dkimKeyActive("\(domain)/\(selector)") }
            try db.execute(sql: "DELETE FROM dkimKey WHERE id = ?", arguments: [key.id])
            try Self.appendAudit(db, audit, action: "dkim.delete", target: "\(domain)/\(selector)", detail: nil, now: now)
        }
    }

    func dkimSigningKeys(domain: String) async throws(MailStoreError) -> [DKIMSigningKeyRecord] {
        try await self.access.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT k.selector, k.algorithm, k.privateKey, k.publicKey FROM dkimKey k JOIN domain d ON d.id = k.domainId
                    WHERE d.name = ? AND k.state = 'active' ORDER BY k.algorithm DESC, k.selector
                    """, arguments: [domain]
            ).map {
                DKIMSigningKeyRecord(
                    domain: domain, selector: $0["selector"], algorithm: $0["algorithm"], privateKey: $0["privateKey"],
                    publicKey: $0["publicKey"])
            }
        }
    }

    private static func domainID(_ db: Database, _ domain: String) throws -> Int64 {
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [domain]) else {
            throw MailStoreError.unknownDomain(domain)
        }
        return id
    }

    private static func dkimKey(_ db: Database, domain: String, selector: String) throws -> StoredDKIMKey {
        let domainID = try Self.domainID(db, domain)
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM dkimKey WHERE domainId = ? AND selector = ?", arguments: [domainID, selector]),
            let key = Self.dkimKey(from: row, domain: domain)
        else { throw MailStoreError.unknownDKIMKey("\(domain)/\(selector)") }
        return key
    }

    private static func dkimKey(from row: Row, domain: String) -> StoredDKIMKey? {
        guard let state = DKIMKeyState(rawValue: row["state"]) else { return nil }
        return StoredDKIMKey(
            id: row["id"], domain: domain, selector: row["selector"], algorithm: row["algorithm"], publicKey: row["publicKey"],
            state: state, createdAt: row["createdAt"], activatedAt: row["activatedAt"], retiredAt: row["retiredAt"])
    }
}
