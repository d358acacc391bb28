import Foundation

/// What an import from another server (`estafeta import`) needs beyond APPEND: mailboxes and messages
/// that keep the numbering the other server gave them (UIDVALIDITY, UIDs, the next UID), so that an
/// IMAP client that synchronised against it goes on without fetching anything again (RFC 9051
/// §2.3.1.1: the pair UIDVALIDITY and UID names one message for ever).
extension MailStore {
    /// The mailbox `name` with `uidValidity`: made when missing (unsubscribed: subscriptions come from
    /// the other server's list), as it is when it has that UIDVALIDITY already (an import run again),
    /// given it when it never held a message (a new account's INBOX); `numberingConflict` otherwise.
    public func prepareImportedMailbox(
        named name: String, of account: AccountID, uidValidity: UInt32, specialUse: SpecialUse? = nil, now: Date = Date()
    ) async throws(MailStoreError) -> Mailbox {
        guard uidValidity > 0 else { throw .invalidArgument("UIDVALIDITY must be above 0") }
        let name = try Self.validatedMailboxName(name)
        return try await self.mailboxStore.prepareImportedMailbox(
            named: name, of: account, uidValidity: uidValidity, specialUse: specialUse, now: now)
    }

    /// Raises the mailbox's next UID (never lowers it): the other server's next UID, so that a message
    /// it had numbered and expunged is never numbered again.
    public func raiseUIDNext(of mailbox: MailboxID, to uidNext: UInt32) async throws(MailStoreError) {
        try await self.mailboxStore.raiseUIDNext(of: mailbox, to: uidNext)
    }
}
