import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO

/// The directory in PostgreSQL. Names are matched by `lower(… COLLATE "C")`, which the unique indexes
/// cover and which folds ASCII only, as the SQLite file's NOCASE columns do. Rows a change depends on are
/// locked (`FOR SHARE`, `FOR UPDATE`), so that concurrent changes from other hosts wait for each other
/// instead of acting on a row another transaction is removing.
struct PostgresDirectory: DirectoryBackend {
    let access: PostgresAccess
    var logger: Logger { self.access.logger }

    // MARK: Domains

    func insertDomain(_ name: String, now: Date, audit: AuditActor?) async throws(MailStoreError) -> Domain {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard let row = try await connection.rows(
                "INSERT INTO domain (name, created_at) VALUES (\(name), \(now)) ON CONFLICT DO NOTHING RETURNING id",
                logger
            ).first else { throw MailStoreError.domainExists(name) }
            try await Self.appendAudit(connection, audit, action: "domain.create", target: name, detail: nil, now: now, logger)
            return Domain(id: DomainID(try row.decode(Int64.self)), name: name, createdAt: now, accountCount: 0)
        }
    }

    func domains(after: String, limit: Int) async throws(MailStoreError) -> [Domain] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT d.id, d.name, d.created_at, (SELECT count(*) FROM account a WHERE a.domain_id = d.id)
                FROM domain d WHERE lower(d.name) > lower(\(after) COLLATE "C") ORDER BY lower(d.name) LIMIT \(Self.clamped(limit))
                """, logger
            ).map(Self.domain(from:))
        }
    }

    func domain(named name: String) async throws(MailStoreError) -> Domain {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                """
                SELECT d.id, d.name, d.created_at, (SELECT count(*) FROM account a WHERE a.domain_id = d.id)
                FROM domain d WHERE lower(d.name) = lower(\(name) COLLATE "C")
                """, logger
            ).first else { throw MailStoreError.unknownDomain(name) }
            return try Self.domain(from: row)
        }
    }

    static func domain(from row: PostgresRow) throws -> Domain {
        let (id, name, createdAt, accounts) = try row.decode((Int64, String, Date, Int).self)
        return Domain(id: DomainID(id), name: name, createdAt: createdAt, accountCount: accounts)
    }

    func isLocalDomain(_ name: String) async throws(MailStoreError) -> Bool {
        let logger = self.logger
        return try await self.access.read { connection in
            try await !connection.rows("SELECT 1 FROM domain WHERE lower(name) = lower(\(name) COLLATE \"C\")", logger).isEmpty
        }
    }

    func deleteDomain(_ name: String, force: Bool, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            guard let row = try await connection.rows(
                "SELECT id FROM domain WHERE lower(name) = lower(\(name) COLLATE \"C\") FOR UPDATE", logger
            ).first else { throw MailStoreError.unknownDomain(name) }
            let id = try row.decode(Int64.self)
            let accounts = try await connection.rows("SELECT count(*) FROM account WHERE domain_id = \(id)", logger)
                .first?.decode(Int.self) ?? 0
            if accounts > 0 && !force { throw MailStoreError.domainNotEmpty(name) }
            try await connection.query("DELETE FROM domain WHERE id = \(id)", logger: logger)
            try await Self.deleteUnreferencedContents(connection, logger)
            try await Self.appendAudit(
                connection, audit, action: "domain.delete", target: name, detail: force ? "force" : nil, now: now, logger)
        }
    }

    // MARK: Accounts

    func insertAccount(
        _ account: NewAccount, mailboxes: [(name: String, specialUse: SpecialUse?)], now: Date, audit: AuditActor?
    ) async throws(MailStoreError) -> Account {
        let logger = self.logger
        let mailboxes = mailboxes.map { ($0.name, $0.specialUse?.rawValue) }
        return try await self.access.transaction { connection in
            let address = account.address
            guard let domain = try await connection.rows(
                "SELECT id FROM domain WHERE lower(name) = lower(\(address.domain) COLLATE \"C\") FOR SHARE", logger
            ).first else { throw MailStoreError.unknownDomain(address.domain) }
            guard let row = try await connection.rows(
                """
                INSERT INTO account (domain_id, address, local_part, display_name, password_hash, quota_bytes,
                                     enabled, created_at, updated_at)
                VALUES (\(try domain.decode(Int64.self)), \(address.description), \(address.localPart), \(account.displayName),
                        \(account.passwordHash.encoded), \(account.quotaBytes), true, \(now), \(now))
                ON CONFLICT DO NOTHING
                RETURNING \(unescaped: Self.accountColumns)
                """, logger
            ).first else { throw MailStoreError.accountExists(address.description) }
            let stored = try Self.account(from: row)
            for (name, specialUse) in mailboxes {
                try await Self.insertMailbox(
                    connection, accountID: stored.id.rawValue, name: name, specialUse: specialUse, now: now, logger)
            }
            try await Self.appendAudit(
                connection, audit, action: "account.create", target: address.description, detail: nil, now: now, logger)
            return stored
        }
    }

    func account(_ address: EmailAddress) async throws(MailStoreError) -> Account {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                "SELECT \(unescaped: Self.accountColumns) FROM account WHERE lower(address) = lower(\(address.description) COLLATE \"C\")",
                logger
            ).first else { throw MailStoreError.unknownAccount(address.description) }
            return try Self.account(from: row)
        }
    }

    func accounts(inDomain domain: String?, containing text: String?, after: String, limit: Int) async throws(MailStoreError) -> [Account] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT \(unescaped: Self.accountColumns) FROM account
                WHERE (\(domain)::text IS NULL OR domain_id = (SELECT id FROM domain WHERE lower(name) = lower(\(domain) COLLATE "C")))
                  AND (\(text)::text IS NULL OR strpos(lower(address), lower(\(text)::text COLLATE "C")) > 0
                       OR strpos(lower(coalesce(display_name, '')), lower(\(text)::text COLLATE "C")) > 0)
                  AND lower(address) > lower(\(after) COLLATE "C")
                ORDER BY lower(address) LIMIT \(Self.clamped(limit))
                """, logger
            ).map(Self.account(from:))
        }
    }

    func credentials(for address: EmailAddress) async throws(MailStoreError) -> AccountCredentials? {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows(
                """
                SELECT id, address, password_hash, enabled FROM account
                WHERE lower(address) = lower(\(address.description) COLLATE "C")
                """, logger
            ).first else { return nil }
            let (id, stored, hash, enabled) = try row.decode((Int64, String, String, Bool).self)
            guard let hash = PasswordHash(encoded: hash), let stored = try? EmailAddress(parsing: stored) else { return nil }
            return AccountCredentials(accountID: AccountID(id), address: stored, passwordHash: hash, enabled: enabled)
        }
    }

    func updateAccount(_ address: EmailAddress, _ changes: AccountChanges, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Account
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard let row = try await connection.rows(
                "SELECT id FROM account WHERE lower(address) = lower(\(address.description) COLLATE \"C\") FOR UPDATE", logger
            ).first else { throw MailStoreError.unknownAccount(address.description) }
            let id = try row.decode(Int64.self)
            // The audit detail names the fields as the SQLite file's columns do, so the log reads the same
            // on either backend.
            var changed: [String] = []
            if let hash = changes.passwordHash {
                try await connection.query("UPDATE account SET password_hash = \(hash.encoded) WHERE id = \(id)", logger: logger)
                changed.append("passwordHash")
            }
            if let quota = changes.quotaBytes {
                try await connection.query("UPDATE account SET quota_bytes = \(quota) WHERE id = \(id)", logger: logger)
                changed.append("quotaBytes")
            }
            if let enabled = changes.enabled {
                try await connection.query("UPDATE account SET enabled = \(enabled) WHERE id = \(id)", logger: logger)
                changed.append("enabled")
            }
            if let displayName = changes.displayName {
                try await connection.query("UPDATE account SET display_name = \(displayName) WHERE id = \(id)", logger: logger)
                changed.append("displayName")
            }
            guard let updated = try await connection.rows(
                "UPDATE account SET updated_at = \(now) WHERE id = \(id) RETURNING \(unescaped: Self.accountColumns)", logger
            ).first else { throw MailStoreError.unknownAccount(address.description) }
            try await Self.appendAudit(
                connection, audit, action: "account.update", target: address.description,
                detail: changed.joined(separator: ","), now: now, logger)
            return try Self.account(from: updated)
        }
    }

    func deleteAccount(_ address: EmailAddress, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            guard try await !connection.rows(
                "DELETE FROM account WHERE lower(address) = lower(\(address.description) COLLATE \"C\") RETURNING id", logger
            ).isEmpty else { throw MailStoreError.unknownAccount(address.description) }
            try await Self.deleteUnreferencedContents(connection, logger)
            try await Self.appendAudit(
                connection, audit, action: "account.delete", target: address.description, detail: nil, now: now, logger)
        }
    }

    static let accountColumns = "id, address, display_name, quota_bytes, used_bytes, message_count, enabled, created_at"

    static func account(from row: PostgresRow) throws -> Account {
        let (id, address, displayName, quota, used, messages, enabled, createdAt) = try row.decode(
            (Int64, String, String?, Int64?, Int64, Int64, Bool, Date).self)
        guard let parsed = try? EmailAddress(parsing: address) else {
            throw MailStoreError.unavailable("account \(id) has an address that does not parse: \(address)")
        }
        return Account(
            id: AccountID(id), address: parsed, displayName: displayName, quotaBytes: quota, usedBytes: used,
            messageCount: messages, enabled: enabled, createdAt: createdAt)
    }

    // MARK: Aliases

    func insertAlias(source: String, domain: String, targets: [String], now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Alias
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard let domainRow = try await connection.rows(
                "SELECT id FROM domain WHERE lower(name) = lower(\(domain) COLLATE \"C\") FOR SHARE", logger
            ).first else { throw MailStoreError.unknownDomain(domain) }
            guard let aliasRow = try await connection.rows(
                """
                INSERT INTO alias (domain_id, source, created_at) VALUES (\(try domainRow.decode(Int64.self)), \(source), \(now))
                ON CONFLICT DO NOTHING RETURNING id
                """, logger
            ).first else { throw MailStoreError.aliasExists(source) }
            try await connection.query(
                "INSERT INTO alias_target (alias_id, target) SELECT \(try aliasRow.decode(Int64.self)), unnest(\(targets))",
                logger: logger)
            let alias = Alias(source: source, targets: targets.sorted())
            try await Self.appendAudit(
                connection, audit, action: "alias.create", target: source, detail: alias.targets.joined(separator: ","),
                now: now, logger)
            return alias
        }
    }

    func aliases(inDomain domain: String?, after: String, limit: Int) async throws(MailStoreError) -> [Alias] {
        let logger = self.logger
        return try await self.access.read { connection in
            // One statement (one snapshot): the page of aliases, each row one of its targets.
            let rows = try await connection.rows(
                """
                WITH page AS (
                    SELECT a.id, a.source FROM alias a
                    WHERE (\(domain)::text IS NULL OR a.domain_id = (SELECT id FROM domain WHERE lower(name) = lower(\(domain) COLLATE "C")))
                      AND lower(a.source) > lower(\(after) COLLATE "C")
                    ORDER BY lower(a.source) LIMIT \(Self.clamped(limit))
                )
                SELECT p.source, t.target FROM page p JOIN alias_target t ON t.alias_id = p.id
                ORDER BY lower(p.source), t.target
                """, logger)
            var aliases: [Alias] = []
            var current: (source: String, targets: [String])?
            for row in rows {
                let (source, target) = try row.decode((String, String).self)
                if current?.source != source {
                    if let current { aliases.append(Alias(source: current.source, targets: current.targets)) }
                    current = (source, [])
                }
                current?.targets.append(target)
            }
            if let current { aliases.append(Alias(source: current.source, targets: current.targets)) }
            return aliases
        }
    }

    func deleteAlias(_ source: String, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            guard try await !connection.rows(
                "DELETE FROM alias WHERE lower(source) = lower(\(source) COLLATE \"C\") RETURNING id", logger
            ).isEmpty else { throw MailStoreError.unknownAlias(source) }
            try await Self.appendAudit(connection, audit, action: "alias.delete", target: source, detail: nil, now: now, logger)
        }
    }

    /// One statement, so one round trip per recipient: every answer the order of precedence may need,
    /// each row tagged with what it is.
    func resolveRecipient(_ address: EmailAddress) async throws(MailStoreError) -> RecipientResolution {
        let logger = self.logger
        return try await self.access.read { connection in
            let rows = try await connection.rows(RecipientResolutionStatement(address: address), logger)
            return try Self.resolution(from: rows.map { try $0.decode((Int, String?, Int64?, Bool?, Int64?, Int64?).self) })
        }
    }

    /// A resolution from `RecipientResolutionStatement`'s rows (kind, target, account id, enabled, quota,
    /// usage); rows of other kinds are left out.
    static func resolution(from rows: [(Int, String?, Int64?, Bool?, Int64?, Int64?)]) -> RecipientResolution {
        var local = false
        var exact: [String] = []
        var account: RecipientResolution?
        var catchAll: [String] = []
        for (kind, target, id, enabled, quota, used) in rows {
            switch kind {
            case 0: local = true
            case 1: if let target { exact.append(target) }
            case 2:
                if let id, let enabled, let used {
                    account = .account(AccountID(id), enabled: enabled, quotaBytes: quota, usedBytes: used)
                }
            case 3: if let target { catchAll.append(target) }
            default: break
            }
        }
        guard local else { return .notLocal }
        if !exact.isEmpty { return .alias(targets: exact) }
        if let account { return account }
        return catchAll.isEmpty ? .unknownLocal : .catchAll(targets: catchAll)
    }

    // MARK: Admin tokens and the audit log

    func insertAdminToken(_ token: StoredAdminToken, audit: AuditActor?) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            guard try await Self.insert(connection, token, logger) else {
                throw MailStoreError.invalidArgument("a token with id \(token.id) exists")
            }
            try await Self.appendAudit(
                connection, audit, action: "token.create", target: token.id, detail: token.scope.rawValue, now: token.createdAt,
                logger)
        }
    }

    func insertFirstAdminToken(_ token: StoredAdminToken) async throws(MailStoreError) -> Bool {
        let logger = self.logger
        return try await self.access.transaction { connection in
            // Every host may start at once with the same bootstrap token: the table lock makes the
            // check and the insert one step, so exactly one of them stores it.
            try await connection.query("LOCK TABLE admin_token IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            guard try await connection.rows("SELECT 1 FROM admin_token LIMIT 1", logger).isEmpty else { return false }
            guard try await Self.insert(connection, token, logger) else { return false }
            try await Self.appendAudit(
                connection, AuditActor(tokenID: token.id), action: "token.bootstrap", target: token.id, detail: nil,
                now: token.createdAt, logger)
            return true
        }
    }

    /// True when inserted, false when a token with its id exists.
    static func insert(_ connection: PostgresConnection, _ token: StoredAdminToken, _ logger: Logger) async throws -> Bool {
        try await !connection.rows(
            """
            INSERT INTO admin_token (id, secret_hash, scope, description, created_at)
            VALUES (\(token.id), \(token.secretHash), \(token.scope.rawValue), \(token.description), \(token.createdAt))
            ON CONFLICT DO NOTHING RETURNING id
            """, logger
        ).isEmpty
    }

    func adminToken(id: String) async throws(MailStoreError) -> StoredAdminToken? {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows("SELECT \(unescaped: Self.tokenColumns) FROM admin_token WHERE id = \(id)", logger)
                .first.flatMap(Self.adminToken(from:))
        }
    }

    func adminTokens() async throws(MailStoreError) -> [StoredAdminToken] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows("SELECT \(unescaped: Self.tokenColumns) FROM admin_token ORDER BY created_at, id", logger)
                .compactMap(Self.adminToken(from:))
        }
    }

    func revokeAdminToken(id: String, now: Date, audit: AuditActor?) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            guard try await !connection.rows(
                "UPDATE admin_token SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING id", logger
            ).isEmpty else { throw MailStoreError.invalidArgument("no active token \(id)") }
            try await Self.appendAudit(connection, audit, action: "token.revoke", target: id, detail: nil, now: now, logger)
        }
    }

    func recordAudit(action: String, target: String, detail: String?, now: Date, audit: AuditActor) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await Self.appendAudit(connection, audit, action: action, target: target, detail: detail, now: now, logger)
        }
    }

    static let tokenColumns = "id, secret_hash, scope, description, created_at, revoked_at"

    /// nil for a scope this build does not know (a newer version's), as the SQLite backend does.
    static func adminToken(from row: PostgresRow) throws -> StoredAdminToken? {
        let (id, secretHash, scope, description, createdAt, revokedAt) = try row.decode(
            (String, Data, String, String, Date, Date?).self)
        guard let scope = AdminScope(rawValue: scope) else { return nil }
        return StoredAdminToken(
            id: id, secretHash: secretHash, scope: scope, description: description, createdAt: createdAt, revokedAt: revokedAt)
    }

    func auditEntries(after: Int64, newestFirst: Bool, limit: Int) async throws(MailStoreError) -> [AuditEntry] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                newestFirst
                    ? """
                    SELECT id, token_id, action, target, detail, created_at FROM audit_log
                    WHERE id < \(after) ORDER BY id DESC LIMIT \(Self.clamped(limit))
                    """
                    : """
                    SELECT id, token_id, action, target, detail, created_at FROM audit_log
                    WHERE id > \(after) ORDER BY id LIMIT \(Self.clamped(limit))
                    """, logger
            ).map { row in
                let (id, tokenID, action, target, detail, createdAt) = try row.decode(
                    (Int64, String, String, String, String?, Date).self)
                return AuditEntry(id: id, tokenID: tokenID, action: action, target: target, detail: detail, createdAt: createdAt)
            }
        }
    }

    /// Records a change in the same transaction as the change itself, so the log never misses one.
    static func appendAudit(
        _ connection: PostgresConnection, _ actor: AuditActor?, action: String, target: String, detail: String?, now: Date,
        _ logger: Logger
    ) async throws {
        guard let actor else { return }
        try await connection.query(
            """
            INSERT INTO audit_log (token_id, action, target, detail, created_at)
            VALUES (\(actor.tokenID), \(action), \(target), \(detail), \(now))
            """, logger: logger)
    }

    // MARK: Failed logins

    func loginFailures(under key: String, since: Date) async throws(MailStoreError) -> [Date] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT failed_at FROM login_failure WHERE key = \(key) AND failed_at > \(since) ORDER BY failed_at, id", logger
            ).map { try $0.decode(Date.self) }
        }
    }

    /// Committed without waiting for the disk: a crash may forget the latest failures, which costs a
    /// guesser nothing it could not get by waiting, and a login storm does not cost a flush per guess.
    func recordLoginFailure(under keys: [String], at now: Date, since: Date, keep: Int) async throws(MailStoreError) -> Int {
        let logger = self.logger
        let keep = max(1, keep)
        return try await self.access.transaction(durable: false) { connection in
            try await connection.query("DELETE FROM login_failure WHERE failed_at <= \(since)", logger: logger)
            var most = 0
            for key in keys {
                try await connection.query("INSERT INTO login_failure (key, failed_at) VALUES (\(key), \(now))", logger: logger)
                try await connection.query(
                    """
                    DELETE FROM login_failure WHERE key = \(key) AND id NOT IN
                        (SELECT id FROM login_failure WHERE key = \(key) ORDER BY failed_at DESC, id DESC LIMIT \(keep))
                    """, logger: logger)
                let count = try await connection.rows("SELECT count(*) FROM login_failure WHERE key = \(key)", logger)
                    .first?.decode(Int.self) ?? 0
                most = max(most, count)
            }
            return most
        }
    }

    // MARK: Shared with the other parts of the store

    /// Adds a mailbox with a UIDVALIDITY no mailbox of the installation had before (RFC 9051 §2.3.1.1):
    /// a counter that never goes back, seeded from the clock. Its row lock orders concurrent creations
    /// on every host.
    static func insertMailbox(
        _ connection: PostgresConnection, accountID: Int64, name: String, specialUse: String?, now: Date, _ logger: Logger
    ) async throws {
        let seed = min(max(Int64(now.timeIntervalSince1970), 1), Int64(UInt32.max))
        guard let row = try await connection.rows(
            """
            INSERT INTO counter (name, value) VALUES ('uidValidity', \(seed))
            ON CONFLICT (name) DO UPDATE SET value = greatest(counter.value + 1, excluded.value)
            RETURNING value
            """, logger
        ).first else { throw MailStoreError.unavailable("the UIDVALIDITY counter gave no value") }
        let uidValidity = try row.decode(Int64.self)
        guard uidValidity <= Int64(UInt32.max) else { throw MailStoreError.unavailable("UIDVALIDITY counter exhausted") }
        try await connection.query(
            """
            INSERT INTO mailbox (account_id, name, special_use, uid_validity, uid_next, highest_mod_seq, created_at)
            VALUES (\(accountID), \(name), \(specialUse), \(uidValidity), 1, 1, \(now))
            """, logger: logger)
        // A new mailbox is subscribed (a subscription the name had already stays).
        try await connection.query(
            "INSERT INTO mailbox_subscription (account_id, name) VALUES (\(accountID), \(name)) ON CONFLICT DO NOTHING", logger: logger)
    }

    /// Contents that no mailbox message and no queued message uses any more (except uploads still arriving).
    static func deleteUnreferencedContents(_ connection: PostgresConnection, _ logger: Logger) async throws {
        try await connection.query(
            """
            DELETE FROM message_blob b WHERE b.layout <> 'upload'
                AND NOT EXISTS (SELECT 1 FROM mailbox_message m WHERE m.message_blob_id = b.id)
                AND NOT EXISTS (SELECT 1 FROM queue_message q WHERE q.message_blob_id = b.id)
            """, logger: logger)
    }

    /// A page size the database takes (LIMIT is a bigint; `Int.max` means all).
    static func clamped(_ limit: Int) -> Int64 { Int64(max(0, min(limit, Int(Int32.max)))) }
}
