import Foundation

/// POP3's exclusive access to a maildrop (RFC 1939 §8), as a lease: `owner` holds it until `expiresAt`
/// and renews it while the session lives. Another session gets it only once it has been released or
/// has expired, so a dropped connection or a killed process never locks a user out for long.
extension MailStore {
    /// Takes or renews the lease; false when another owner holds an unexpired one.
    public func lockMaildrop(of account: AccountID, owner: String, for duration: Duration, now: Date = Date())
        async throws(MailStoreError) -> Bool
    {
        let expiresAt = now.addingTimeInterval(TimeInterval(duration.components.seconds))
        return try await self.mailboxStore.lockMaildrop(of: account, owner: owner, until: expiresAt, now: now)
    }

    /// UID and size of each message in the mailbox, in UID order: all a POP3 session keeps of its
    /// maildrop (RFC 1939 numbers, LIST, UIDL), without the flags and dates `messages(in:)` decodes.
    public func maildropListing(of mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, size: Int64)] {
        try await self.mailboxStore.maildropListing(of: mailbox)
    }

    /// Gives the lease up (nothing happens when `owner` no longer holds it).
    public func unlockMaildrop(of account: AccountID, owner: String) async throws(MailStoreError) {
        try await self.mailboxStore.unlockMaildrop(of: account, owner: owner)
    }

    /// POP3 UPDATE: removes the messages in one transaction, only while `owner` still holds the lease
    /// (`.maildropLockLost` otherwise: another session may have the maildrop now). Messages already
    /// gone (expunged over IMAP) are skipped. Returns the UIDs removed.
    public func expungeMaildrop(
        uids: [UInt32], in mailbox: MailboxID, account: AccountID, owner: String, now: Date = Date()
    ) async throws(MailStoreError) -> [UInt32] {
        try await self.mailboxStore.expungeMaildrop(uids: uids, in: mailbox, account: account, owner: owner, now: now)
    }
}
