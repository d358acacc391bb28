import Foundation
import MailFormat
import MailStore
import Testing
import TestSupport

@Suite("Queue: acceptance, leases, outcomes and local delivery")
struct QueueStoreTests {
    @Test("an accepted message is stored once with one queued row per recipient")
    func accept() async throws {
        try await StoreFixture.with { fixture in
            let store = try fixture.open()
            let content = Data("Subject: hi\r\n\r\nhello\r\n".utf8)
            let accepted = try await store.acceptMessage(
                content, envelope: TestData.envelope(to: ["a@example.org", "b@example.org", "c@remote.example"]))
            #expect(accepted.recipientCount == 3)
            #expect(try await store.queuedContent(accepted.id) == content)
            let states = try await store.queueRecipientStates(of: accepted.id)
            #expect(states.map(\.recipient) == ["a@example.org", "b@example.org", "c@remote.example"])
            #expect(states.allSatisfy { $0.state == .queued && $0.attempts == 0 })
            await #expect(throws: MailStoreError.self) {
                try await store.acceptMessage(content, envelope: TestData.envelope(to: []))
            }
        }
    }

    @Test("concurrent acceptances share commits and each gets its own message back")
    func groupCommit() async throws {
        try await StoreFixture.with { fixture in
            let store = try fixture.open()
            let count = 300
            let accepted = try await withThrowingTaskGroup(of: (Int, AcceptedMessage).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let content = Data("Subject: \(index)\r\n\r\nbody \(index)\r\n".utf8)
                        return (index, try await store.acceptMessage(content, envelope: TestData.envelope()))
                    }
                }
                var results: [Int: AcceptedMessage] = [:]
                for try await (index, message) in group { results[index] = message }
                return results
            }
            #expect(accepted.count == count)
            #expect(Set(accepted.values.map(\.id)).count == count)
            for (index, message) in accepted {
                #expect(try await store.queuedContent(message.id) == Data("Subject: \(index)\r\n\r\nbody \(index)\r\n".utf8))
            }
            let statistics = store.acceptanceStatistics
            #expect(statistics.messages == count)
            // 300 arrivals at once cannot each have waited for an fsync of their own.
            #expect(statistics.commits < count)
        }
    }

    @Test("a leased recipient is not handed to a second worker until the lease expires")
    func leaseExclusive() async throws {
        try await StoreFixture.with { fixture in
            let store = try fixture.open()
            _ = try await store.acceptMessage(Data("x\r\n".utf8), envelope: TestData.envelope(to: ["a@example.org", "b@example.org"]))
            let now = Date()
            let first = try await store.leaseQueueItems(owner: "w1", limit: 1, leaseDuration: .seconds(60), now: now)
            let second = try await store.leaseQueueItems(owner: "w2", limit: 10, leaseDuration: .seconds(60), now: now)
            #expect(first.count == 1 && second.count == 1)
            #expect(first[0].recipientID != second[0].recipientID)
            #expect(try await store.leaseQueueItems(owner: "w3", limit: 10, leaseDuration: .seconds(60), now: now).isEmpty)

            // w1 dies: after expiry w3 gets its recipient, and w1 can no longer record an outcome.
            let later = now.addingTimeInterval(61)
            let retaken = try await store.leaseQueueItems(owner: "w3", limit: 10, leaseDuration: .seconds(60), now: later)
            #expect(retaken.map(\.recipientID) == [first[0].recipientID, second[0].recipientID])
            await #expect(throws: MailStoreError.leaseLost(first[0].recipientID.rawValue)) {
                try await store.recordOutcome(.delivered, for: first[0], now: later)
            }
            try await store.recordOutcome(.delivered, for: retaken[0], now: later)
            try await store.recordOutcome(
                .deferred(until: later.addingTimeInterval(300), reason: "451 try later"), for: retaken[1], now: later)
            let stats = try await store.queueStats()
            #expect(stats.counts[.delivered] == 1 && stats.counts[.deferred] == 1)
            // Deferred: not due before its next attempt time, due after it.
            #expect(try await store.leaseQueueItems(owner: "w4", limit: 10, leaseDuration: .seconds(60), now: later).isEmpty)
            let due = try await store.leaseQueueItems(
                owner: "w4", limit: 10, leaseDuration: .seconds(60), now: later.addingTimeInterval(301))
            #expect(due.count == 1 && due[0].attempts == 1)
        }
    }

    @Test("local delivery files the message and marks the recipient delivered in one transaction, exactly once")
    func localDelivery() async throws {
        try await StoreFixture.with { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let content = Data("Subject: local\r\n\r\nbody\r\n".utf8)
            let accepted = try await store.acceptMessage(
                content, envelope: TestData.envelope(to: ["alice@example.org", "bob@remote.example"]))
            let leases = try await store.leaseQueueItems(owner: "w", limit: 10, leaseDuration: .seconds(60))
            let lease = try #require(leases.first { $0.recipient.description == "alice@example.org" })
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let prefix = Data("Return-Path: <sender@example.net>\r\nDelivered-To: alice@example.org\r\n".utf8)
            let stored = try await store.deliverLocally(lease, into: inbox.id, headerPrefix: prefix)
            #expect(stored.size == Int64(prefix.count + content.count))
            #expect(try await store.messageContent(in: inbox.id, uid: stored.uid) == prefix + content)
            // A second attempt with the same (now released) lease is refused: no duplicate copy.
            await #expect(throws: MailStoreError.leaseLost(lease.recipientID.rawValue)) {
                try await store.deliverLocally(lease, into: inbox.id, headerPrefix: prefix)
            }
            #expect(try await store.messages(in: inbox.id).count == 1)
            let states = try await store.queueRecipientStates(of: accepted.id)
            #expect(states.map(\.state) == [.delivered, .queued])
            #expect(try await store.account(alice.address).usedBytes == Int64(prefix.count + content.count))
            // The queue still needs the content for bob; expunging alice's copy keeps it.
            try await store.expunge(uids: [stored.uid], in: inbox.id)
            #expect(try await store.queuedContent(accepted.id) == content)
            #expect(try await store.storedContents().count == 1)
        }
    }
}
