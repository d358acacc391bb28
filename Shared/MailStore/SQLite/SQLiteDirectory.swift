import Credentials
import Foundation
import GRDB
import MailFormat

/// The directory in the SQLite file. Names compare case-insensitively by the columns' NOCASE collation.
struct SQLiteDirectory: DirectoryBackend {
    let access: SQLiteAccess

    // MARK: Domains

    func insertDomain(_ name: String, now: Date, audit: AuditActor?) async throws(MailStoreError) -> Domain {
        try await self.access.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [name]) == true {
                throw MailStoreError.domainExists(name)
            }
            try db.execute(sql: "INSERT INTO domain(name, createdAt) VALUES (?, ?)", arguments: [name, now])
            try Self.appendAudit(db, audit, action: "domain.create", target: name, detail: nil, now: now)
            return Domain(id: DomainID(db.lastInsertedRowID), name: name, createdAt: now, accountCount: 0)
        }
    }

    func domains(after: String, limit: Int) async throws(MailStoreError) -> [Domain] {
        try await self.access.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.id, d.name, d.createdAt, (SELECT count(*) FROM account a WHERE a.domainId = d.id) AS accounts
                    FROM domain d WHERE d.name > ? ORDER BY d.name LIMIT ?
                    """, arguments: [after, min(limit, Int(Int32.max))]
            ).map(Self.domain(from:))
        }
    }

    func domain(named name: String) async throws(MailStoreError) -> Domain {
        try await self.access.read { db in
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

    func isLocalDomain(_ name: String) async throws(MailStoreError) -> Bool {
        try await self.access.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [name]) == true
        }
    }

    func deleteDomain(_ name: String, force: Bool, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        try await self.access.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [name])
            else { throw MailStoreError.unknownDomain(name) }
            let accounts = try Int.fetchOne(db, sql: "SELECT count(*) FROM account WHERE domainId = ?", arguments: [id])
            if (accounts ?? 0) > 0 && !force { throw MailStoreError.domainNotEmpty(name) }
            try db.execute(sql: "DELETE FROM domain WHERE id = ?", arguments: [id])
            try MailStore.deleteUnreferencedBlobs(db)
            try Self.appendAudit(
                db, audit, action: "domain.delete", target: name, detail: force ? "force" : nil, now: now)
        }
    }

    // MARK: Accounts

    func insertAccount(
        _ account: NewAccount, mailboxes: [(name: String, specialUse: SpecialUse?)], now: Date, audit: AuditActor?
    ) async throws(MailStoreError) -> Account {
        try await self.access.write { db in
            let address = account.address
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
                    domainID, address.description, address.localPart, account.displayName, account.passwordHash.encoded,
                    account.quotaBytes, now, now,
                ])
            let accountID = db.lastInsertedRowID
            for mailbox in mailboxes {
                try MailStore.insertMailbox(
                    db, accountID: accountID, name: mailbox.name, specialUse: mailbox.specialUse, now: now)
            }
            guard let stored = try Self.fetchAccount(db, address: address.description) else {
                throw MailStoreError.unavailable("account row vanished inside its own transaction")
            }
            try Self.appendAudit(db, audit, action: "account.create", target: address.description, detail: nil, now: now)
            return stored
        }
    }

    func account(_ address: EmailAddress) async throws(MailStoreError) -> Account {
        try await self.access.read { db in
            guard let account = try Self.fetchAccount(db, address: address.description) else {
                throw MailStoreError.unknownAccount(address.description)
            }
            return account
        }
    }

    func accounts(inDomain domain: String?, containing text: String?, after: String, limit: Int) async throws(MailStoreError) -> [Account] {
        try await self.access.read { db in
            // instr, not LIKE: the text is matched as it is, with no wildcards to escape.
            try Row.fetchAll(
                db,
                sql: """
                    SELECT a.* FROM account a JOIN domain d ON d.id = a.domainId
                    WHERE (? IS NULL OR d.name = ?)
                      AND (? IS NULL OR instr(lower(a.address), lower(?)) > 0 OR instr(lower(coalesce(a.displayName, '')), lower(?)) > 0)
                      AND a.address > ? ORDER BY a.address LIMIT ?
                    """, arguments: [domain, domain, text, text, text, after, min(limit, Int(Int32.max))]
            ).compactMap(Self.account(from:))
        }
    }

    func credentials(for address: EmailAddress) async throws(MailStoreError) -> AccountCredentials? {
        try await self.access.read { db in
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

    func updateAccount(_ address: EmailAddress, _ changes: AccountChanges, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Account
    {
        try await self.access.write { db in
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

    func deleteAccount(_ address: EmailAddress, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        try await self.access.write { db in
            try db.execute(sql: "DELETE FROM account WHERE address = ?", arguments: [address.description])
            guard db.changesCount > 0 else { throw MailStoreError.unknownAccount(address.description) }
            try MailStore.deleteUnreferencedBlobs(db)
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

    func insertAlias(source: String, domain: String, targets: [String], now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Alias
    {
        try await self.access.write { db in
            guard let domainID = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [domain])
            else { throw MailStoreError.unknownDomain(domain) }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM alias WHERE source = ?", arguments: [source]) == true {
                throw MailStoreError.aliasExists(source)
            }
            try db.execute(
                sql: "INSERT INTO alias(domainId, source, createdAt) VALUES (?, ?, ?)",
                arguments: [domainID, source, now])
            let aliasID = db.lastInsertedRowID
            for target in targets {
                try db.execute(
                    sql: "INSERT INTO aliasTarget(aliasId, target) VALUES (?, ?)", arguments: [aliasID, target])
            }
            let alias = Alias(source: source, targets: targets.sorted())
            try Self.appendAudit(
                db, audit, action: "alias.create", target: source, detail: alias.targets.joined(separator: ","), now: now)
            return alias
        }
    }

    func aliases(inDomain domain: String?, after: String, limit: Int) async throws(MailStoreError) -> [Alias] {
        try await self.access.read { db in
            let sources = try String.fetchAll(
                db,
                sql: """
                    SELECT a.source FROM alias a JOIN domain d ON d.id = a.domainId
                    WHERE (? IS NULL OR d.name = ?) AND a.source > ? ORDER BY a.source LIMIT ?
                    """, arguments: [domain, domain, after, min(limit, Int(Int32.max))])
            return try sources.map { source in
                Alias(source: source, targets: try Self.targets(db, of: source))
            }
        }
    }

    func deleteAlias(_ source: String, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        try await self.access.write { db in
            try db.execute(sql: "DELETE FROM alias WHERE source = ?", arguments: [source])
            guard db.changesCount > 0 else { throw MailStoreError.unknownAlias(source) }
            try Self.appendAudit(db, audit, action: "alias.delete", target: source, detail: nil, now: now)
        }
    }

    static func targets(_ db: Database, of source: String) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(
                sql: "SELECT t.target FROM alias a JOIN aliasTarget t ON t.aliasId = a.id WHERE a.source = ? ORDER BY t.target"),
            arguments: [source])
    }

    func resolveRecipient(_ address: EmailAddress) async throws(MailStoreError) -> RecipientResolution {
        try await self.access.read { db in try Self.resolve(db, address) }
    }

    static func resolve(_ db: Database, _ address: EmailAddress) throws -> RecipientResolution {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [address.domain]) == true
        else { return .notLocal }
        let exact = try Self.targets(db, of: address.description)
        if !exact.isEmpty { return .alias(targets: exact) }
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, enabled, quotaBytes, usedBytes FROM account WHERE address = ?"),
            arguments: [address.description])
        {
            return .account(
                AccountID(row["id"]), enabled: row["enabled"], quotaBytes: row["quotaBytes"], usedBytes: row["usedBytes"])
        }
        let catchAll = try Self.targets(db, of: "@" + address.domain)
        return catchAll.isEmpty ? .unknownLocal : .catchAll(targets: catchAll)
    }

    // MARK: Admin tokens and the audit log

    func insertAdminToken(_ token: StoredAdminToken, audit: AuditActor?) async throws(MailStoreError) {
        try await self.access.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM adminToken WHERE id = ?", arguments: [token.id]) == true {
                throw MailStoreError.invalidArgument("a token with id \(token.id) exists")
            }
            try Self.insert(db, token)
            try Self.appendAudit(db, audit, action: "token.create", target: token.id, detail: token.scope.rawValue, now: token.createdAt)
        }
    }

    func insertFirstAdminToken(_ token: StoredAdminToken) async throws(MailStoreError) -> Bool {
        try await self.access.write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM adminToken") == 0 else { return false }
            try Self.insert(db, token)
            try Self.appendAudit(
                db, AuditActor(tokenID: token.id), action: "token.bootstrap", target: token.id, detail: nil, now: token.createdAt)
            return true
        }
    }

    static func insert(_ db: Database, _ token: StoredAdminToken) throws {
        try db.execute(
            sql: "INSERT INTO adminToken(id, secretHash, scope, description, createdAt) VALUES (?, ?, ?, ?, ?)",
            arguments: [token.id, token.secretHash, token.scope.rawValue, token.description, token.createdAt])
    }

    func adminToken(id: String) async throws(MailStoreError) -> StoredAdminToken? {
        try await self.access.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM adminToken WHERE id = ?", arguments: [id]).flatMap(Self.adminToken(from:))
        }
    }

    func adminTokens() async throws(MailStoreError) -> [StoredAdminToken] {
        try await self.access.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM adminToken ORDER BY createdAt, id").compactMap(Self.adminToken(from:))
        }
    }

    func revokeAdminToken(id: String, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        try await self.access.write { db in
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

    func auditEntries(after: Int64, newestFirst: Bool, limit: Int) async throws(MailStoreError) -> [AuditEntry] {
        try await self.access.read { db in
            try Row.fetchAll(
                db,
                sql: newestFirst
                    ? "SELECT * FROM auditLog WHERE id < ? ORDER BY id DESC LIMIT ?" : "SELECT * FROM auditLog WHERE id > ? ORDER BY id LIMIT ?",
                arguments: [after, limit]
            ).map {
                AuditEntry(
                    id: $0["id"], tokenID: $0["tokenId"], action: $0["action"], target: $0["target"],
                    detail: $0["detail"], createdAt: $0["createdAt"])
            }
        }
    }

    func recordAudit(action: String, target: String, detail: String?, now: Date, audit: AuditActor) async throws(MailStoreError) {
        try await self.access.write { db in
            try Self.appendAudit(db, audit, action: action, target: target, detail: detail, now: now)
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

    // MARK: Failed logins

    func loginFailures(under key: String, since: Date) async throws(MailStoreError) -> [Date] {
        try await self.access.read { db in
            try Date.fetchAll(
                db, sql: "SELECT failedAt FROM loginFailure WHERE key = ? AND failedAt > ? ORDER BY failedAt",
                arguments: [key, since])
        }
    }

    /// Not synced to disk on commit: a power loss may forget the latest failures, which costs a guesser
    /// nothing it could not get by waiting, and a login storm does not cost a disk flush per guess.
    func recordLoginFailure(under keys: [String], at now: Date, since: Date, keep: Int) async throws(MailStoreError) -> Int {
        try await self.access.writeWithoutSync { db in
            try db.execute(sql: "DELETE FROM loginFailure WHERE failedAt <= ?", arguments: [since])
            var most = 0
            for key in keys {
                try db.execute(sql: "INSERT INTO loginFailure(key, failedAt) VALUES (?, ?)", arguments: [key, now])
                try db.execute(
                    sql: """
                        DELETE FROM loginFailure WHERE key = ? AND rowid NOT IN
                            (SELECT rowid FROM loginFailure WHERE key = ? ORDER BY failedAt DESC LIMIT ?)
                        """, arguments: [key, key, max(1, keep)])
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM loginFailure WHERE key = ?", arguments: [key]) ?? 0
                most = max(most, count)
            }
            return most
        }
    }
}
