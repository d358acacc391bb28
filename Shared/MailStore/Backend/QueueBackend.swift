import Foundation
import MailFormat

/// Where a backend keeps the delivery queue: accepted messages with one row per recipient, leases that
/// workers on any host take on due recipients, delivery outcomes, local delivery and alias expansion
/// into mailboxes, and the delivery status reports owed. `MailStore` decides the DSN rules (who is owed
/// a success notice, what an expanded recipient's original recipient is); a backend stores the result.
///
/// Every method that changes a leased recipient first checks that the lease is still the caller's and
/// unexpired (`leaseLost` otherwise), in the same transaction as the change, so that a recipient is
/// delivered, expanded or reported by one worker only.
public protocol QueueBackend: Sendable {
    /// Stores the message once and one queued row per recipient, durably committed before it returns.
    func acceptMessage(_ content: Data, envelope: Envelope, receivedAt: Date) async throws(MailStoreError) -> AcceptedMessage
    /// The same for content uploaded beforehand, `prefix` in front of it.
    func acceptMessage(
        _ upload: ContentUpload, leadingWith prefix: Data, header: Data, envelope: Envelope, receivedAt: Date
    ) async throws(MailStoreError) -> AcceptedMessage
    /// Messages accepted by this process and the commits that held them.
    var acceptanceStatistics: (messages: Int, commits: Int) { get }

    /// Claims up to `limit` due recipients (queued or deferred, next attempt at or before `now`, no
    /// unexpired lease) in `scope` for `owner` until `expiresAt`; two workers never get the same one.
    func leaseQueueItems(owner: String, limit: Int, expiresAt: Date, scope: LeaseScope, now: Date)
        async throws(MailStoreError) -> [QueueLease]
    /// Records an attempt's outcome and ends the lease; a delivered recipient is marked reported when
    /// `markReported` (no success notice is owed).
    func recordOutcome(_ outcome: DeliveryOutcome, for lease: QueueLease, markReported: Bool, now: Date)
        async throws(MailStoreError)
    /// Files the queued content into `mailbox` (with `headerPrefix` in front) and marks the recipient
    /// delivered in one transaction; `overQuota` changes nothing.
    func deliverLocally(_ lease: QueueLease, into mailbox: MailboxID, headerPrefix: Data, markReported: Bool, now: Date)
        async throws(MailStoreError) -> StoredMessage
    /// Queues each target as a recipient of the same message (with `originalRecipient`, the lease's
    /// NOTIFY and one more expansion) and marks the recipient delivered and reported with `note`.
    func expandRecipient(_ lease: QueueLease, into targets: [EmailAddress], originalRecipient: String, note: String, now: Date)
        async throws(MailStoreError)

    /// Recipients owed a notice of `kind`, grouped by message, at most `limit` messages.
    func pendingReports(_ kind: ReportKind, limit: Int) async throws(MailStoreError) -> [PendingBounceReport]
    /// Marks the recipients reported for `kind` and queues `report` (from the null reverse-path) in one
    /// transaction; false, changing nothing, when another worker marked one of them first.
    func recordReport(
        for recipients: [QueueRecipientID], kind: ReportKind, queueing report: (content: Data, recipient: EmailAddress)?, now: Date
    ) async throws(MailStoreError) -> Bool

    func queuedHeader(_ message: QueueMessageID) async throws(MailStoreError) -> (header: Data, size: Int64)?
    /// The lease's message header section and size, its recipient's resolution and that account's INBOX,
    /// as one read; nil when the message is gone.
    func localDeliveryPlan(for lease: QueueLease) async throws(MailStoreError) -> LocalDeliveryPlan?
    func queuedContent(_ message: QueueMessageID) async throws(MailStoreError) -> Data?
    func queueRecipientStates(of message: QueueMessageID) async throws(MailStoreError)
        -> [(recipient: String, state: QueueState, attempts: Int)]
    /// Recipients per state (`delivering` for those leased at `now`) and the oldest pending message's time.
    func queueStats(now: Date) async throws(MailStoreError) -> QueueStats
    /// Recipients delivered and bounced (finished at or after `since`) per hour, by the hour's start;
    /// hours without any are left out.
    func finishedRecipientsByHour(since: Date) async throws(MailStoreError) -> [(hour: Date, delivered: Int, bounced: Int)]

    func queueMessages(matching filter: QueueFilter, after: Int64, limit: Int, now: Date) async throws(MailStoreError)
        -> [QueueMessageDetail]
    func queueMessage(_ id: QueueMessageID, now: Date) async throws(MailStoreError) -> QueueMessageDetail?
    /// Makes the message's pending recipients due at `now`; how many.
    func retryQueueMessageNow(_ id: QueueMessageID, now: Date, audit: AuditActor?) async throws(MailStoreError) -> Int
    /// Bounces the message's pending recipients; `queueMessageBusy` while a worker holds one.
    func bounceQueueMessage(_ id: QueueMessageID, reason: String, now: Date, audit: AuditActor?) async throws(MailStoreError) -> Int
    /// Removes the message; `queueMessageBusy` while a worker holds a recipient.
    func deleteQueueMessage(_ id: QueueMessageID, now: Date, audit: AuditActor?) async throws(MailStoreError)
    /// Makes every pending recipient due at `now`; how many.
    func flushQueue(now: Date, audit: AuditActor?) async throws(MailStoreError) -> Int
    /// Deferred recipients per destination domain, most first.
    func deferralsByDomain(limit: Int) async throws(MailStoreError) -> [(domain: String, count: Int)]

    /// Destination domains' MTA-STS policies (RFC 8461), each kept until it expires.
    func mtaSTSPolicy(for domain: String, now: Date) async throws(MailStoreError) -> StoredMTASTSPolicy?
    func saveMTASTSPolicy(_ policy: StoredMTASTSPolicy, now: Date) async throws(MailStoreError)

    /// TLS session counts for TLS reporting (RFC 8460): added to, listed by domain and period, read, and
    /// taken out (deleted and returned in one statement) to be reported.
    func addTLSSessions(_ tally: TLSSessionTally) async throws(MailStoreError)
    func tlsReportsDue(periodsStartedBefore before: Date) async throws(MailStoreError) -> [TLSReportKey]
    func tlsSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally]
    func takeTLSSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally]
}
