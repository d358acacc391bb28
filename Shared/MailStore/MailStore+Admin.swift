import Foundation

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

    public init(id: String, secretHash: Data, scope: AdminScope, description: String, createdAt: Date, revokedAt: Date?) {
        self.id = id
        self.secretHash = secretHash
        self.scope = scope
        self.description = description
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
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

    public init(id: Int64, tokenID: String, action: String, target: String, detail: String?, createdAt: Date) {
        self.id = id
        self.tokenID = tokenID
        self.action = action
        self.target = target
        self.detail = detail
        self.createdAt = createdAt
    }
}

extension MailStore {
    // MARK: Admin tokens

    public func createAdminToken(
        id: String, secretHash: Data, scope: AdminScope, description: String, now: Date = Date(),
        audit: AuditActor? = nil
    ) async throws(MailStoreError) {
        try await self.directory.insertAdminToken(
            StoredAdminToken(id: id, secretHash: secretHash, scope: scope, description: description, createdAt: now, revokedAt: nil),
            audit: audit)
    }

    /// Stores the bootstrap token only when no token exists yet (first start); true when stored.
    public func bootstrapAdminToken(id: String, secretHash: Data, now: Date = Date()) async throws(MailStoreError)
        -> Bool
    {
        try await self.directory.insertFirstAdminToken(
            StoredAdminToken(
                id: id, secretHash: secretHash, scope: .write, description: "bootstrapped from ESTAFETA_ADMIN_TOKEN",
                createdAt: now, revokedAt: nil))
    }

    public func adminToken(id: String) async throws(MailStoreError) -> StoredAdminToken? {
        try await self.directory.adminToken(id: id)
    }

    public func adminTokens() async throws(MailStoreError) -> [StoredAdminToken] {
        try await self.directory.adminTokens()
    }

    public func revokeAdminToken(id: String, now: Date = Date(), audit: AuditActor? = nil) async throws(MailStoreError)
    {
        try await self.directory.revokeAdminToken(id: id, now: now, audit: audit)
    }

    // MARK: Audit log

    /// Entries with ids above `after`, oldest first.
    /// An audit entry for an action that changes nothing but is to be on record, such as an export
    /// of an account's mail.
    public func recordAudit(action: String, target: String, detail: String? = nil, now: Date = Date(), audit: AuditActor)
        async throws(MailStoreError)
    {
        try await self.directory.recordAudit(action: action, target: target, detail: detail, now: now, audit: audit)
    }

    /// Oldest first from after the entry `after`, or with `newestFirst` newest first from before it: either
    /// way `after` is the last entry of the page before.
    public func auditEntries(after: Int64? = nil, newestFirst: Bool = false, limit: Int = 100) async throws(MailStoreError) -> [AuditEntry] {
        try await self.directory.auditEntries(after: after ?? (newestFirst ? Int64.max : 0), newestFirst: newestFirst, limit: limit)
    }
}
