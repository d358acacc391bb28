import Credentials
import Foundation
import MailFormat

/// Where a backend keeps the directory: domains, accounts, aliases, admin tokens, the audit log and
/// failed logins. `MailStore` checks and normalises what callers give it (names, quotas, targets)
/// before it calls these, so a backend only stores and finds; each method is one transaction, and one
/// that changes something with an `audit` actor records the change in the audit log in that same
/// transaction.
///
/// Addresses, domains and alias sources compare without regard to ASCII case, as the SMTP and mail
/// address standards treat domains (and as this suite treats local parts), and list in that order.
public protocol DirectoryBackend: Sendable {
    /// Adds a domain; `domainExists` if one of that name is there.
    func insertDomain(_ name: String, now: Date, audit: AuditActor?) async throws(MailStoreError) -> Domain
    /// Domains whose names sort after `after`, in name order, at most `limit`.
    func domains(after: String, limit: Int) async throws(MailStoreError) -> [Domain]
    func domain(named name: String) async throws(MailStoreError) -> Domain
    func isLocalDomain(_ name: String) async throws(MailStoreError) -> Bool
    /// Removes a domain, its accounts, their mail and its aliases; `domainNotEmpty` when it has accounts
    /// and not `force`.
    func deleteDomain(_ name: String, force: Bool, now: Date, audit: AuditActor?) async throws(MailStoreError)

    /// Adds an account with `mailboxes` (each with a new UIDVALIDITY) in one transaction.
    func insertAccount(_ account: NewAccount, mailboxes: [(name: String, specialUse: SpecialUse?)], now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Account
    func account(_ address: EmailAddress) async throws(MailStoreError) -> Account
    /// `text`: only accounts whose address or display name holds it (case-insensitively).
    func accounts(inDomain domain: String?, containing text: String?, after: String, limit: Int) async throws(MailStoreError) -> [Account]
    func credentials(for address: EmailAddress) async throws(MailStoreError) -> AccountCredentials?
    /// Applies every given change, all or nothing.
    func updateAccount(_ address: EmailAddress, _ changes: AccountChanges, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Account
    /// Removes an account and its mail; the queue's messages it sent stay.
    func deleteAccount(_ address: EmailAddress, now: Date, audit: AuditActor?) async throws(MailStoreError)

    /// Adds an alias of a domain that must exist; `targets` are distinct and normalised.
    func insertAlias(source: String, domain: String, targets: [String], now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> Alias
    func aliases(inDomain domain: String?, after: String, limit: Int) async throws(MailStoreError) -> [Alias]
    func deleteAlias(_ source: String, now: Date, audit: AuditActor?) async throws(MailStoreError)
    /// An exact alias first, then an account, then the domain's catch-all (see `MailStore.resolveRecipient`).
    func resolveRecipient(_ address: EmailAddress) async throws(MailStoreError) -> RecipientResolution

    /// Adds a pending key; `unknownDomain`, or `dkimKeyExists` when the domain has that selector.
    func insertDKIMKey(_ key: NewDKIMKey, now: Date, audit: AuditActor?) async throws(MailStoreError) -> StoredDKIMKey
    /// `unknownDomain` for a domain that is not local.
    func dkimKeys(domain: String) async throws(MailStoreError) -> [StoredDKIMKey]
    /// To `active` (retiring the domain's other active key of that algorithm) or `retired`.
    func changeDKIMKeyState(domain: String, selector: String, to state: DKIMKeyState, now: Date, audit: AuditActor?)
        async throws(MailStoreError) -> StoredDKIMKey
    /// `dkimKeyActive` for an active key: retire it first.
    func deleteDKIMKey(domain: String, selector: String, now: Date, audit: AuditActor?) async throws(MailStoreError)
    func dkimSigningKeys(domain: String) async throws(MailStoreError) -> [DKIMSigningKeyRecord]
    /// `unknownDomain` for a domain that is not local; the defaults when it has no row.
    func domainTransportPolicy(domain: String) async throws(MailStoreError) -> DomainTransportPolicy
    /// Inserts or replaces the domain's row.
    func setDomainTransportPolicy(domain: String, _ policy: DomainTransportPolicy, now: Date, audit: AuditActor?)
        async throws(MailStoreError)

    func insertAdminToken(_ token: StoredAdminToken, audit: AuditActor?) async throws(MailStoreError)
    /// Stores `token` only when there is no token at all; true when stored.
    func insertFirstAdminToken(_ token: StoredAdminToken) async throws(MailStoreError) -> Bool
    func adminToken(id: String) async throws(MailStoreError) -> StoredAdminToken?
    /// Every token, oldest first.
    func adminTokens() async throws(MailStoreError) -> [StoredAdminToken]
    func revokeAdminToken(id: String, now: Date, audit: AuditActor?) async throws(MailStoreError)
    /// Oldest first from after `after`, or newest first from before it.
    func auditEntries(after: Int64, newestFirst: Bool, limit: Int) async throws(MailStoreError) -> [AuditEntry]
    func insertTransfer(kind: String, account: String?, source: String, host: String, now: Date) async throws(MailStoreError) -> MailTransfer
    func updateTransfer(_ id: Int64, state: MailTransfer.State, counts: MailTransfer.Counts, detail: String?, now: Date)
        async throws(MailStoreError)
    func transfers(after: Int64, limit: Int) async throws(MailStoreError) -> [MailTransfer]
    func recordAudit(action: String, target: String, detail: String?, now: Date, audit: AuditActor) async throws(MailStoreError)

    /// Inserts the processes' rows or moves their `seenAt` on (clearing `stoppedAt`); removes rows seen
    /// before `forgetBefore`. One transaction; it need not wait for the disk.
    func upsertServiceProcesses(_ processes: [ServiceProcess], forgetBefore: Date) async throws(MailStoreError)
    func markServiceProcessesStopped(services: [String], host: String, pid: Int, now: Date) async throws(MailStoreError)
    func serviceProcesses() async throws(MailStoreError) -> [ServiceProcess]

    func loginFailures(under key: String, since: Date) async throws(MailStoreError) -> [Date]
    /// Counts a failure under each key at `now`, forgets all failures at or before `since` and all but
    /// the newest `keep` of each key, and returns the most any of the keys has left. May be committed
    /// without waiting for the disk.
    func recordLoginFailure(under keys: [String], at now: Date, since: Date, keep: Int) async throws(MailStoreError) -> Int
}

/// An account to add, as `MailStore.createAccount` checked it.
public struct NewAccount: Sendable {
    public let address: EmailAddress
    public let passwordHash: PasswordHash
    public let displayName: String?
    public let quotaBytes: Int64?
}
