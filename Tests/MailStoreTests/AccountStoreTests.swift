import Credentials
import Foundation
import MailFormat
import MailStore
import Testing
import TestSupport

@Suite("Domains, accounts, aliases and recipient resolution")
struct AccountStoreTests {
    @Test("a new account gets INBOX and the special-use mailboxes, and can log in", arguments: StoreBackendKind.allCases)
    func newAccount(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            #expect(alice.address.description == "alice@example.org")
            #expect(alice.enabled && alice.quotaBytes == 1_000_000 && alice.usedBytes == 0)
            // Mailboxes are read through the SQLite file only, until that part of the store has a
            // PostgreSQL backend too.
            if backend == .sqlite {
                let mailboxes = try await store.mailboxes(of: alice.id)
                #expect(Set(mailboxes.map(\.name)) == ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"])
                #expect(mailboxes.first { $0.name == "Sent" }?.specialUse == .sent)
                #expect(Set(mailboxes.map(\.uidValidity)).count == mailboxes.count, "UIDVALIDITY differs per mailbox")
            }

            let credentials = try #require(try await store.credentials(for: TestData.address("ALICE@Example.org")))
            #expect(credentials.accountID == alice.id)
            #expect(await PasswordHasher.verify("alice-password", against: credentials.passwordHash))
            #expect(try await store.credentials(for: TestData.address("bob@example.org")) == nil)
        }
    }

    @Test("duplicates and unknown domains are refused with specific errors", arguments: StoreBackendKind.allCases)
    func refusals(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
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

    @Test("disabling, quota and password changes are seen at once; force-deleting a domain removes its accounts", arguments: StoreBackendKind.allCases)
    func updates(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
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

    @Test("recipients resolve to an alias, an account, the catch-all, unknown-local or not-local", arguments: StoreBackendKind.allCases)
    func resolution(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
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

    @Test("failed logins: counted per key within the window, the oldest forgotten beyond `keep`, old ones deleted", arguments: StoreBackendKind.allCases)
    func loginFailures(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
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

    @Test("admin tokens: created once per id, the bootstrap token only into an empty table, revoked once; every change audited with its actor", arguments: StoreBackendKind.allCases)
    func adminTokens(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await store.bootstrapAdminToken(id: "boot", secretHash: Data([1, 2, 3]), now: start))
            #expect(try await !store.bootstrapAdminToken(id: "boot2", secretHash: Data([4]), now: start))
            let admin = AuditActor(tokenID: "boot")
            try await store.createAdminToken(
                id: "reader", secretHash: Data([9, 9]), scope: .read, description: "dashboards", now: start.addingTimeInterval(1),
                audit: admin)
            await #expect(throws: MailStoreError.invalidArgument("a token with id reader exists")) {
                try await store.createAdminToken(id: "reader", secretHash: Data([1]), scope: .write, description: "", audit: admin)
            }
            #expect(try await store.adminTokens().map(\.id) == ["boot", "reader"])
            let reader = try #require(try await store.adminToken(id: "reader"))
            #expect(reader.secretHash == Data([9, 9]) && reader.scope == .read && reader.description == "dashboards")
            #expect(reader.revokedAt == nil && reader.createdAt == start.addingTimeInterval(1))
            #expect(try await store.adminToken(id: "nobody") == nil)
            try await store.revokeAdminToken(id: "reader", now: start.addingTimeInterval(2), audit: admin)
            #expect(try await store.adminToken(id: "reader")?.revokedAt == start.addingTimeInterval(2))
            await #expect(throws: MailStoreError.invalidArgument("no active token reader")) {
                try await store.revokeAdminToken(id: "reader", audit: admin)
            }

            try await store.createDomain("example.org", audit: admin)
            let hash = try await PasswordHasher.hash("x", scheme: .sha512Crypt)
            try await store.createAccount(TestData.address("bob@example.org"), passwordHash: hash, audit: admin)
            try await store.updateAccount(
                TestData.address("bob@example.org"), AccountChanges(quotaBytes: .some(5), enabled: false), audit: admin)
            try await store.createAlias("team@example.org", targets: ["bob@example.org", "carol@remote.example"], audit: admin)
            try await store.deleteAlias("team@example.org", audit: admin)
            try await store.deleteAccount(TestData.address("bob@example.org"), audit: admin)
            try await store.deleteDomain("example.org", audit: admin)
            // A change without an actor is not logged.
            try await store.createDomain("quiet.example")

            let entries = try await store.auditEntries()
            #expect(entries.map(\.action) == [
                "token.bootstrap", "token.create", "token.revoke", "domain.create", "account.create", "account.update",
                "alias.create", "alias.delete", "account.delete", "domain.delete",
            ])
            #expect(entries.allSatisfy { $0.tokenID == "boot" })
            #expect(entries.first { $0.action == "account.update" }?.detail == "quotaBytes,enabled")
            #expect(entries.first { $0.action == "alias.create" }?.detail == "bob@example.org,carol@remote.example")
            #expect(try await store.auditEntries(after: entries[7].id).map(\.action) == ["account.delete", "domain.delete"])
            #expect(try await store.auditEntries(limit: 2).map(\.action) == ["token.bootstrap", "token.create"])
            let newest = try await store.auditEntries(newestFirst: true, limit: 2)
            #expect(newest.map(\.action) == ["domain.delete", "account.delete"])
            #expect(try await store.auditEntries(after: newest[1].id, newestFirst: true, limit: 1).map(\.id) == [newest[1].id - 1])
        }
    }

    @Test("listing pages in case-insensitive order: domains, accounts of a domain, aliases with catch-alls first", arguments: StoreBackendKind.allCases)
    func listings(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            for domain in ["b.example", "a.example", "c.example"] { try await store.createDomain(domain) }
            let hash = try await PasswordHasher.hash("x", scheme: .sha512Crypt)
            for address in ["Zed@a.example", "amy@a.example", "Bob@a.example", "x@b.example"] {
                try await store.createAccount(TestData.address(address), passwordHash: hash)
            }
            #expect(try await store.domains().map(\.name) == ["a.example", "b.example", "c.example"])
            #expect(try await store.domains().map(\.accountCount) == [3, 1, 0])
            #expect(try await store.domains(after: "a.example", limit: 1).map(\.name) == ["b.example"])
            #expect(try await store.domain(named: "B.EXAMPLE").accountCount == 1)
            await #expect(throws: MailStoreError.unknownDomain("d.example")) { try await store.domain(named: "d.example") }
            #expect(try await store.isLocalDomain("C.example"))
            #expect(try await !store.isLocalDomain("d.example"))
            #expect(try await store.accounts(inDomain: "a.example").map(\.address.description) == [
                "amy@a.example", "Bob@a.example", "Zed@a.example",
            ])
            #expect(try await store.accounts(inDomain: "a.example", after: "amy@a.example", limit: 1).map(\.address.localPart) == ["Bob"])
            // Search: in the address or the display name, case-insensitively; wildcard characters are text.
            try await store.updateAccount(TestData.address("Zed@a.example"), AccountChanges(displayName: .some("Zoë Ops_Team")))
            #expect(try await store.accounts(containing: "OB@").map(\.address.description) == ["Bob@a.example"])
            #expect(try await store.accounts(containing: "ops_t").map(\.address.description) == ["Zed@a.example"])
            #expect(try await store.accounts(inDomain: "b.example", containing: "x@").map(\.address.description) == ["x@b.example"])
            #expect(try await store.accounts(inDomain: "a.example", containing: "x@").isEmpty)
            #expect(try await store.accounts(containing: "%").isEmpty)
            #expect(try await store.accounts(containing: "_").map(\.address.description) == ["Zed@a.example"])
            #expect(try await store.accounts(containing: "").count == 4)
            #expect(try await store.accounts().count == 4)
            #expect(try await store.account(TestData.address("BOB@A.example")).address.description == "Bob@a.example")

            try await store.createAlias("sales@a.example", targets: ["amy@a.example", "amy@a.example", "Bob@a.example"])
            try await store.createAlias("@a.example", targets: ["amy@a.example"])
            try await store.createAlias("info@b.example", targets: ["x@b.example"])
            await #expect(throws: MailStoreError.aliasExists("SALES@a.example")) {
                try await store.createAlias("SALES@a.example", targets: ["amy@a.example"])
            }
            await #expect(throws: MailStoreError.unknownDomain("d.example")) {
                try await store.createAlias("x@d.example", targets: ["amy@a.example"])
            }
            let aliases = try await store.aliases(inDomain: "a.example")
            #expect(aliases == [
                Alias(source: "@a.example", targets: ["amy@a.example"]),
                Alias(source: "sales@a.example", targets: ["Bob@a.example", "amy@a.example"]),
            ])
            #expect(try await store.aliases(after: "@a.example", limit: 1).map(\.source) == ["info@b.example"])
            #expect(try await store.aliases().count == 3)
        }
    }

    @Test("two hosts' stores racing: one of them creates a domain and an account, the other is told they exist; one bootstrap token of four", arguments: StoreBackendKind.allCases)
    func racingStores(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let first = try await fixture.openStore()
            let second = try await fixture.openStore()
            let hash = try await PasswordHasher.hash("x", scheme: .sha512Crypt)
            for round in 0..<10 {
                let domain = "race\(round).example"
                let outcomes = await withTaskGroup(of: Result<Void, MailStoreError>.self) { group in
                    for store in [first, second] {
                        group.addTask {
                            do throws(MailStoreError) {
                                try await store.createDomain(domain)
                                return .success(())
                            } catch { return .failure(error) }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.filter { if case .success = $0 { true } else { false } }.count == 1)
                #expect(outcomes.contains { if case .failure(.domainExists(domain)) = $0 { true } else { false } })

                let address = try TestData.address("user@\(domain)")
                let accounts = await withTaskGroup(of: Result<Void, MailStoreError>.self) { group in
                    for store in [first, second] {
                        group.addTask {
                            do throws(MailStoreError) {
                                try await store.createAccount(address, passwordHash: hash)
                                return .success(())
                            } catch { return .failure(error) }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(accounts.filter { if case .success = $0 { true } else { false } }.count == 1)
                #expect(accounts.contains { if case .failure(.accountExists(address.description)) = $0 { true } else { false } })
            }
            #expect(try await first.accounts().count == 10)

            let stores = [first, second, try await fixture.openStore(), try await fixture.openStore()]
            let stored = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask { try await store.bootstrapAdminToken(id: "boot\(index)", secretHash: Data([UInt8(index)])) }
                }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(stored == 1)
            #expect(try await second.adminTokens().count == 1)
        }
    }

    @Test("deleting an account with mail, and force-deleting a domain with mail, remove the mail and the contents only they held", arguments: StoreBackendKind.allCases)
    func deletionsWithMail(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let hash = try await PasswordHasher.hash("x", scheme: .sha512Crypt)
            let bob = try await store.createAccount(TestData.address("bob@example.org"), passwordHash: hash)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let projects = try await store.createMailbox(named: "Projects", of: alice.id)
            for index in 1...3 { _ = try await store.appendMessage(Data("Subject: \(index)\r\n\r\nx\r\n".utf8), to: inbox.id) }
            _ = try await store.copyMessages(uids: [1, 2], from: inbox.id, to: projects.id)
            let bobInbox = try await store.mailbox(named: "INBOX", of: bob.id)
            _ = try await store.appendMessage(Data("Subject: bob\r\n\r\nx\r\n".utf8), to: bobInbox.id)
            #expect(try await store.storedContents().count == 4)
            try await store.deleteAccount(alice.address)
            #expect(try await store.storedContents().count == 1)
            await #expect(throws: MailStoreError.unknownAccount("alice@example.org")) { try await store.account(alice.address) }
            #expect(try await store.account(bob.address).messageCount == 1)
            try await store.deleteDomain("example.org", force: true)
            #expect(try await store.storedContents().count == 0)
            #expect(try await store.accounts().isEmpty)
        }
    }
}
