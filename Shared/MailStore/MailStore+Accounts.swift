import Credentials
import Foundation
import MailFormat

/// The directory's rules, whatever backend keeps it: names are checked and normalised here, and the
/// backend (`DirectoryBackend`) stores them.
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
        return try await self.directory.insertDomain(name, now: now, audit: audit)
    }

    /// Domains in name order; `after` and `limit` page through them.
    public func domains(after: String? = nil, limit: Int = Int.max) async throws(MailStoreError) -> [Domain] {
        try await self.directory.domains(after: after ?? "", limit: limit)
    }

    public func domain(named name: String) async throws(MailStoreError) -> Domain {
        try await self.directory.domain(named: name)
    }

    public func isLocalDomain(_ name: String) async throws(MailStoreError) -> Bool {
        try await self.directory.isLocalDomain(name)
    }

    /// Deletes a domain. Refused while it has accounts unless `force`, which removes them and their mail.
    public func deleteDomain(_ name: String, force: Bool = false, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError)
    {
        try await self.directory.deleteDomain(name, force: force, now: now, audit: audit)
    }

    // MARK: Accounts

    /// Creates an account in an existing domain, with INBOX and `mailboxes` (by default the
    /// special-use set), in one transaction.
    @discardableResult
    public func createAccount(
        _ address: EmailAddress, passwordHash: PasswordHash, displayName: String? = nil, quotaBytes: Int64? = nil,
        mailboxes: [(name: String, specialUse: SpecialUse?)] = MailStore.defaultMailboxes, now: Date = Date(), audit: AuditActor? = nil
    ) async throws(MailStoreError) -> Account {
        if let quotaBytes, quotaBytes < 0 { throw .invalidArgument("quota must not be negative") }
        let others = mailboxes.filter { $0.name.uppercased() != "INBOX" }
        return try await self.directory.insertAccount(
            NewAccount(address: address, passwordHash: passwordHash, displayName: displayName, quotaBytes: quotaBytes),
            mailboxes: [("INBOX", nil)] + others, now: now, audit: audit)
    }

    public func account(_ address: EmailAddress) async throws(MailStoreError) -> Account {
        try await self.directory.account(address)
    }

    /// Accounts in address order (case-insensitive), optionally of one domain and only those whose address
    /// or display name holds `text` (case-insensitively); `after` and `limit` page.
    public func accounts(inDomain domain: String? = nil, containing text: String? = nil, after: String? = nil, limit: Int = Int.max)
        async throws(MailStoreError) -> [Account]
    {
        try await self.directory.accounts(inDomain: domain, containing: text.flatMap { $0.isEmpty ? nil : $0 }, after: after ?? "", limit: limit)
    }

    /// What a login needs. Reads the current row each time, so a password change or a disabled account
    /// made by another process takes effect at the next login or check.
    public func credentials(for address: EmailAddress) async throws(MailStoreError) -> AccountCredentials? {
        try await self.directory.credentials(for: address)
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
        return try await self.directory.updateAccount(address, changes, now: now, audit: audit)
    }

    /// Deletes an account and its mail. Queue rows it sent stay, for the queue's history.
    public func deleteAccount(_ address: EmailAddress, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError)
    {
        try await self.directory.deleteAccount(address, now: now, audit: audit)
    }

    // MARK: Aliases

    /// Creates an alias (`local@domain`) or a catch-all (`@domain`) pointing at one or more targets,
    /// local or remote.
    @discardableResult
    public func createAlias(_ source: String, targets: [String], now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> Alias
    {
        let (source, domain) = try Self.normalisedAliasSource(source)
        var normalisedTargets: Set<String> = []
        for target in targets {
            do { normalisedTargets.insert(try EmailAddress(parsing: target).description) } catch {
                throw .invalidArgument("alias target \(target): \(error)")
            }
        }
        guard !normalisedTargets.isEmpty else { throw .invalidArgument("an alias needs at least one target") }
        return try await self.directory.insertAlias(
            source: source, domain: domain, targets: normalisedTargets.sorted(), now: now, audit: audit)
    }

    /// Aliases in source order (catch-alls `@domain` sort first), optionally of one domain; `after` and
    /// `limit` page.
    public func aliases(inDomain domain: String? = nil, after: String? = nil, limit: Int = Int.max)
        async throws(MailStoreError) -> [Alias]
    {
        try await self.directory.aliases(inDomain: domain, after: after ?? "", limit: limit)
    }

    public func deleteAlias(_ source: String, now: Date = Date(), audit: AuditActor? = nil) async throws(MailStoreError) {
        let (source, _) = try Self.normalisedAliasSource(source)
        try await self.directory.deleteAlias(source, now: now, audit: audit)
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
        try await self.directory.resolveRecipient(address)
    }
}
