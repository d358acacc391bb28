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
    public func createDomain(_ requestedName: String, now: Date = Date()) async throws(MailStoreError) -> Domain {
        let name: String
        do { name = try EmailAddress.normalisedDomain(requestedName) } catch {
            throw .invalidArgument("domain: \(error)")
        }
        return try await self.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [name]) == true {
                throw MailStoreError.domainExists(name)
            }
            try db.execute(sql: "INSERT INTO domain(name, createdAt) VALUES (?, ?)", arguments: [name, now])
            return Domain(id: DomainID(db.lastInsertedRowID), name: name, createdAt: now)
        }
    }

    public func domains() async throws(MailStoreError) -> [Domain] {
        try await self.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, createdAt FROM domain ORDER BY name").map {
                Domain(id: DomainID($0["id"]), name: $0["name"], createdAt: $0["createdAt"])
            }
        }
    }

    public func isLocalDomain(_ name: String) async throws(MailStoreError) -> Bool {
        try await self.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM domain WHERE name = ?", arguments: [name]) == true
        }
    }

    /// Deletes a domain. Refused while it has accounts unless `force`, which removes them and their mail.
    public func deleteDomain(_ name: String, force: Bool = false) async throws(MailStoreError) {
        try await self.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM domain WHERE name = ?", arguments: [name])
            else { throw MailStoreError.unknownDomain(name) }
            let accounts = try Int.fetchOne(db, sql: "SELECT count(*) FROM account WHERE domainId = ?", arguments: [id])
            if (accounts ?? 0) > 0 && !force { throw MailStoreError.domainNotEmpty(name) }
            try db.execute(sql: "DELETE FROM domain WHERE id = ?", arguments: [id])
            try Self.deleteUnreferencedBlobs(db)
        }
    }

    // MARK: Accounts

    /// Creates an account in an existing domain, with INBOX and the special-use mailboxes.
    @discardableResult
    public func createAccount(
        _ address: EmailAddress, passwordHash: PasswordHash, displayName: String? = nil, quotaBytes: Int64? = nil,
        now: Date = Date()
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

    public func accounts(inDomain domain: String? = nil) async throws(MailStoreError) -> [Account] {
        try await self.read { db in
            let rows: [Row]
            if let domain {
                rows = try Row.fetchAll(
                    db,
                    sql: "SELECT a.* FROM account a JOIN domain d ON d.id = a.domainId WHERE d.name = ? ORDER BY a.address",
                    arguments: [domain])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM account ORDER BY address")
            }
            return rows.compactMap(Self.account(from:))
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
        try await self.updateAccount(address, set: "passwordHash = ?", hash.encoded, now: now)
    }

    public func setEnabled(_ enabled: Bool, for address: EmailAddress, now: Date = Date()) async throws(MailStoreError)
    {
        try await self.updateAccount(address, set: "enabled = ?", enabled, now: now)
    }

    public func setQuota(_ quotaBytes: Int64?, for address: EmailAddress, now: Date = Date())
        async throws(MailStoreError)
    {
        if let quotaBytes, quotaBytes < 0 { throw .invalidArgument("quota must not be negative") }
        try await self.updateAccount(address, set: "quotaBytes = ?", quotaBytes, now: now)
    }

    /// Deletes an account and its mail. Queue rows it sent stay, for the queue's history.
    public func deleteAccount(_ address: EmailAddress) async throws(MailStoreError) {
        try await self.write { db in
            try db.execute(sql: "DELETE FROM account WHERE address = ?", arguments: [address.description])
            guard db.changesCount > 0 else { throw MailStoreError.unknownAccount(address.description) }
            try Self.deleteUnreferencedBlobs(db)
        }
    }

    private func updateAccount(
        _ address: EmailAddress, set assignment: String, _ value: (any DatabaseValueConvertible & Sendable)?, now: Date
    ) async throws(MailStoreError) {
        try await self.write { db in
            try db.execute(
                sql: "UPDATE account SET \(assignment), updatedAt = ? WHERE address = ?",
                arguments: [value, now, address.description])
            guard db.changesCount > 0 else { throw MailStoreError.unknownAccount(address.description) }
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
    public func createAlias(_ source: String, targets: [String], now: Date = Date()) async throws(MailStoreError)
        -> Alias
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
            return Alias(source: source, targets: Array(Set(finalTargets)).sorted())
        }
    }

    public func aliases(inDomain domain: String? = nil) async throws(MailStoreError) -> [Alias] {
        try await self.read { db in
            let rows: [Row]
            if let domain {
                rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT a.source, t.target FROM alias a JOIN aliasTarget t ON t.aliasId = a.id
                        JOIN domain d ON d.id = a.domainId WHERE d.name = ? ORDER BY a.source, t.target
                        """, arguments: [domain])
            } else {
                rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT a.source, t.target FROM alias a JOIN aliasTarget t ON t.aliasId = a.id
                        ORDER BY a.source, t.target
                        """)
            }
            var order: [String] = []
            var targets: [String: [String]] = [:]
            for row in rows {
                let source: String = row["source"]
                if targets[source] == nil { order.append(source) }
                targets[source, default: []].append(row["target"])
            }
            return order.map { Alias(source: $0, targets: targets[$0] ?? []) }
        }
    }

    public func deleteAlias(_ source: String) async throws(MailStoreError) {
        let (source, _) = try Self.normalisedAliasSource(source)
        try await self.write { db in
            try db.execute(sql: "DELETE FROM alias WHERE source = ?", arguments: [source])
            guard db.changesCount > 0 else { throw MailStoreError.unknownAlias(source) }
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
            let exact = try String.fetchAll(
                db,
                sql: "SELECT t.target FROM alias a JOIN aliasTarget t ON t.aliasId = a.id WHERE a.source = ? ORDER BY t.target",
                arguments: [address.description])
            if !exact.isEmpty { return .alias(targets: exact) }
            if let row = try Row.fetchOne(
                db, sql: "SELECT id, enabled, quotaBytes, usedBytes FROM account WHERE address = ?",
                arguments: [address.description])
            {
                return .account(
                    AccountID(row["id"]), enabled: row["enabled"], quotaBytes: row["quotaBytes"],
                    usedBytes: row["usedBytes"])
            }
            let catchAll = try String.fetchAll(
                db,
                sql: "SELECT t.target FROM alias a JOIN aliasTarget t ON t.aliasId = a.id WHERE a.source = ? ORDER BY t.target",
                arguments: ["@" + address.domain])
            return catchAll.isEmpty ? .unknownLocal : .catchAll(targets: catchAll)
        }
    }
}
