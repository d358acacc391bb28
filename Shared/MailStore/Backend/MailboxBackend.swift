import MailFormat
import Foundation

/// Where a backend keeps mailboxes, their messages and the change feed. `MailStore` checks names
/// (canonical INBOX, the hierarchy rules) and what may not be deleted or renamed before it calls these.
/// Each method is one transaction, so a client never sees half of a copy, a move or an expunge.
///
/// The backend owns the IMAP numbering: each message added gets the mailbox's next UID, and each change
/// (append, flags, expunge) a modseq above every earlier one of its mailbox, also when several processes
/// on several hosts change one mailbox at once (RFC 9051 §2.3.1.1, RFC 7162 §3.1). Every such change is
/// also an entry in the change feed that other processes' IMAP sessions read.
public protocol MailboxBackend: Sendable {
    /// The account's mailboxes in name order.
    func mailboxes(of account: AccountID) async throws(MailStoreError) -> [Mailbox]
    func mailbox(named name: String, of account: AccountID) async throws(MailStoreError) -> Mailbox
    /// Adds a mailbox with a UIDVALIDITY no mailbox had before; `mailboxExists` if the name is taken.
    func insertMailbox(named name: String, of account: AccountID, specialUse: SpecialUse?, now: Date)
        async throws(MailStoreError) -> Mailbox
    /// For an import that keeps another server's numbering: the mailbox with this UIDVALIDITY, made when
    /// missing, as it is when it has it already, given it when it never held a message (a new account's
    /// INBOX); `numberingConflict` otherwise. The store's UIDVALIDITY counter is raised to it, so that a
    /// mailbox made later under the same name gets another.
    func prepareImportedMailbox(named name: String, of account: AccountID, uidValidity: UInt32, specialUse: SpecialUse?, now: Date)
        async throws(MailStoreError) -> Mailbox
    /// Raises the mailbox's next UID to `uidNext` (never lowers it): the other server's next UID, kept.
    func raiseUIDNext(of mailbox: MailboxID, to uidNext: UInt32) async throws(MailStoreError)
    func mailboxStatus(_ mailbox: MailboxID) async throws(MailStoreError) -> MailboxStatus
    /// The octets of the mailbox's messages flagged \Deleted: what an EXPUNGE would free.
    func deletedBytes(in mailbox: MailboxID) async throws(MailStoreError) -> Int64
    /// Raises the mailbox's recent floor to `uidLimit` and returns the floor before.
    func claimRecent(in mailbox: MailboxID, below uidLimit: UInt32) async throws(MailStoreError) -> UInt32
    func highestModSeq(of mailbox: MailboxID) async throws(MailStoreError) -> UInt64
    func setSubscribed(_ subscribed: Bool, mailbox name: String, of account: AccountID) async throws(MailStoreError)
    /// The names the account is subscribed to, existing mailboxes or not, in order.
    func subscriptions(of account: AccountID) async throws(MailStoreError) -> [String]
    /// Expunges every message (each in the feed), records the mailbox's end in the feed, and removes it;
    /// `mailboxHasChildren` when a mailbox below it exists.
    func deleteMailbox(named name: String, of account: AccountID) async throws(MailStoreError)
    /// Renames a mailbox and those below it, which keep their UIDVALIDITY and UIDs; INBOX instead gives
    /// its messages to a new mailbox of the new name.
    func renameMailbox(from oldName: String, to newName: String, of account: AccountID, now: Date) async throws(MailStoreError)

    /// Feed entries after the cursor `change` (across all mailboxes, at most `limit`): the mailboxes they
    /// name and the cursor to go on from. A cursor is the backend's own; 0 reads from the start.
    func mailboxesChanged(after change: Int64, limit: Int) async throws(MailStoreError) -> FeedChanges
    /// The cursor of the feed as it is now: `mailboxesChanged(after:)` from it names what changes later.
    func latestChange() async throws(MailStoreError) -> Int64
    /// The mailbox's feed entries with a modseq above `modSeq`, oldest first; `changeFeedPruned` when
    /// some of them may have been pruned.
    func changes(in mailbox: MailboxID, since modSeq: UInt64, limit: Int) async throws(MailStoreError) -> [MailboxChange]

    /// The metadata entries of `mailbox`, or of the account's server scope when nil, in name order.
    func metadata(of account: AccountID, mailbox: MailboxID?) async throws(MailStoreError) -> [MetadataEntry]
    /// Sets (a value) or removes (nil) entries in one transaction; `tooManyMetadataEntries` (nothing
    /// changed) when the scope would then hold more than `maximumEntries`.
    func setMetadata(_ changes: [(name: String, value: Data?)], of account: AccountID, mailbox: MailboxID?, maximumEntries: Int)
        async throws(MailStoreError)

    /// Stores `content` and adds it to the mailbox; `overQuota` (nothing stored) when the account would
    /// exceed its quota.
    func appendMessage(_ content: Data, to mailbox: MailboxID, flags: Set<String>, internalDate: Date)
        async throws(MailStoreError) -> StoredMessage
    func messages(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [StoredMessage]
    /// Every message's UID and flags, in UID order.
    func messageFlags(in mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, flags: Set<String>)]
    func sortListing(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [SortListing]
    func saveSortKeys(_ keys: [(contentID: Int64, keys: MessageSortKeys.Encoded)]) async throws(MailStoreError)
    /// See `MailStore.messagesWithContent`.
    func messagesWithContent(in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64)
        async throws(MailStoreError) -> [(message: StoredMessage, content: Data?)]
    /// See `MailStore.messages(in:uids:headerOnly:largest:whoseContent:)`.
    func messages(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, headerOnly: Bool, largest: Int64,
        whoseContent matches: @escaping @Sendable (StoredMessage, Data) -> Bool
    ) async throws(MailStoreError) -> (matched: [UInt32], unread: [StoredMessage])
    /// Added header lines and stored content of each message in `uids` that is there.
    func messageContents(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [UInt32: Data]
    /// Committed without waiting for the disk where the backend can (flag changes a crash may undo).
    func changeFlags(_ update: FlagUpdate, in mailbox: MailboxID, uids: [UInt32], unchangedSince: UInt64?) async throws(MailStoreError)
        -> FlagChange
    /// Removes the messages (all or none) and the contents nothing else uses; the UIDs removed.
    func expunge(uids: [UInt32], in mailbox: MailboxID) async throws(MailStoreError) -> [UInt32]
    /// Copies (with `move`, moves) messages; (source UID, new UID) pairs in source UID order. A copy
    /// that takes the account over its quota is `overQuota` and changes nothing.
    func copyMessages(uids: [UInt32], from source: MailboxID, to target: MailboxID, move: Bool)
        async throws(MailStoreError) -> [(source: UInt32, copy: UInt32)]

    /// How many contents are stored (each once) and their bytes.
    func storedContents() async throws(MailStoreError) -> (count: Int, bytes: Int64)

    /// Takes or renews POP3's lease on an account's maildrop for `owner` until `expiresAt`; false when
    /// another owner holds one that has not expired at `now`.
    func lockMaildrop(of account: AccountID, owner: String, until expiresAt: Date, now: Date) async throws(MailStoreError) -> Bool
    /// Each message's UID and size, in UID order.
    func maildropListing(of mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, size: Int64)]
    /// Gives the lease up if `owner` holds it.
    func unlockMaildrop(of account: AccountID, owner: String) async throws(MailStoreError)
    /// Expunges the messages only while `owner` holds an unexpired lease (`maildropLockLost` otherwise).
    func expungeMaildrop(uids: [UInt32], in mailbox: MailboxID, account: AccountID, owner: String, now: Date)
        async throws(MailStoreError) -> [UInt32]
}
