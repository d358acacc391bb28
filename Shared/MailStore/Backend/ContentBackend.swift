import Foundation

/// Where a backend keeps message content written or read a piece at a time: uploads (a large message
/// stored as it arrives, before its message exists) and the pieces a `ContentReader` asks for. Content is
/// laid out alike in every backend: a content row with its bytes inline, or its pieces (`seq` from 0,
/// the `Received:`-style prefix being piece 0) while and after it is uploaded. `MailStore` keeps the
/// readers' bookkeeping; a backend answers single reads.
public protocol ContentBackend: Sendable {
    /// An empty upload no message refers to yet.
    func beginUpload(now: Date) async throws(MailStoreError) -> ContentUpload
    /// Stores piece `sequence` of an upload and renews its time; `unavailable` when the upload is gone
    /// (purged as abandoned). May commit without waiting for the disk: the commit that accepts the
    /// message makes the pieces durable.
    func appendToUpload(_ upload: ContentUpload, piece: Data, sequence: Int, now: Date) async throws(MailStoreError)
    func discardUpload(_ upload: ContentUpload) async throws(MailStoreError)
    /// `MailboxBackend.appendMessage` for an upload; `header` is its header section.
    func appendMessage(_ upload: ContentUpload, header: Data, to mailbox: MailboxID, flags: Set<String>, internalDate: Date)
        async throws(MailStoreError) -> StoredMessage

    /// Files `messages` in `mailbox` in one transaction, in order under consecutive UIDs (or the UIDs they
    /// carry): all of them, or (over the quota when enforced, or on any failure) none. Uploads of a failed
    /// call are left to the caller.
    /// `enforcingQuota: false` files them whatever the account's quota (an import that was not asked to respect it).
    func appendMessages(_ messages: [NewMessage], to mailbox: MailboxID, enforcingQuota: Bool) async throws(MailStoreError) -> [StoredMessage]

    /// A reader of a mailbox message's content; nil when there is no such message.
    func contentReader(in mailbox: MailboxID, uid: UInt32) async throws(MailStoreError) -> ContentReader?
    /// A reader of a queued message's content, with the content itself when it is inline and at most
    /// `ContentReader.pieceBytes`; nil when the entry is gone.
    func contentReader(ofQueued message: QueueMessageID) async throws(MailStoreError) -> ContentReader?
    /// The first piece after `sequence` of a content kept in pieces, with its number; nil when none.
    func piece(ofContent content: Int64, after sequence: Int64) async throws(MailStoreError) -> (sequence: Int64, data: Data)?
    /// `length` octets of an inline content from `offset` (0-based); nil when the content is gone.
    func slice(ofContent content: Int64, from offset: Int64, length: Int) async throws(MailStoreError) -> Data?
    /// Each piece's number and length, in order.
    func pieceLengths(ofContent content: Int64) async throws(MailStoreError) -> [(sequence: Int64, length: Int64)]
}
