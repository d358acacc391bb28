import Credentials
import Foundation
import HTTPTypes
import Hummingbird
import MailFormat
import MailDNS
import MailStore
import ServiceHost

/// The `/api/v1` resources. Handlers validate, call one store method (one transaction, audited),
/// and answer; every error becomes a problem document in `ProblemMiddleware`.
struct AdminRoutes: Sendable {
    let store: MailStore
    let minimumPasswordLength: Int
    let maximumBodyBytes: Int
    /// What each new account gets beside INBOX (`accounts.mailboxes`).
    let newAccountMailboxes: [(name: String, specialUse: SpecialUse?)]
    /// Where the DNS check looks records up and fetches MTA-STS policies.
    let dnsCheckLookups: DNSCheckLookups
    /// The host name the MX record should name.
    let mailHostname: String

    typealias Handler = @Sendable (Request, AdminRequestContext) async throws -> Response

    /// Every route of `/api/v1`: method, path template and handler. `MethodNotAllowedMiddleware` reads
    /// the same list, so the 405 answers can never disagree with the routes.
    var routes: [(method: HTTPRequest.Method, path: String, handler: Handler)] {
        [
            (.get, "domains", self.listDomains), (.post, "domains", self.createDomain),
            (.get, "domains/:domain", self.getDomain), (.delete, "domains/:domain", self.deleteDomain),
            (.get, "domains/:domain/dns", self.checkDomainDNS),
            (.get, "domains/:domain/transport-security", self.getTransportSecurity),
            (.patch, "domains/:domain/transport-security", self.updateTransportSecurity),
            (.get, "domains/:domain/dkim", self.listDKIMKeys), (.post, "domains/:domain/dkim", self.createDKIMKey),
            (.get, "domains/:domain/dkim/:selector", self.getDKIMKey),
            (.delete, "domains/:domain/dkim/:selector", self.deleteDKIMKey),
            (.post, "domains/:domain/dkim/:selector/activate", self.activateDKIMKey),
            (.post, "domains/:domain/dkim/:selector/retire", self.retireDKIMKey),
            (.get, "accounts", self.listAccounts), (.post, "accounts", self.createAccount),
            (.get, "accounts/:address", self.getAccount), (.patch, "accounts/:address", self.updateAccount),
            (.delete, "accounts/:address", self.deleteAccount),
            (.get, "accounts/:address/mailboxes", self.listMailboxes),
            (.get, "accounts/:address/export", self.exportAccount),
            (.get, "aliases", self.listAliases), (.post, "aliases", self.createAlias),
            (.delete, "aliases/:address", self.deleteAlias),
            (.get, "queue", self.listQueue), (.get, "queue/stats", self.queueStats),
            (.post, "queue/flush", self.flushQueue), (.get, "queue/:id", self.getQueueMessage),
            (.post, "queue/:id/retry", self.retryQueueMessage), (.post, "queue/:id/bounce", self.bounceQueueMessage),
            (.delete, "queue/:id", self.deleteQueueMessage),
            (.get, "transfers", self.listTransfers), (.get, "transfers/:id", self.getTransfer),
            (.get, "audit", self.listAudit), (.get, "queue/activity", self.queueActivity), (.get, "token", self.currentToken),
            (.get, "services", self.listServiceProcesses),
        ]
    }

    func register(on group: RouterGroup<AdminRequestContext>) {
        for route in self.routes {
            group.on(RouterPath(route.path), method: route.method, use: route.handler)
        }
    }

    // MARK: Domains

    @Sendable func listDomains(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let page = try PageRequest(request)
        let domains = try await self.store.domains(after: page.after, limit: page.limit + 1)
        return try JSONResponse.make(Page(domains, limit: page.limit, key: \.name, map: DomainRepresentation.init))
    }

    @Sendable func createDomain(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let body = try await JSONRequestBody.read(
            request, context: context, maximumBytes: self.maximumBodyBytes, allowedFields: ["name"])
        let name = try body.string("name")
        let domain: Domain
        do {
            domain = try await self.store.createDomain(name, audit: context.auditActor)
        } catch .invalidArgument {
            throw ProblemDetails.invalidField("name", "not a valid domain name")
        }
        return try JSONResponse.make(
            DomainRepresentation(domain), status: .created, location: "/api/v1/domains/\(domain.name)")
    }

    @Sendable func getDomain(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let name = try request.pathParameter("domain", context: context).lowercased()
        return try JSONResponse.make(DomainRepresentation(try await self.store.domain(named: name)))
    }

    @Sendable func deleteDomain(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let name = try request.pathParameter("domain", context: context).lowercased()
        let force = try Self.booleanParameter(request, "force")
        try await self.store.deleteDomain(name, force: force, audit: context.auditActor)
        return JSONResponse.noContent()
    }

    // MARK: Accounts

    @Sendable func listAccounts(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let page = try PageRequest(request)
        let domain = request.uri.queryParameters.get("domain").map { $0.lowercased() }
        let search = request.uri.queryParameters.get("search")
        if let search, search.utf8.count > 254 || search.contains("\u{0}") {
            throw ProblemDetails.invalidParameter("search", "search is at most 254 octets of text")
        }
        let accounts = try await self.store.accounts(inDomain: domain, containing: search, after: page.after, limit: page.limit + 1)
        return try JSONResponse.make(
            Page(accounts, limit: page.limit, key: { $0.address.description }, map: AccountRepresentation.init))
    }

    @Sendable func createAccount(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let body = try await JSONRequestBody.read(
            request, context: context, maximumBytes: self.maximumBodyBytes,
            allowedFields: ["address", "password", "passwordHash", "quotaBytes", "displayName"])
        let address = try Self.address(try body.string("address"), field: "address")
        guard let hash = try await self.credential(in: body) else {
            throw ProblemDetails.invalidField("password", "password or passwordHash is required")
        }
        let displayName = try Self.displayName(try body.optionalString("displayName"))
        let quota = try body.optionalByteCount("quotaBytes")
        let account: Account
        do {
            account = try await self.store.createAccount(
                address, passwordHash: hash, displayName: displayName, quotaBytes: quota, mailboxes: self.newAccountMailboxes,
                audit: context.auditActor)
        } catch {
            throw ProblemDetails(error, field: "address")
        }
        return try JSONResponse.make(
            AccountRepresentation(account), status: .created, location: "/api/v1/accounts/\(account.address)")
    }

    @Sendable func getAccount(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let address = try Self.address(try request.pathParameter("address", context: context), field: "address")
        return try JSONResponse.make(AccountRepresentation(try await self.store.account(address)))
    }

    @Sendable func updateAccount(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let address = try Self.address(try request.pathParameter("address", context: context), field: "address")
        let body = try await JSONRequestBody.read(
            request, context: context, maximumBytes: self.maximumBodyBytes,
            allowedFields: ["password", "passwordHash", "quotaBytes", "enabled", "displayName"])
        var changes = AccountChanges()
        if let hash = try await self.credential(in: body) { changes.passwordHash = hash }
        if body.has("quotaBytes") { changes.quotaBytes = .some(try body.optionalByteCount("quotaBytes")) }
        if body.has("enabled") {
            guard let enabled = try body.optionalBool("enabled") else {
                throw ProblemDetails.invalidField("enabled", "enabled must be true or false")
            }
            changes.enabled = enabled
        }
        if body.has("displayName") { changes.displayName = .some(try Self.displayName(try body.optionalString("displayName"))) }
        let account = try await self.store.updateAccount(address, changes, audit: context.auditActor)
        return try JSONResponse.make(AccountRepresentation(account))
    }

    @Sendable func deleteAccount(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let address = try Self.address(try request.pathParameter("address", context: context), field: "address")
        try await self.store.deleteAccount(address, audit: context.auditActor)
        return JSONResponse.noContent()
    }

    @Sendable func listMailboxes(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let address = try Self.address(try request.pathParameter("address", context: context), field: "address")
        let account = try await self.store.account(address)
        var mailboxes: [MailboxRepresentation] = []
        for mailbox in try await self.store.mailboxes(of: account.id) {
            mailboxes.append(MailboxRepresentation(try await self.store.mailboxStatus(mailbox.id)))
        }
        return try JSONResponse.make(Page(mailboxes, limit: mailboxes.count, key: \.name, map: { $0 }))
    }

    // MARK: Aliases

    @Sendable func listAliases(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let page = try PageRequest(request)
        let domain = request.uri.queryParameters.get("domain").map { $0.lowercased() }
        let aliases = try await self.store.aliases(inDomain: domain, after: page.after, limit: page.limit + 1)
        return try JSONResponse.make(Page(aliases, limit: page.limit, key: \.source, map: AliasRepresentation.init))
    }

    @Sendable func createAlias(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let body = try await JSONRequestBody.read(
            request, context: context, maximumBytes: self.maximumBodyBytes, allowedFields: ["address", "targets"])
        let source = try body.string("address")
        let targets = try body.stringArray("targets")
        for target in targets { _ = try Self.address(target, field: "targets") }
        let alias: Alias
        do {
            alias = try await self.store.createAlias(source, targets: targets, audit: context.auditActor)
        } catch .invalidArgument(let detail) {
            throw ProblemDetails.invalidField("address", detail)
        } catch {
            throw ProblemDetails(error, field: "address")
        }
        return try JSONResponse.make(
            AliasRepresentation(alias), status: .created, location: "/api/v1/aliases/\(alias.source)")
    }

    @Sendable func deleteAlias(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let source = try request.pathParameter("address", context: context)
        do {
            try await self.store.deleteAlias(source, audit: context.auditActor)
        } catch .invalidArgument {
            throw ProblemDetails(.notFound, "unknown-alias", "No such alias", detail: source)
        }
        return JSONResponse.noContent()
    }

    // MARK: Queue

    @Sendable func listQueue(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let page = try PageRequest(request)
        let query = request.uri.queryParameters
        var filter = QueueFilter()
        if let state = query.get("state") {
            guard let parsed = QueueState(rawValue: state) else {
                throw ProblemDetails.invalidParameter(
                    "state", "state must be one of \(QueueState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.state = parsed
        }
        filter.sender = query.get("sender")
        filter.recipientDomain = query.get("recipientDomain").map { $0.lowercased() }
        var after: Int64?
        if let key = page.after {
            guard let id = Int64(key) else { throw ProblemDetails.invalidParameter("cursor", "cursor is not one this API returned") }
            after = id
        }
        let messages = try await self.store.queueMessages(matching: filter, after: after, limit: page.limit + 1)
        return try JSONResponse.make(
            Page(messages, limit: page.limit, key: { String($0.id.rawValue) }, map: QueueMessageRepresentation.init))
    }

    @Sendable func queueStats(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let stats = try await self.store.queueStats()
        let deferrals = try await self.store.deferralsByDomain()
        return try JSONResponse.make(
            QueueStatsRepresentation(
                counts: Dictionary(uniqueKeysWithValues: stats.counts.map { ($0.key.rawValue, $0.value) }),
                oldestPendingAgeSeconds: stats.oldestPendingSince.map { max(0, Int(-$0.timeIntervalSinceNow)) },
                deferralsByDomain: deferrals.map { .init(domain: $0.domain, deferred: $0.count) }))
    }

    @Sendable func flushQueue(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let count = try await self.store.flushQueue(audit: context.auditActor)
        return try JSONResponse.make(CountRepresentation(affectedRecipients: count))
    }

    @Sendable func getQueueMessage(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let id = try Self.queueID(request, context: context)
        guard let detail = try await self.store.queueMessage(id) else {
            throw ProblemDetails(MailStoreError.unknownQueueMessage(id.rawValue))
        }
        return try JSONResponse.make(QueueMessageRepresentation(detail))
    }

    @Sendable func retryQueueMessage(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let id = try Self.queueID(request, context: context)
        let count = try await self.store.retryQueueMessageNow(id, audit: context.auditActor)
        return try JSONResponse.make(CountRepresentation(affectedRecipients: count))
    }

    @Sendable func bounceQueueMessage(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let id = try Self.queueID(request, context: context)
        let body = try await JSONRequestBody.read(
            request, context: context, maximumBytes: self.maximumBodyBytes, allowedFields: ["reason"], required: false)
        let reason = try body.optionalString("reason") ?? "bounced by the operator"
        guard reason.utf8.count <= 500, !reason.contains(where: { $0.isNewline || $0 == "\u{0}" }) else {
            // The reason may end up in a bounce message: no line breaks that could inject headers.
            throw ProblemDetails.invalidField("reason", "reason must be one line of at most 500 bytes")
        }
        let count = try await self.store.bounceQueueMessage(id, reason: reason, audit: context.auditActor)
        return try JSONResponse.make(CountRepresentation(affectedRecipients: count))
    }

    @Sendable func deleteQueueMessage(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let id = try Self.queueID(request, context: context)
        try await self.store.deleteQueueMessage(id, audit: context.auditActor)
        return JSONResponse.noContent()
    }

    // MARK: Audit

    /// Delivered and bounced recipients per hour over the last `hours` (1 to 168, 24 by default).
    @Sendable func queueActivity(_ request: Request, context: AdminRequestContext) async throws -> Response {
        var hours = 24
        if let text = request.uri.queryParameters.get("hours") {
            guard let number = Int(text), (1...168).contains(number) else {
                throw ProblemDetails.invalidParameter("hours", "hours must be a number from 1 to 168")
            }
            hours = number
        }
        return try JSONResponse.make(QueueActivityRepresentation(try await self.store.queueActivity(hours: hours)))
    }

    /// Every service's processes seen in the last day, with their state now.
    @Sendable func listServiceProcesses(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let now = Date()
        let processes = try await self.store.serviceProcesses()
        return try JSONResponse.make(["items": processes.map { ServiceProcessRepresentation($0, now: now) }])
    }

    /// The token this request presents (never its secret), so a client knows whether it may write.
    @Sendable func currentToken(_ request: Request, context: AdminRequestContext) async throws -> Response {
        guard let token = context.token else { throw BearerAuthenticationMiddleware.unauthorized() }
        return try JSONResponse.make(TokenRepresentation(token))
    }

    @Sendable func listAudit(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let page = try PageRequest(request)
        let newestFirst: Bool
        switch request.uri.queryParameters.get("order") {
        case nil, "oldest": newestFirst = false
        case "newest": newestFirst = true
        default: throw ProblemDetails.invalidParameter("order", "order is oldest or newest")
        }
        let entries = try await self.store.auditEntries(after: try page.afterID(), newestFirst: newestFirst, limit: page.limit + 1)
        return try JSONResponse.make(
            Page(entries, limit: page.limit, key: { String($0.id) }, map: AuditRepresentation.init))
    }

    // MARK: Validation

    static func address(_ text: String, field: String) throws -> EmailAddress {
        do {
            return try EmailAddress(parsing: text)
        } catch {
            throw ProblemDetails.invalidField(field, "\(text) is not a valid address: \(error)")
        }
    }

    static func displayName(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard text.utf8.count <= 200, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            // A display name may end up in headers of generated mail: no control characters.
            throw ProblemDetails.invalidField("displayName", "displayName must be at most 200 bytes, without control characters")
        }
        return text
    }

    /// The account's new credential: a `password` to hash, or a `passwordHash` taken as is so that
    /// accounts move from Dovecot or another crypt(3) user database without their passwords (a
    /// `{SHA512-CRYPT}`-style scheme prefix, as in a Dovecot passwd-file, is accepted). Never both.
    func credential(in body: JSONRequestBody) async throws -> PasswordHash? {
        let password = try body.optionalString("password")
        guard let encoded = try body.optionalString("passwordHash") else {
            guard let password else { return nil }
            return try await self.hash(password)
        }
        guard password == nil else {
            throw ProblemDetails.invalidField("passwordHash", "give password or passwordHash, not both")
        }
        guard let hash = PasswordHash(importing: encoded) else {
            throw ProblemDetails.invalidField(
                "passwordHash", "passwordHash must be a yescrypt ($y$), SHA512-CRYPT ($6$), SHA256-CRYPT ($5$) or bcrypt ($2b$) crypt(3) string")
        }
        return hash
    }

    func hash(_ password: String) async throws -> PasswordHash {
        guard password.count >= self.minimumPasswordLength else {
            throw ProblemDetails.weakPassword(minimum: self.minimumPasswordLength)
        }
        guard password.utf8.count <= 1024, !password.utf8.contains(0) else {
            throw ProblemDetails.invalidField("password", "password must be at most 1024 bytes, without NUL")
        }
        do {
            return try await PasswordHasher.hash(password)
        } catch {
            throw ProblemDetails.invalidField("password", "this password cannot be hashed")
        }
    }

    static func queueID(_ request: Request, context: AdminRequestContext) throws -> QueueMessageID {
        guard let id = Int64(try request.pathParameter("id", context: context)), id > 0 else {
            throw ProblemDetails.invalidParameter("id", "a queue id is a positive number")
        }
        return QueueMessageID(id)
    }

    static func booleanParameter(_ request: Request, _ name: String) throws -> Bool {
        switch request.uri.queryParameters.get(name) {
        case nil, "false": return false
        case "true": return true
        default: throw ProblemDetails.invalidParameter(name, "\(name) must be true or false")
        }
    }
}
