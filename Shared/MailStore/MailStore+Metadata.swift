import Foundation

/// Metadata of mailboxes and of an account's server scope (IMAP METADATA, RFC 5464): named values a
/// client keeps on the server (a mailbox's comment, a client's settings). A mailbox's entries follow it
/// through RENAME and go with it on DELETE; the server scope's go with the account.
extension MailStore {
    /// The largest value kept, in octets (RFC 5464 §4.3 MAXSIZE).
    public static let maximumMetadataValueBytes = 65_536
    /// Entries one mailbox, or one account's server scope, holds at most (RFC 5464 §4.3 TOOMANY).
    public static let maximumMetadataEntries = 256

    /// The entries of `mailbox`, or of the account's server scope when nil, in name order.
    public func metadata(of account: AccountID, mailbox: MailboxID?) async throws(MailStoreError) -> [MetadataEntry] {
        try await self.mailboxStore.metadata(of: account, mailbox: mailbox)
    }

    /// Sets (a value) or removes (nil) entries, all in one transaction: `tooManyMetadataEntries` when the
    /// scope would hold more than `maximumMetadataEntries`, `invalidArgument` for a value over
    /// `maximumMetadataValueBytes`; nothing changes then.
    public func setMetadata(_ changes: [(name: String, value: Data?)], of account: AccountID, mailbox: MailboxID?)
        async throws(MailStoreError)
    {
        guard !changes.isEmpty else { return }
        if let large = changes.first(where: { ($0.value?.count ?? 0) > Self.maximumMetadataValueBytes }) {
            throw .invalidArgument("the value of \(large.name) is over \(Self.maximumMetadataValueBytes) octets")
        }
        try await self.mailboxStore.setMetadata(changes, of: account, mailbox: mailbox, maximumEntries: Self.maximumMetadataEntries)
    }
}
