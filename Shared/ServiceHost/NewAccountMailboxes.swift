import MailStore
import ServerSupport

extension EstafetaSettings {
    /// `accounts.mailboxes` as the store makes them for a new account (besides INBOX).
    public var newAccountMailboxes: [(name: String, specialUse: SpecialUse?)] {
        self.accountMailboxes.map { mailbox in
            // The settings hold only the uses that name a SpecialUse (`NewAccountMailbox.specialUses`).
            (mailbox.name, mailbox.specialUse.flatMap { SpecialUse(rawValue: "\\" + $0.prefix(1).uppercased() + $0.dropFirst()) })
        }
    }
}
