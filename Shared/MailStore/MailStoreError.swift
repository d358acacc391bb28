/// What the store reports to its callers. Services map these to protocol replies in one place each;
/// `unavailable` carries details for the log only, never for the client.
public enum MailStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database file could not be opened or set up.
    case cannotOpen(path: String, reason: String)
    /// The opened database does not give the durability the suite promises (startup self-check).
    case unsafeConfiguration(String)
    case domainExists(String)
    case unknownDomain(String)
    /// The domain still has accounts (delete them first, or force).
    case domainNotEmpty(String)
    case accountExists(String)
    case unknownAccount(String)
    case aliasExists(String)
    case unknownAlias(String)
    case mailboxExists(String)
    case unknownMailbox(String)
    /// The mailbox name breaks a rule of the store (empty, over-long, control characters, a bad hierarchy).
    case invalidMailboxName(String)
    /// INBOX and special mailboxes that must stay cannot be removed this way.
    case mailboxProtected(String)
    /// DELETE of a mailbox that has mailboxes below it.
    case mailboxHasChildren(String)
    case invalidArgument(String)
    /// The domain has a DKIM key of that selector already (`domain/selector`).
    case dkimKeyExists(String)
    case unknownDKIMKey(String)
    /// An active DKIM key cannot be deleted: retire it (or activate another) first.
    case dkimKeyActive(String)
    /// This worker's lease on a queue recipient expired or was taken over; its outcome was not recorded.
    case leaseLost(Int64)
    case unknownQueueMessage(Int64)
    /// A worker holds one of the message's recipients right now; try again when its attempt is over.
    case queueMessageBusy(Int64)
    /// Another worker already did this (e.g. queued the report for these bounces); nothing was changed.
    case alreadyDone(String)
    /// The change feed was pruned past what the caller has read of it: it cannot catch up from the feed
    /// and must read the mailbox afresh (an IMAP session ends its selection).
    case changeFeedPruned(String)
    /// A POP3 session's maildrop lease expired or was taken over; its deletions were not applied.
    case maildropLockLost
    /// The account would be over its quota (IMAP APPEND and COPY, RFC 9208 OVERQUOTA; local delivery).
    case overQuota(String)
    /// A mailbox (or the account's server scope) would hold more metadata entries than allowed (IMAP
    /// METADATA, RFC 5464 TOOMANY); nothing was changed.
    case tooManyMetadataEntries(Int)
    /// An import that keeps another server's numbering cannot: the mailbox already holds mail under
    /// another UIDVALIDITY, or a UID asked for is already used.
    case numberingConflict(String)
    /// The filesystem of the database has less free space than the settings ask for, or a write failed
    /// for lack of space (SQLITE_FULL): a temporary refusal, nothing already committed is affected.
    case storageFull(String)
    /// The file is damaged: `PRAGMA quick_check` found faults when it was opened, or SQLite refused it.
    case corrupt(path: String, findings: [String])
    /// The database failed (busy beyond the timeout, I/O). Details are for the log.
    case unavailable(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open the database at \(path): \(reason)"
        case .unsafeConfiguration(let detail): "unsafe database configuration: \(detail)"
        case .domainExists(let name): "domain \(name) already exists"
        case .unknownDomain(let name): "no such domain: \(name)"
        case .domainNotEmpty(let name): "domain \(name) still has accounts"
        case .accountExists(let address): "account \(address) already exists"
        case .unknownAccount(let address): "no such account: \(address)"
        case .aliasExists(let address): "alias \(address) already exists"
        case .unknownAlias(let address): "no such alias: \(address)"
        case .mailboxExists(let name): "mailbox \(name) already exists"
        case .unknownMailbox(let name): "no such mailbox: \(name)"
        case .invalidMailboxName(let name): "invalid mailbox name: \(name)"
        case .mailboxProtected(let name): "mailbox \(name) cannot be changed this way"
        case .mailboxHasChildren(let name): "mailbox \(name) has mailboxes below it"
        case .invalidArgument(let detail): "invalid argument: \(detail)"
        case .dkimKeyExists(let key): "DKIM key \(key) already exists"
        case .unknownDKIMKey(let key): "no such DKIM key: \(key)"
        case .dkimKeyActive(let key): "DKIM key \(key) is active: retire it first"
        case .leaseLost(let id): "lease on queue recipient \(id) was lost"
        case .unknownQueueMessage(let id): "no such queued message: \(id)"
        case .queueMessageBusy(let id): "queued message \(id) is being delivered right now"
        case .alreadyDone(let detail): "already done: \(detail)"
        case .maildropLockLost: "the maildrop lock was lost"
        case .changeFeedPruned(let mailbox): "the change feed of mailbox \(mailbox) was pruned past the modseq asked for"
        case .overQuota(let address): "account \(address) is over its quota"
        case .tooManyMetadataEntries(let limit): "more than \(limit) metadata entries"
        case .numberingConflict(let detail): "cannot keep the numbering: \(detail)"
        case .storageFull(let detail): "not enough storage: \(detail)"
        case .corrupt(let path, let findings):
            "the database at \(path) is damaged (\(findings.prefix(5).joined(separator: "; ")));"
                + " restore a backup, or see `estafeta check-db`"
        case .unavailable(let detail): "database unavailable: \(detail)"
        }
    }
}
