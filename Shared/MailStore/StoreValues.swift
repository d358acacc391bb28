import Foundation
import MailFormat
import Credentials

/// Row identifiers, typed so that an account id cannot be passed where a mailbox id is expected.
public struct StoreID<Entity>: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(self.rawValue) }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

public enum DomainEntity {}
public enum AccountEntity {}
public enum MailboxEntity {}
public enum QueueMessageEntity {}
public enum QueueRecipientEntity {}

public typealias DomainID = StoreID<DomainEntity>
public typealias AccountID = StoreID<AccountEntity>
public typealias MailboxID = StoreID<MailboxEntity>
public typealias QueueMessageID = StoreID<QueueMessageEntity>
public typealias QueueRecipientID = StoreID<QueueRecipientEntity>

public struct Domain: Sendable, Equatable {
    public let id: DomainID
    public let name: String
    public let createdAt: Date
    public let accountCount: Int

    public init(id: DomainID, name: String, createdAt: Date, accountCount: Int) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.accountCount = accountCount
    }
}

/// Changes to an account; nil leaves a field as it is. `quotaBytes: .some(nil)` removes the quota.
public struct AccountChanges: Sendable {
    public var passwordHash: PasswordHash?
    public var quotaBytes: Int64??
    public var enabled: Bool?
    public var displayName: String??

    public init(
        passwordHash: PasswordHash? = nil, quotaBytes: Int64?? = nil, enabled: Bool? = nil,
        displayName: String?? = nil
    ) {
        self.passwordHash = passwordHash
        self.quotaBytes = quotaBytes
        self.enabled = enabled
        self.displayName = displayName
    }
}

public struct Account: Sendable, Equatable {
    public let id: AccountID
    public let address: EmailAddress
    public let displayName: String?
    /// nil means no quota.
    public let quotaBytes: Int64?
    public let usedBytes: Int64
    public let messageCount: Int64
    public let enabled: Bool
    public let createdAt: Date

    public init(
        id: AccountID, address: EmailAddress, displayName: String?, quotaBytes: Int64?, usedBytes: Int64,
        messageCount: Int64, enabled: Bool, createdAt: Date
    ) {
        self.id = id
        self.address = address
        self.displayName = displayName
        self.quotaBytes = quotaBytes
        self.usedBytes = usedBytes
        self.messageCount = messageCount
        self.enabled = enabled
        self.createdAt = createdAt
    }
}

/// What a login needs: the hash to verify and whether the account may log in at all.
public struct AccountCredentials: Sendable {
    public let accountID: AccountID
    public let address: EmailAddress
    public let passwordHash: PasswordHash
    public let enabled: Bool

    public init(accountID: AccountID, address: EmailAddress, passwordHash: PasswordHash, enabled: Bool) {
        self.accountID = accountID
        self.address = address
        self.passwordHash = passwordHash
        self.enabled = enabled
    }
}

public struct Alias: Sendable, Equatable {
    /// `local@domain`, or `@domain` for the domain's catch-all.
    public let source: String
    public let targets: [String]
    public var isCatchAll: Bool { self.source.hasPrefix("@") }

    public init(source: String, targets: [String]) {
        self.source = source
        self.targets = targets
    }
}

/// Where mail for an address in a local domain goes, one level deep. Alias chains are followed by the
/// delivery worker, which owns the loop limit.
public enum RecipientResolution: Sendable, Equatable {
    case account(AccountID, enabled: Bool, quotaBytes: Int64?, usedBytes: Int64)
    case alias(targets: [String])
    case catchAll(targets: [String])
    /// The domain is ours but nothing answers to this address.
    case unknownLocal
    /// The domain is not one of ours.
    case notLocal
}

/// What a local delivery reads before it files a message, in one read: the queued message's header
/// section (for loop detection) and size, what the recipient resolves to and, when that is an account,
/// the account's INBOX (nil if it has none).
public struct LocalDeliveryPlan: Sendable, Equatable {
    public var header: Data
    public var size: Int64
    public var resolution: RecipientResolution
    /// Where an account's copy goes: its INBOX, or for a quarantined message its Junk mailbox (the one
    /// with the `\Junk` special use; INBOX when it has none).
    public var destination: MailboxID?

    public init(header: Data, size: Int64, resolution: RecipientResolution, destination: MailboxID?) {
        self.header = header
        self.size = size
        self.resolution = resolution
        self.destination = destination
    }
}

/// RFC 6154 special-use attributes of the mailboxes every account gets.
public enum SpecialUse: String, Sendable, CaseIterable {
    case drafts = "\\Drafts"
    case sent = "\\Sent"
    case trash = "\\Trash"
    case junk = "\\Junk"
    case archive = "\\Archive"
    case all = "\\All"
    case flagged = "\\Flagged"
}

public struct Mailbox: Sendable, Equatable {
    public let id: MailboxID
    public let accountID: AccountID
    /// The full name with `/` as hierarchy delimiter, in UTF-8 (the IMAP gateway encodes it).
    public let name: String
    public let specialUse: SpecialUse?
    public let subscribed: Bool
    public let uidValidity: UInt32
    public let uidNext: UInt32
    public let highestModSeq: UInt64
    /// The lowest UID no IMAP session has yet been told of as \Recent (RFC 3501 §2.3.2, rev1 only).
    public let recentFloor: UInt32

    public init(
        id: MailboxID, accountID: AccountID, name: String, specialUse: SpecialUse?, subscribed: Bool, uidValidity: UInt32,
        uidNext: UInt32, highestModSeq: UInt64, recentFloor: UInt32
    ) {
        self.id = id
        self.accountID = accountID
        self.name = name
        self.specialUse = specialUse
        self.subscribed = subscribed
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.highestModSeq = highestModSeq
        self.recentFloor = recentFloor
    }
}

public struct MailboxStatus: Sendable, Equatable {
    public let mailbox: Mailbox
    public let messages: Int
    public let unseen: Int
    public let deleted: Int
    public let sizeBytes: Int64
    /// Messages no session has claimed as \Recent yet (STATUS RECENT).
    public let recent: Int

    public init(mailbox: Mailbox, messages: Int, unseen: Int, deleted: Int, sizeBytes: Int64, recent: Int) {
        self.mailbox = mailbox
        self.messages = messages
        self.unseen = unseen
        self.deleted = deleted
        self.sizeBytes = sizeBytes
        self.recent = recent
    }
}

/// How much of each message's content a listing reads with it.
public enum ContentExtent: Sendable, Equatable {
    /// None: the listing alone (UID, size, dates, flags, modseq).
    case omitted
    /// The header section, through the empty line after it (the whole content when it has none),
    /// kept apart from the content so that reading it costs only its own bytes.
    case header
    /// The whole message.
    case whole
}

/// A message as listed in a mailbox, without its content.
public struct StoredMessage: Sendable, Equatable {
    public let uid: UInt32
    public let size: Int64
    public let internalDate: Date
    public let flags: Set<String>
    public let modSeq: UInt64
    /// The stored content's id: the same for every copy of the message (COPY, MOVE, one delivery to
    /// several mailboxes), never another content's (ids are not reused), for the message's life.
    public let contentID: Int64
    /// When it was filed in this mailbox (APPEND, delivery, COPY, MOVE; IMAP SAVEDATE, RFC 8514), to
    /// the millisecond; the internal date for messages filed before the store kept this.
    public let savedDate: Date

    public init(uid: UInt32, size: Int64, internalDate: Date, flags: Set<String>, modSeq: UInt64, contentID: Int64, savedDate: Date) {
        self.uid = uid
        self.size = size
        self.internalDate = internalDate
        self.flags = flags
        self.modSeq = modSeq
        self.contentID = contentID
        self.savedDate = savedDate
    }

    /// `date` to the millisecond, as both backends keep dates.
    public static func milliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

/// What a flag change did: the messages as they are afterwards, and the mailbox's highest modseq
/// before and after (equal when no flag changed); with a condition (`unchangedSince`), the UIDs left
/// alone because they had changed since (CONDSTORE's `[MODIFIED …]`, RFC 7162 §3.1.3), not in `messages`.
public struct FlagChange: Sendable {
    public let messages: [StoredMessage]
    public let modSeqBefore: UInt64
    public let modSeqAfter: UInt64
    public let modified: [UInt32]

    public init(messages: [StoredMessage], modSeqBefore: UInt64, modSeqAfter: UInt64, modified: [UInt32] = []) {
        self.messages = messages
        self.modSeqBefore = modSeqBefore
        self.modSeqAfter = modSeqAfter
        self.modified = modified
    }
}

/// What changed in a mailbox, in modseq order. Another process polls `changes(in:since:)` to learn of
/// deliveries, flag changes and expunges made elsewhere (IMAP IDLE across processes).
/// A message as IMAP SORT and THREAD read it (`MailStore.sortListing`): what ARRIVAL and SIZE order by
/// (the internal date to the second), and the keys kept with its content (`MessageSortKeys`) or, until
/// they are worked out, its header section.
public struct SortListing: Sendable {
    public let uid: UInt32
    public let contentID: Int64
    /// The internal date, in whole seconds since 1970.
    public let arrival: Int64
    public let size: Int64
    public let keys: MessageSortKeys.Encoded?
    /// The stored header section, when `keys` is nil.
    public let header: Data?

    public init(uid: UInt32, contentID: Int64, arrival: Int64, size: Int64, keys: MessageSortKeys.Encoded?, header: Data?) {
        self.uid = uid
        self.contentID = contentID
        self.arrival = arrival
        self.size = size
        self.keys = keys
        self.header = header
    }
}

/// What the change feed holds past a position (`MailStore.mailboxesChanged(after:)`): where to go on
/// from, the mailboxes with message changes, and the accounts with any change (to a mailbox's messages,
/// or to the list of mailboxes and subscriptions).
public struct FeedChanges: Sendable, Equatable {
    public let latest: Int64
    public let mailboxes: Set<MailboxID>
    public let accounts: Set<AccountID>

    public init(latest: Int64, mailboxes: Set<MailboxID>, accounts: Set<AccountID>) {
        self.latest = latest
        self.mailboxes = mailboxes
        self.accounts = accounts
    }
}

public struct MailboxChange: Sendable, Equatable {
    public enum Kind: String, Sendable { case append, flags, expunge }
    public let modSeq: UInt64
    public let uid: UInt32
    public let kind: Kind

    public init(modSeq: UInt64, uid: UInt32, kind: Kind) {
        self.modSeq = modSeq
        self.uid = uid
        self.kind = kind
    }

    /// The last entry of a deleted mailbox, after the expunges of its messages: an expunge of UID 0,
    /// which no message has (UIDs start at 1), so readers that do not know it find nothing to remove.
    public var isMailboxDeletion: Bool { self.kind == .expunge && self.uid == 0 }
}

public enum FlagUpdate: Sendable, Equatable {
    case replace(Set<String>)
    case add(Set<String>)
    case remove(Set<String>)
}

/// The SMTP envelope of an accepted message (RFC 5321 §2.3.1), with the DSN parameters of RFC 3461
/// kept for the worker's bounces.
public struct Envelope: Sendable, Equatable {
    public struct Recipient: Sendable, Equatable {
        public var address: EmailAddress
        /// RFC 3461 ORCPT, as received (addr-type;xtext).
        public var originalRecipient: String?
        /// RFC 3461 NOTIFY, as received (NEVER, or a comma list of SUCCESS, FAILURE, DELAY).
        public var notify: String?
        public init(address: EmailAddress, originalRecipient: String? = nil, notify: String? = nil) {
            self.address = address
            self.originalRecipient = originalRecipient
            self.notify = notify
        }
    }
    /// nil is the null reverse-path `<>` (bounces, which are never bounced again).
    public var sender: EmailAddress?
    public var recipients: [Recipient]
    /// RFC 3461 ENVID and RET.
    public var envelopeID: String?
    public var returnContent: String?
    /// Who submitted it: the authenticated account, if any, for the logs and the admin API.
    public var authenticatedAs: String?
    /// Its author domain's DMARC policy asked for quarantine: local recipients get it in their Junk
    /// mailbox rather than their INBOX.
    public var quarantined: Bool

    public init(
        sender: EmailAddress?, recipients: [Recipient], envelopeID: String? = nil, returnContent: String? = nil,
        authenticatedAs: String? = nil, quarantined: Bool = false
    ) {
        self.sender = sender
        self.recipients = recipients
        self.envelopeID = envelopeID
        self.returnContent = returnContent
        self.authenticatedAs = authenticatedAs
        self.quarantined = quarantined
    }
}

public struct AcceptedMessage: Sendable, Equatable {
    public let id: QueueMessageID
    public let recipientCount: Int

    package init(id: QueueMessageID, recipientCount: Int) {
        self.id = id
        self.recipientCount = recipientCount
    }
}

public enum QueueState: String, Sendable, CaseIterable {
    case queued, deferred, delivered, bounced
    /// Reported, never stored: a queued or deferred recipient a worker holds an unexpired lease on.
    case delivering

    /// The SQL expression for the reported state of a `queueRecipient` row (alias `r`), given the
    /// current time as its one argument.
    static let reportedSQL = "(CASE WHEN r.state IN ('queued', 'deferred') AND r.leaseExpiresAt > ? THEN 'delivering' ELSE r.state END)"
}

/// One queue recipient claimed by one worker until `expiresAt`. Only the owner may record its outcome,
/// and only while the lease holds; afterwards another worker may claim the recipient again.
public struct QueueLease: Sendable, Equatable {
    public let recipientID: QueueRecipientID
    public let messageID: QueueMessageID
    public let owner: String
    public let expiresAt: Date
    public let sender: EmailAddress?
    public let recipient: EmailAddress
    public let attempts: Int
    public let firstQueuedAt: Date
    /// RFC 3461 ORCPT and NOTIFY as received (or inherited through alias expansion).
    public let originalRecipient: String?
    public let notify: String?
    /// How many alias expansions led to this recipient.
    public let expansionDepth: Int
    /// RFC 3461 ENVID and RET of the message, passed on to a next hop that offers DSN.
    public let envelopeID: String?
    public let returnContent: String?

    package init(
        recipientID: QueueRecipientID, messageID: QueueMessageID, owner: String, expiresAt: Date,
        sender: EmailAddress?, recipient: EmailAddress, attempts: Int, firstQueuedAt: Date,
        originalRecipient: String?, notify: String?, expansionDepth: Int, envelopeID: String?,
        returnContent: String?
    ) {
        self.recipientID = recipientID
        self.messageID = messageID
        self.owner = owner
        self.expiresAt = expiresAt
        self.sender = sender
        self.recipient = recipient
        self.attempts = attempts
        self.firstQueuedAt = firstQueuedAt
        self.originalRecipient = originalRecipient
        self.notify = notify
        self.expansionDepth = expansionDepth
        self.envelopeID = envelopeID
        self.returnContent = returnContent
    }
}

/// Which recipients a worker leases: the local delivery worker takes those in local domains, the SMTP
/// relay the others.
public enum LeaseScope: Sendable {
    case all
    case localDomains
    case remoteDomains
}

/// Which delivery status notifications are pending: failures (bounced), delays (deferred for
/// longer than the warning time), successes (delivered with NOTIFY=SUCCESS, RFC 3461 §4.1).
public enum ReportKind: Sendable, Equatable {
    case failure
    case delay(queuedBefore: Date)
    case success
}

/// Recipients of one message whose delivery status notification is still to be queued.
public struct PendingBounceReport: Sendable, Equatable {
    public struct Recipient: Sendable, Equatable {
        public let id: QueueRecipientID
        public let recipient: String
        public let originalRecipient: String?
        public let notify: String?
        public let lastError: String?
        /// In a local domain (a success there is "delivered", elsewhere "relayed").
        public let isLocal: Bool

        package init(
            id: QueueRecipientID, recipient: String, originalRecipient: String?, notify: String?, lastError: String?, isLocal: Bool
        ) {
            self.id = id
            self.recipient = recipient
            self.originalRecipient = originalRecipient
            self.notify = notify
            self.lastError = lastError
            self.isLocal = isLocal
        }
    }
    public let messageID: QueueMessageID
    /// nil: the null reverse-path, which never gets a DSN (RFC 5321 §6.1).
    public let sender: EmailAddress?
    public let envelopeID: String?
    public let returnContent: String?
    public let receivedAt: Date
    public let recipients: [Recipient]

    package init(
        messageID: QueueMessageID, sender: EmailAddress?, envelopeID: String?, returnContent: String?,
        receivedAt: Date, recipients: [Recipient]
    ) {
        self.messageID = messageID
        self.sender = sender
        self.envelopeID = envelopeID
        self.returnContent = returnContent
        self.receivedAt = receivedAt
        self.recipients = recipients
    }
}

public enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    case deferred(until: Date, reason: String)
    case bounced(reason: String)
}

/// One hour of the queue's finished work: recipients delivered and bounced in it.
public struct QueueActivityHour: Sendable, Equatable {
    public let start: Date
    public let delivered: Int
    public let bounced: Int

    public init(start: Date, delivered: Int, bounced: Int) {
        self.start = start
        self.delivered = delivered
        self.bounced = bounced
    }
}

public struct QueueStats: Sendable, Equatable {
    public let counts: [QueueState: Int]
    public let oldestPendingSince: Date?

    package init(counts: [QueueState: Int], oldestPendingSince: Date?) {
        self.counts = counts
        self.oldestPendingSince = oldestPendingSince
    }
}

/// A message to file with others in one transaction (IMAP MULTIAPPEND).
public struct NewMessage: Sendable {
    public enum Content: Sendable {
        /// Received in full.
        case whole(Data)
        /// Written beforehand as an upload; `header` is its header section through the empty line.
        case uploaded(ContentUpload, header: Data)
    }

    public var content: Content
    public var flags: Set<String>
    public var internalDate: Date
    /// The UID to file it under, for an import that keeps another server's numbering: at least the
    /// mailbox's next UID (`numberingConflict` otherwise), which then follows it. Nil: the next UID.
    public var uid: UInt32?

    public init(content: Content, flags: Set<String> = [], internalDate: Date = Date(), uid: UInt32? = nil) {
        self.content = content
        self.flags = flags
        self.internalDate = internalDate
        self.uid = uid
    }
}

/// A metadata entry of a mailbox or of an account's server scope (IMAP METADATA, RFC 5464): its name,
/// lower-case (`/private/comment`), and its value.
public struct MetadataEntry: Sendable, Equatable {
    public var name: String
    public var value: Data

    public init(name: String, value: Data) {
        self.name = name
        self.value = value
    }
}
