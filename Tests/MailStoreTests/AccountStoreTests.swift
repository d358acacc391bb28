import Credentials
import Foundation
import MailFormat
import MailStore
import Testing
import TestSupport

@Suite("Domains, accounts, aliases and recipient resolution")
struct AccountStoreTests {
    @Test("a new account gets INBOX and the special-use mailboxes, and can log in")
    func newAccount() async throws {
        try await StoreFixture.with { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            #expect(alice.address.description == "alice@example.org")
            #expect(alice.enabled && alice.quotaBytes == 1_000_000 && alice.usedBytes == 0)
            let mailboxes = try await store.mailboxes(of: alice.id)
            #expect(Set(mailboxes.map(\.name)) == ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"])
            #expect(mailboxes.first { $0.name == "Sent" }?.specialUse == .sent)
            #expect(Set(mailboxes.map(\.uidValidity)).count == mailboxes.count, "UIDVALIDITY differs per mailbox")

            let credentials = try #require(try await store.credentials(for: TestData.address("ALICE@Example.org")))
            #expect(credentials.accountID == alice.id)
            #expect(await PasswordHasher.verify("alice-password", against: credentials.passwordHash))
            #expect(try await store.credentials(for: TestData.address("bob@example.org")) == nil)
        }
    }

    @Test("duplicates and unknown domains are refused with specific errors")
    func refusals() async throws {
        try await StoreFixture.with { fixture in
            let (store, _) = try await TestData.populated(fixture)
            let hash = try await PasswordHasher.hash("x", scheme: .sha512Crypt)
            await #expect(throws: MailStoreError.accountExists("Alice@example.org")) {
                try await store.createAccount(TestData.address("Alice@example.org"), passwordHash: hash)
            }
            await #expect(throws: MailStoreError.unknownDomain("example.com")) {
                try await store.createAccount(TestData.address("bob@example.com"), passwordHash: hash)
            }
            await #expect(throws: MailStoreError.domainExists("example.org")) { try await store.createDomain("EXAMPLE.org") }
            await #expect(throws: MailStoreError.self) { try await store.createDomain("not a domain") }
            await #expect(throws: MailStoreError.domainNotEmpty("example.org")) {
                try await store.deleteDomain("example.org")
            }
        }
    }

    @Test("disabling, quota and password changes are seen at once; force-deleting a domain removes its accounts")
    func updates() async throws {
        try await StoreFixture.with { fixture in
            let (store, _) = try await TestData.populated(fixture)
            let address = try TestData.address("alice@example.org")
            try await store.setEnabled(false, for: address)
            #expect(try await store.credentials(for: address)?.enabled == false)
            try await store.setQuota(nil, for: address)
            #expect(try await store.account(address).quotaBytes == nil)
            let newHash = try await PasswordHasher.hash("new-password", scheme: .sha512Crypt)
            try await store.setPasswordHash(newHash, for: address)
            let credentials = try #require(try await store.credentials(for: address))
            #expect(await PasswordHasher.verify("new-password", against: credentials.passwordHash))
            try await store.deleteDomain("example.org", force: true)
            #expect(try await store.accounts().isEmpty)
            await #expect(throws: MailStoreError.unknownAccount("alice@example.org")) { try await store.account(address) }
        }
    }

    @Test("recipients resolve to an alias, an account, the catch-all, unknown-local or not-local")
    func resolution() async throws {
        try await StoreFixture.with { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            try await store.createAlias("sales@example.org", targets: ["alice@example.org", "bob@remote.example"])
            #expect(
                try await store.resolveRecipient(TestData.address("Sales@EXAMPLE.org"))
                    == .alias(targets: ["alice@example.org", "bob@remote.example"]))
            #expect(
                try await store.resolveRecipient(TestData.address("alice@example.org"))
                    == .account(alice.id, enabled: true, quotaBytes: 1_000_000, usedBytes: 0))
            #expect(try await store.resolveRecipient(TestData.address("nobody@example.org")) == .unknownLocal)
            #expect(try await store.resolveRecipient(TestData.address("x@elsewhere.example")) == .notLocal)

            try await store.createAlias("@example.org", targets: ["alice@example.org"])
            #expect(
                try await store.resolveRecipient(TestData.address("nobody@example.org"))
                    == .catchAll(targets: ["alice@example.org"]))
            // An account still wins over the catch-all.
            if case .account = try await store.resolveRecipient(TestData.address("alice@example.org")) {} else {
                Issue.record("the account should win over the catch-all")
            }
            #expect(try await store.aliases(inDomain: "example.org").map(\.source) == ["@example.org", "sales@example.org"])
            try await store.deleteAlias("sales@example.org")
            await #expect(throws: MailStoreError.unknownAlias("sales@example.org")) {
                try await store.deleteAlias("sales@example.org")
            }
            await #expect(throws: MailStoreError.self) { try await store.createAlias("x@example.org", targets: []) }
            await #expect(throws: MailStoreError.self) {
                try await store.createAlias("x@example.org", targets: ["not an address"])
            }
        }
    }

    @Test("failed logins: counted per key within the window, the oldest forgotten beyond `keep`, old ones deleted")
    func loginFailures() async throws {
        try await StoreFixture.with { fixture in
            let store = try fixture.open()
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            var counts: [Int] = []
            for second in 0..<5 {
                let now = start.addingTimeInterval(TimeInterval(second))
                counts.append(try await store.recordLoginFailure(
                    under: ["network:192.0.2.7", "account:alice@example.org"], at: now, since: now.addingTimeInterval(-60), keep: 3))
            }
            #expect(counts == [1, 2, 3, 3, 3])
            let kept = try await store.loginFailures(under: "network:192.0.2.7", since: start.addingTimeInterval(-60))
            #expect(kept == [2, 3, 4].map { start.addingTimeInterval(TimeInterval($0)) })
            #expect(try await store.loginFailures(under: "network:192.0.2.8", since: start.addingTimeInterval(-60)).isEmpty)
            // Another key's failure a window later deletes the old rows of every key.
            let later = start.addingTimeInterval(100)
            #expect(try await store.recordLoginFailure(under: ["network:192.0.2.8"], at: later, since: later.addingTimeInterval(-60), keep: 3) == 1)
            #expect(try await store.loginFailures(under: "network:192.0.2.7", since: .distantPast).isEmpty)
            #expect(try await store.loginFailures(under: "account:alice@example.org", since: .distantPast).isEmpty)
        }
    }
}
