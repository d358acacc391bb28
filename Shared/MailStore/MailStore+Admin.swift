import Foundation
import GRDB

/// What an admin token may do.
public enum AdminScope: String, Sendable, Codable, CaseIterable {
    /// GET only.
    case read
    /// Everything.
    case write
}

public struct StoredAdminToken: Sendable, Equatable {
    public let id: String
    public let secretHash: Data
    public let scope: AdminScope
    public let description: String
    public let createdAt: Date
    public let revokedAt: Date?
}

/// Who made a change, for the audit log: the id of the admin token (or `cli` for local commands).
public struct AuditActor: Sendable, Equatable {
    public let tokenID: String
    public init(tokenID: String) { self.tokenID = tokenID }
}

public struct AuditEntry: Sendable, Equatable {
    public let id: Int64
    public let tokenID: String
    public let action: String
    public let target: String
    public let detail: String?
    public let createdAt: Date
}

extension MailStore {
    // MARK: Admin tokens

    public func createAdminToken(
        id: String, secretHash: Data, scope: AdminScope, description: String, now: Date = Date(),
        audit: AuditActor? = nil
    ) async throws(MailStoreError) {
        try await self.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM adminToken WHERE id = ?", arguments: [id]) == true {
                throw MailStoreError.invalidArgument("a token with id \(id) exists")
            }
            try db.execute(
                sql: "INSERT INTO adminToken(id, secretHash, scope, description, createdAt) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, secretHash, scope.rawValue, description, now])
            try Self.appendAudit(db, audit, action: "token.create", target: id, detail: scope.rawValue, now: now)
        }
    }

    /// Stores the bootstrap token only when no token exists yet (first start); true when stored.
    public func bootstrapAdminToken(id: String, secretHash: Data, now: Date = Date()) async throws(MailStoreError)
        -> Bool
    {
        try await self.write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM adminToken") == 0 else { return false }
            try db.execute(
                sql: "INSERT INTO adminToken(id, secretHash, scope, description, createdAt) VALUES (?, ?, 'write', ?, ?)",
                arguments: [id, secretHash, "bootstrapped from ESTAFETA_ADMIN_TOKEN", now])
            try Self.appendAudit(db, AuditActor(tokenID: id), action: "token.bootstrap", target: id, detail: nil, now: now)
            return true
        }
    }

    public func adminToken(id: String) async throws(MailStoreError) -> StoredAdminToken? {
        try await self.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM adminToken WHERE id = ?", arguments: [id]).flatMap(Self.adminToken(from:))
        }
    }

    public func adminTokens() async throws(MailStoreError) -> [StoredAdminToken] {
        try await self.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM adminToken ORDER BY createdAt, id").compactMap(Self.adminToken(from:))
        }
    }

    public func revokeAdminToken(id: String, now: Date = Date(), audit: AuditActor? = nil) async throws(MailStoreError)
    {
        try await self.write { db in
            try db.execute(
                sql: "UPDATE adminToken SET revokedAt = ? WHERE id = ? AND revokedAt IS NULL", arguments: [now, id])
            guard db.changesCount > 0 else { throw MailStoreError.invalidArgument("no active token \(id)") }
            try Self.appendAudit(db, audit, action: "token.revoke", target: id, detail: nil, now: now)
        }
    }

    static func adminToken(from row: Row) -> StoredAdminToken? {
        guard let scope = AdminScope(rawValue: row["scope"]) else { return nil }
        return StoredAdminToken(
            id: row["id"], secretHash: row["secretHash"], scope: scope, description: row["description"],
            createdAt: row["createdAt"], revokedAt: row["revokedAt"])
    }

    // MARK: Audit log

    /// Entries with ids above `after`, oldest first.
    public func auditEntries(after: Int64? = nil, limit: Int = 100) async throws(MailStoreError) -> [AuditEntry] {
        try await self.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM auditLog WHERE id > ? ORDER BY id LIMIT ?", arguments: [after ?? 0, limit]
            ).map {
                AuditEntry(
                    id: $0["id"], tokenID: $0["tokenId"], action: $0["action"], target: $0["target"],
                    detail: $0["detail"], createdAt: $0["createdAt"])
            }
        }
    }

    /// Records a change in the same transaction as the change itself, so the log never misses one.
    static func appendAudit(
        _ db: Database, _ actor: AuditActor?, action: String, target: String, detail: String?, now: Date
    ) throws {
        guard let actor else { return }
        try db.execute(
            sql: "INSERT INTO auditLog(tokenId, action, target, detail, createdAt) VALUES (?, ?, ?, ?, ?)",
            arguments: [actor.tokenID, action, target, detail, now])
    }
}
