import Foundation
import MailFormat
@testable import MailStore
import Testing
import TestSupport

@Suite("Retention: finished queue entries, the change feed and the audit log are purged; freed pages go back")
struct RetentionTests {
    let policy = RetentionPolicy(finishedQueueEntries: .seconds(60), changeFeed: .seconds(60), auditLog: .seconds(60))

    @Test("finished queue entries past the retention go, with content nothing else holds; unfinished, unreported and recent ones stay", arguments: StoreBackendKind.allCases)
    func queueEntries(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let start = Date()
            var accepted: [String: AcceptedMessage] = [:]
            for name in ["local", "remote", "deferred", "bounced"] {
                accepted[name] = try await store.acceptMessage(
                    Data("Subject: \(name)\r\n\r\n\(name)\r\n".utf8), envelope: TestData.envelope(to: ["\(name)@example.org"]),
                    receivedAt: start)
            }
            let leases = try await store.leaseQueueItems(owner: "test", limit: 10, leaseDuration: .seconds(60), now: start)
            for lease in leases {
                switch lease.recipient.localPart {
                case "local": try await store.deliverLocally(lease, into: inbox.id, headerPrefix: Data(), now: start)
                case "remote": try await store.recordOutcome(.delivered, for: lease, now: start)
                case "deferred": try await store.recordOutcome(.deferred(until: start.addingTimeInterval(600), reason: "451 later"), for: lease, now: start)
                default: try await store.recordOutcome(.bounced(reason: "550 no"), for: lease, now: start)
                }
            }
            // Within the retention nothing goes.
            var report = try await store.purge(self.policy, now: start.addingTimeInterval(30))
            #expect(report.queueMessages == 0 && report.messageContents == 0)
            report = try await store.purge(self.policy, now: start.addingTimeInterval(120))
            // The two delivered entries go; only the remote one's content is freed (INBOX holds the other).
            #expect(report.queueMessages == 2 && report.messageContents == 1, "\(report)")
            for name in ["local", "remote"] { #expect(try await store.queuedContent(try #require(accepted[name]).id) == nil) }
            // Deferred, and bounced without its report yet: kept.
            for name in ["deferred", "bounced"] { #expect(try await store.queuedContent(try #require(accepted[name]).id) != nil) }
            #expect(try await store.messageContent(in: inbox.id, uid: 1) == Data("Subject: local\r\n\r\nlocal\r\n".utf8))
            #expect(try await store.storedContents().count == 3)
        }
    }

    @Test("the change feed is pruned behind the horizon; a reader behind what was pruned is told, one past it is not", arguments: StoreBackendKind.allCases)
    func changeFeed(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let before = try await store.highestModSeq(of: inbox.id)
            for index in 1...3 { _ = try await store.appendMessage(Data("Subject: \(index)\r\n\r\nx\r\n".utf8), to: inbox.id) }
            #expect(try await store.changes(in: inbox.id, since: before).count == 3)
            let caughtUp = try await store.highestModSeq(of: inbox.id)
            // The feed's times are the database's own clock: a purge "two minutes from now" prunes them.
            let report = try await store.purge(self.policy, now: Date().addingTimeInterval(120))
            #expect(report.changes == 3)
            await #expect(throws: MailStoreError.changeFeedPruned(String(inbox.id.rawValue))) {
                try await store.changes(in: inbox.id, since: before)
            }
            if let immediate = store.immediate {
                #expect(throws: MailStoreError.changeFeedPruned(String(inbox.id.rawValue))) {
                    try immediate.changes(in: inbox.id, since: before, limit: 1)
                }
            }
            #expect(try await store.changes(in: inbox.id, since: caughtUp).isEmpty)
            _ = try await store.appendMessage(Data("Subject: 4\r\n\r\nx\r\n".utf8), to: inbox.id)
            #expect(try await store.changes(in: inbox.id, since: caughtUp).map(\.uid) == [4])
        }
    }

    @Test("audit entries past the retention are deleted", arguments: StoreBackendKind.allCases)
    func auditLog(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let start = Date()
            try await store.createAdminToken(
                id: "old", secretHash: Data([1]), scope: .read, description: "", now: start, audit: AuditActor(tokenID: "root"))
            try await store.createAdminToken(
                id: "new", secretHash: Data([2]), scope: .read, description: "", now: start.addingTimeInterval(100),
                audit: AuditActor(tokenID: "root"))
            let report = try await store.purge(self.policy, now: start.addingTimeInterval(120))
            #expect(report.auditEntries == 1)
            #expect(try await store.auditEntries().map(\.target) == ["new"])
        }
    }

    @Test("freed pages go back to the filesystem, in a new file and in one made before incremental vacuum")
    func freedPages() async throws {
        for earlier in [false, true] {
            try await StoreFixture.with { fixture in
                if earlier {
                    try MailStoreMigrator.writeEarlierFile(at: fixture.path, migratedUpTo: "2026-11-28 flags listing index", then: "SELECT 1")
                }
                let store = try await fixture.openStore()
                let start = Date()
                let big = Data(("Subject: big\r\n\r\n" + String(repeating: "0123456789abcdef", count: 262_144) + "\r\n").utf8)
                _ = try await store.acceptMessage(big, envelope: TestData.envelope(to: ["far@remote.example"]), receivedAt: start)
                let lease = try #require(try await store.leaseQueueItems(owner: "t", limit: 1, leaseDuration: .seconds(60), now: start).first)
                try await store.recordOutcome(.delivered, for: lease, now: start)
                let report = try await store.purge(self.policy, now: start.addingTimeInterval(120))
                #expect(report.queueMessages == 1 && report.messageContents == 1)
                // 4 MiB of content is a thousand 4 KiB pages.
                #expect(report.freedPages > 900, "earlier file: \(earlier), \(report)")
            }
        }
    }
}
