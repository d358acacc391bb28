import Credentials
import Foundation
import GRDB
import MailFormat

extension MailStore {
    /// The mailboxes every new account gets: INBOX plus the RFC 6154 special-use set.
    public static let defaultMailboxes: [(name: String, specialUse: SpecialUse?)] = [
        ("INBOX", nil), ("Drafts", .drafts), ("Sent", .sent), ("Trash", .trash), ("Junk", .junk),
        ("Archive", .archive),
    ]

    // MARK: Domains

    @discardableResult
    public func createDomain(_ requestedName: String, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> Domain
    {
        let name: String
        do { name = try EmailAddress.normalisedDomain(requestedName) } catch {
            throw .invalidArgument("domain: \(error)")
        }
        return try await self.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [name]) == true {
                throw MailStoreError.domainExists(name)
            }
            try db.execute(sql: "INSERT INTO domain(name, createdAt) VALUES (?, ?)", arguments: [name, now])
            try Self.appendAudit(db, audit, action: "domain.create", target: name, detail: nil, now: now)
            return Domain(id: DomainID(db.lastInsertedRowID), name: name, createdAt: now, accountCount: 0)
        }
    }

    /// Domains in name order; `after` and `limit` page through them.
    public func domains(after: String? = nil, limit: Int = Int.max) async throws(MailStoreError) -> [Domain] {
        try await self.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.id, d.name, d.createdAt, (SELECT count(*) FROM account a WHERE a.domainId = d.id) AS accounts
                    FROM domain d WHERE d.name > ? ORDER BY d.name LIMIT ?
                    """, arguments: [after ?? "", min(limit, Int(Int32.max))]
            ).map(Self.domain(from:))
        }
    }

    public func domain(named name: String) async throws(MailStoreError) -> Domain {
        try await self.read { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT d.id, d.name, d.createdAt, (SELECT count(*) FROM account a WHERE a.domainId = d.id) AS accounts
                    FROM domain d WHERE d.name = ?
                    """, arguments: [name])
            else { throw MailStoreError.unknownDomain(name) }
            return Self.domain(from: row)
        }
    }

    static func domain(from row: Row) -> Domain {
        Domain(id: DomainID(row["id"]), name: row["name"], createdAt: row["createdAt"], accountCount: row["accounts"] ?? 0)
    }

    public func isLocalDomain(_ name: String) async throws(MailStoreError) -> Bool {
        try await self.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [name]) == true
        }
    }

    /// Deletes a domain. Refused while it has accounts unless `force`, which removes them and their mail.
    public func deleteDomain(_ name: String, force: Bool = false, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError)
    {
        try await self.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [name])
            else { throw MailStoreError.unknownDomain(name) }
            let accounts = try Int.fetchOne(db, sql: "SELECT count(*) FROM account WHERE domainId = ?", arguments: [id])
            if (accounts ?? 0) > 0 && !force { throw MailStoreError.domainNotEmpty(name) }
            try db.execute(sql: "DELETE FROM domain WHERE id = ?", arguments: [id])
            try Self.deleteUnreferencedBlobs(db)
            try Self.appendAudit(
                db, audit, action: "domain.delete", target: name, detail: force ? "force" : nil, now: now)
        }
    }

    // MARK: Accounts

    /// Creates an account in an existing domain, with INBOX and the special-use mailboxes.
    @discardableResult
    public func createAccount(
        _ address: EmailAddress, passwordHash: PasswordHash, displayName: String? = nil, quotaBytes: Int64? = nil,
        now: Date = Date(), audit: AuditActor? = nil
    ) async throws(MailStoreError) -> Account {
        if let quotaBytes, quotaBytes < 0 { throw .invalidArgument("quota must not be negative") }
        return try await self.write { db in
            guard
                let domainID = try Int64.fetchOne(
                    db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [address.domain])
            else { throw MailStoreError.unknownDomain(address.domain) }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM account WHERE address = ?", arguments: [address.description])
                == true
            {
                throw MailStoreError.accountExists(address.description)
            }
            try db.execute(
                sql: """
                    INSERT INTO account(domainId, address, localPart, displayName, passwordHash, quotaBytes,
                                        enabled, createdAt, updatedAt)
                    VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
                    """,
                arguments: [
                    domainID, address.description, address.localPart, displayName, passwordHash.encoded, quotaBytes,
                    now, now,
                ])
            let accountID = db.lastInsertedRowID
            for mailbox in Self.defaultMailboxes {
                try Self.insertMailbox(
                    db, accountID: accountID, name: mailbox.name, specialUse: mailbox.specialUse, now: now)
            }
            guard let account = try Self.fetchAccount(db, address: address.description) else {
                throw MailStoreError.unavailable("account row vanished inside its own transaction")
            }
            try Self.appendAudit(db, audit, action: "account.create", target: address.description, detail: nil, now: now)
            return account
        }
    }

    public func account(_ address: EmailAddress) async throws(MailStoreError) -> Account {
        try await self.read { db in
            guard let account = try Self.fetchAccount(db, address: address.description) else {
                throw MailStoreError.unknownAccount(address.description)
            }
            return account
        }
    }

    /// Accounts in address order (case-insensitive), optionally of one domain; `after` and `limit` page.
    public func accounts(inDomain domain: String? = nil, after: String? = nil, limit: Int = Int.max)
        async throws(MailStoreError) -> [Account]
    {
        try await self.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT a.* FROM account a JOIN domain d ON d.id = a.domainId
                    WHERE (? IS NULL OR d.name = ?) AND a.address > ? ORDER BY a.address LIMIT ?
                    """, arguments: [domain, domain, after ?? "", min(limit, Int(Int32.max))]
            ).compactMap(Self.account(from:))
        }
    }

    /// What a login needs. Reads the current row each time, so a password change or a disabled account
    /// made by another process takes effect at the next login or check.
    public func credentials(for address: EmailAddress) async throws(MailStoreError) -> AccountCredentials? {
        try await self.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, address, passwordHash, enabled FROM account WHERE address = ?",
                    arguments: [address.description]),
                let hash = PasswordHash(encoded: row["passwordHash"]),
                let stored = try? EmailAddress(parsing: row["address"])
            else { return nil }
            return AccountCredentials(
                accountID: AccountID(row["id"]), address: stored, passwordHash: hash, enabled: row["enabled"])
        }
    }

    public func setPasswordHash(_ hash: PasswordHash, for address: EmailAddress, now: Date = Date())
        async throws(MailStoreError)
    {
        try await self.updateAccount(address, AccountChanges(passwordHash: hash), now: now)
    }

    public func setEnabled(_ enabled: Bool, for address: EmailAddress, now: Date = Date()) async throws(MailStoreError)
    {
        try await self.updateAccount(address, AccountChanges(enabled: enabled), now: now)
    }

    public func setQuota(_ quotaBytes: Int64?, for address: EmailAddress, now: Date = Date())
        async throws(MailStoreError)
    {
        try await self.updateAccount(address, AccountChanges(quotaBytes: .some(quotaBytes)), now: now)
    }

    /// Applies every given change in one transaction (an admin PATCH is all or nothing).
    @discardableResult
    public func updateAccount(
        _ address: EmailAddress, _ changes: AccountChanges, now: Date = Date(), audit: AuditActor? = nil
    ) async throws(MailStoreError) -> Account {
        if case .some(.some(let quota)) = changes.quotaBytes, quota < 0 {
            throw .invalidArgument("quota must not be negative")
        }
        return try await self.write { db in
            guard try Self.fetchAccount(db, address: address.description) != nil else {
                throw MailStoreError.unknownAccount(address.description)
            }
            var changed: [String] = []
            func set(_ column: String, _ value: (any DatabaseValueConvertible & Sendable)?) throws {
                try db.execute(
                    sql: "UPDATE account SET \(column) = ?, updatedAt = ? WHERE address = ?",
                    arguments: [value, now, address.description])
                changed.append(column)
            }
            if let hash = changes.passwordHash { try set("passwordHash", hash.encoded) }
            if let quota = changes.quotaBytes { try set("quotaBytes", quota) }
            if let enabled = changes.enabled { try set("enabled", enabled) }
            if let displayName = changes.displayName { try set("displayName", displayName) }
            guard let account = try Self.fetchAccount(db, address: address.description) else {
                throw MailStoreError.unknownAccount(address.description)
            }
            try Self.appendAudit(
                db, audit, action: "account.update", target: address.description,
                detail: changed.joined(separator: ","), now: now)
            return account
        }
    }

    /// Deletes an account and its mail. Queue rows it sent stay, for the queue's history.
    public func deleteAccount(_ address: EmailAddress, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError)
    {
        try await self.write { db in
            try db.execute(sql: "DELETE FROM account WHERE address = ?", arguments: [address.description])
            guard db.changesCount > 0 else { throw MailStoreError.unknownAccount(address.description) }
            try Self.deleteUnreferencedBlobs(db)
            try Self.appendAudit(db, audit, action: "account.delete", target: address.description, detail: nil, now: now)
        }
    }

    static func fetchAccount(_ db: Database, address: String) throws -> Account? {
        try Row.fetchOne(db, sql: "SELECT * FROM account WHERE address = ?", arguments: [address]).flatMap(
            Self.account(from:))
    }

    static func account(from row: Row) -> Account? {
        guard let address = try? EmailAddress(parsing: row["address"]) else { return nil }
        return Account(
            id: AccountID(row["id"]), address: address, displayName: row["displayName"],
            quotaBytes: row["quotaBytes"], usedBytes: row["usedBytes"], messageCount: row["messageCount"],
            enabled: row["enabled"], createdAt: row["createdAt"])
    }

    // MARK: Aliases

    /// Creates an alias (`local@domain`) or a catch-all (`@domain`) pointing at one or more targets,
    /// local or remote.
    @discardableResult
    public func createAlias(_ source: String, targets: [String], now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> Alias
    {
        let (source, domain) = try Self.normalisedAliasSource(source)
        var normalisedTargets: [String] = []
        for target in targets {
            do { normalisedTargets.append(try EmailAddress(parsing: target).description) } catch {
                throw .invalidArgument("alias target \(target): \(error)")
            }
        }
        guard !normalisedTargets.isEmpty else { throw .invalidArgument("an alias needs at least one target") }
        let finalTargets = normalisedTargets
        return try await self.write { db in
            guard let domainID = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [domain])
            else { throw MailStoreError.unknownDomain(domain) }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM alias WHERE source = ?", arguments: [source]) == true {
                throw MailStoreError.aliasExists(source)
            }
            try db.execute(
                sql: "INSERT INTO alias(domainId, source, createdAt) VALUES (?, ?, ?)",
                arguments: [domainID, source, now])
            let aliasID = db.lastInsertedRowID
            for target in Set(finalTargets) {
                try db.execute(
                    sql: "INSERT INTO aliasTarget(aliasId, target) VALUES (?, ?)", arguments: [aliasID, target])
            }
            let alias = Alias(source: source, targets: Array(Set(finalTargets)).sorted())
            try Self.appendAudit(
                db, audit, action: "alias.create", target: source, detail: alias.targets.joined(separator: ","), now: now)
            return alias
        }
    }

    /// Aliases in source order (catch-alls `@domain` sort first), optionally of one domain; `after` and
    /// `limit` page.
    public func aliases(inDomain domain: String? = nil, after: String? = nil, limit: Int = Int.max)
        async throws(MailStoreError) -> [Alias]
    {
        try await self.read { db in
            let sources = try String.fetchAll(
                db,
                sql: """
                    SELECT a.source FROM alias a JOIN domain d ON d.id = a.domainId
                    WHERE (? IS NULL OR d.name = ?) AND a.source > ? ORDER BY a.source LIMIT ?
                    """, arguments: [domain, domain, after ?? "", min(limit, Int(Int32.max))])
            return try sources.map { source in
                Alias(
                    source: source,
                    targets: try String.fetchAll(
                        db,
                        sql: """
                            SELECT t.target FROM aliasTarget t JOIN alias a ON a.id = t.aliasId
                            WHERE a.source = ? ORDER BY t.target
                            """, arguments: [source]))
            }
        }
    }

    public func deleteAlias(_ source: String, now: Date = Date(), audit: AuditActor? = nil) async throws(MailStoreError) {
        let (source, _) = try Self.normalisedAliasSource(source)
        try await self.write { db in
            try db.execute(sql: "DELETE FROM alias WHERE source = ?", arguments: [source])
            guard db.changesCount > 0 else { throw MailStoreError.unknownAlias(source) }
            try Self.appendAudit(db, audit, action: "alias.delete", target: source, detail: nil, now: now)
        }
    }

    static func normalisedAliasSource(_ source: String) throws(MailStoreError) -> (source: String, domain: String) {
        if source.hasPrefix("@") {
            do {
                let domain = try EmailAddress.normalisedDomain(String(source.dropFirst()))
                return ("@" + domain, domain)
            } catch { throw .invalidArgument("alias \(source): \(error)") }
        }
        do {
            let address = try EmailAddress(parsing: source)
            return (address.description, address.domain)
        } catch { throw .invalidArgument("alias \(source): \(error)") }
    }

    // MARK: Recipients

    /// Resolves one recipient address, one level deep: an exact alias first (so an alias can redirect
    /// even an existing account, as Postfix's virtual_alias_maps do), then an account, then the
    /// domain's catch-all.
    public func resolveRecipient(_ address: EmailAddress) async throws(MailStoreError) -> RecipientResolution {
        try await self.read { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [address.domain]) == true
            else { return .notLocal }
            let exact = try String.fetchAll(db.cachedStatement(sql: "SELECT t.target FROM alias a JOIN aliasTarget t ON t.aliasId = a.id WHERE a.source = ? ORDER BY t.target"), arguments: [address.description])
            if !exact.isEmpty { return .alias(targets: exact) }
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, enabled, quotaBytes, usedBytes FROM account WHERE address = ?"), arguments: [address.description])
            {
                return .account(
                    AccountID(row["id"]), enabled: row["enabled"], quotaBytes: row["quotaBytes"],
                    usedBytes: row["usedBytes"])
            }
            let catchAll = try String.fetchAll(db.cachedStatement(sql: "SELECT t.target FROM alias a JOIN aliasTarget t ON t.aliasId = a.id WHERE a.source = ? ORDER BY t.target"), arguments: ["@" + address.domain])
            return catchAll.isEmpty ? .unknownLocal : .catchAll(targets: catchAll)
        }
    }
}
