import TestSupport
import Credentials
import Foundation
import MailFormat
import MailStore

enum TestData {
    static func address(_ text: String) throws -> EmailAddress { try EmailAddress(parsing: text) }

    static func envelope(to recipients: [String] = ["rcpt@example.org"], from sender: String? = "sender@example.net")
        throws -> Envelope
    {
        Envelope(
            sender: try sender.map { try EmailAddress(parsing: $0) },
            recipients: try recipients.map { Envelope.Recipient(address: try EmailAddress(parsing: $0)) })
    }

    /// A store with example.org and alice@example.org (password "alice-password").
    static func populated(_ fixture: StoreFixture) async throws -> (MailStore, Account) {
        let store = try await fixture.openStore()
        try await store.createDomain("example.org")
        let hash = try await PasswordHasher.hash("alice-password", scheme: .sha512Crypt)
        let alice = try await store.createAccount(
            try address("alice@example.org"), passwordHash: hash, displayName: "Alice", quotaBytes: 1_000_000)
        return (store, alice)
    }
}
