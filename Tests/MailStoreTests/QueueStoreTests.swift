import Foundation
import MailFormat
import MailStore
import Testing
import TestSupport

@Suite("Queue: acceptance, leases, outcomes and local delivery")
struct QueueStoreTests {
    @Test("an accepted message is stored once with one queued row per recipient", arguments: StoreBackendKind.allCases)
    func accept(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
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

    @Test("concurrent acceptances share commits and each gets its own message back", arguments: StoreBackendKind.allCases)
    func groupCommit(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
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
            // 300 arrivals at once went in fewer commits: SQLite's transactions, PostgreSQL's statements.
            #expect(statistics.commits < count, "\(statistics)")
        }
    }

    @Test("PostgreSQL: a message the database refuses (a NUL in its ENVID) fails alone; the messages queued together with it are stored")
    func refusedInBatch() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            let store = try await fixture.openStore()
            // Forty at once: the first is written alone and the others, the refused one among them, wait
            // and go together.
            let count = 40
            let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<count {
                    group.addTask {
                        var envelope = try TestData.envelope()
                        if index == count / 2 { envelope.envelopeID = "bad\u{0}id" }
                        do {
                            let message = try await store.acceptMessage(Data("Subject: \(index)\r\n\r\nbody\r\n".utf8), envelope: envelope)
                            return (index, try await store.queuedContent(message.id) == Data("Subject: \(index)\r\n\r\nbody\r\n".utf8))
                        } catch {
                            return (index, false)
                        }
                    }
                }
                return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
            #expect(results.filter(\.value).map(\.key).sorted() == (0..<count).filter { $0 != count / 2 })
        }
    }

    @Test("the queue's activity: recipients delivered and bounced counted in the hour they finished, every hour listed, deferrals not counted", arguments: StoreBackendKind.allCases)
    func activity(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            _ = try await store.acceptMessage(
                Data("x\r\n".utf8), envelope: TestData.envelope(to: ["a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"]))
            // Half past an hour, so that "two hours ago" and "now" fall in hours of their own.
            let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600 + 1800)
            let leases = try await store.leaseQueueItems(owner: "w", limit: 10, leaseDuration: .seconds(36_000), now: Date())
            #expect(leases.count == 5)
            try await store.recordOutcome(.delivered, for: leases[0], now: now)
            try await store.recordOutcome(.bounced(reason: "550 5.1.1 no"), for: leases[1], now: now - 60)
            try await store.recordOutcome(.delivered, for: leases[2], now: now - 2 * 3600)
            // Before the window, and deferred (not finished): neither counts.
            try await store.recordOutcome(.delivered, for: leases[3], now: now - 5 * 3600)
            try await store.recordOutcome(.deferred(until: now + 3600, reason: "451 later"), for: leases[4], now: now)
            let hours = try await store.queueActivity(hours: 3, now: now)
            #expect(hours.map(\.delivered) == [1, 0, 1] && hours.map(\.bounced) == [0, 0, 1], "\(hours)")
            #expect(hours.last?.start == now - 1800 && hours.first?.start == now - 1800 - 2 * 3600)
            #expect(try await store.queueActivity(hours: 24, now: now).count == 24)
        }
    }

    @Test("a leased recipient is not handed to a second worker until the lease expires", arguments: StoreBackendKind.allCases)
    func leaseExclusive(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
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

    @Test("local delivery files the message and marks the recipient delivered in one transaction, exactly once", arguments: StoreBackendKind.allCases)
    func localDelivery(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
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

    @Test("two hosts' workers leasing from one queue at once never hold the same recipient, and between them take every one", arguments: StoreBackendKind.allCases)
    func racingLeases(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let stores = [try await fixture.openStore(), try await fixture.openStore()]
            for index in 0..<60 {
                _ = try await stores[index % 2].acceptMessage(
                    Data("Subject: \(index)\r\n\r\nx\r\n".utf8),
                    envelope: TestData.envelope(to: ["a\(index)@remote.example", "b\(index)@remote.example"]))
            }
            let now = Date()
            let taken = try await withThrowingTaskGroup(of: [QueueRecipientID].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var mine: [QueueRecipientID] = []
                        for _ in 0..<40 {
                            let leases = try await stores[worker % 2].leaseQueueItems(
                                owner: "w\(worker)", limit: 3, leaseDuration: .seconds(60), now: now)
                            if leases.isEmpty { break }
                            for lease in leases {
                                try await stores[worker % 2].recordOutcome(.delivered, for: lease, now: now)
                                mine.append(lease.recipientID)
                            }
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(taken.count == 120 && Set(taken).count == 120)
            #expect(try await stores[0].queueStats().counts[.delivered] == 120)
        }
    }

    @Test("alias expansion, delivery status reports once per recipient, and the operator's queue view and actions", arguments: StoreBackendKind.allCases)
    func reportsAndAdministration(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, _) = try await TestData.populated(fixture)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            var envelope = try TestData.envelope(to: ["team@example.org", "x@far.example", "y@far.example"], from: "s@example.net")
            envelope.recipients[1].notify = "SUCCESS,FAILURE"
            envelope.envelopeID = "env-1"
            let content = Data("Subject: r\r\n\r\nbody\r\n".utf8)
            let accepted = try await store.acceptMessage(content, envelope: envelope, receivedAt: now)
            let leases = try await store.leaseQueueItems(owner: "w", limit: 10, leaseDuration: .seconds(60), now: now)
            #expect(leases.map(\.recipient.description) == ["team@example.org", "x@far.example", "y@far.example"])
            #expect(leases[1].envelopeID == "env-1" && leases[1].notify == "SUCCESS,FAILURE")
            // The alias expands into two targets that inherit the request; the alias itself is done.
            try await store.expandRecipient(leases[0], into: [TestData.address("alice@example.org"), TestData.address("z@far.example")], now: now)
            try await store.recordOutcome(.delivered, for: leases[1], now: now)
            try await store.recordOutcome(.bounced(reason: "550 no such user"), for: leases[2], now: now)
            let states = try await store.queueRecipientStates(of: accepted.id)
            #expect(states.map(\.recipient) == ["team@example.org", "x@far.example", "y@far.example", "alice@example.org", "z@far.example"])
            #expect(states.map(\.state) == [.delivered, .delivered, .bounced, .queued, .queued])
            let expanded = try await store.leaseQueueItems(owner: "w", limit: 10, leaseDuration: .seconds(60), now: now)
            #expect(expanded.map(\.originalRecipient) == ["rfc822;team@example.org", "rfc822;team@example.org"])
            #expect(expanded.allSatisfy { $0.expansionDepth == 1 })

            let failures = try await store.pendingReports(.failure)
            #expect(failures.count == 1 && failures[0].messageID == accepted.id && failures[0].envelopeID == "env-1")
            #expect(failures[0].recipients.map(\.recipient) == ["y@far.example"])
            #expect(failures[0].recipients[0].lastError == "550 no such user" && !failures[0].recipients[0].isLocal)
            let successes = try await store.pendingReports(.success)
            #expect(successes.flatMap(\.recipients).map(\.recipient) == ["x@far.example"])
            let report = (content: Data("Subject: failure notice\r\n\r\n...\r\n".utf8), recipient: try TestData.address("s@example.net"))
            #expect(try await store.recordBounceReport(for: failures[0].recipients.map(\.id), report: report, now: now))
            // Reported once: a second worker's attempt queues nothing.
            #expect(try await !store.recordBounceReport(for: failures[0].recipients.map(\.id), report: report, now: now))
            #expect(try await store.pendingReports(.failure).isEmpty)
            let reports = try await store.queueMessages(matching: QueueFilter(recipientDomain: "EXAMPLE.NET"))
            #expect(reports.count == 1 && reports[0].sender == nil && reports[0].recipients.map(\.recipient) == ["s@example.net"])

            // The operator's view: filters, details, retry, bounce, delete, flush.
            try await store.recordOutcome(
                .deferred(until: now.addingTimeInterval(600), reason: "451 later"), for: expanded[1], now: now)
            #expect(try await store.deferralsByDomain().map(\.domain) == ["far.example"])
            let deferred = try await store.queueMessages(matching: QueueFilter(state: .deferred))
            #expect(deferred.map(\.id) == [accepted.id])
            #expect(try await store.queueMessages(matching: QueueFilter(sender: "S@EXAMPLE.NET")).map(\.id) == [accepted.id])
            #expect(try await store.queueMessages(matching: QueueFilter(recipientDomain: "nowhere.example")).isEmpty)
            let detail = try #require(try await store.queueMessage(accepted.id))
            #expect(detail.size == Int64(content.count) && detail.envelopeID == "env-1" && detail.recipients.count == 5)
            #expect(detail.recipients.first { $0.recipient == "alice@example.org" }?.state == .delivering)
            await #expect(throws: MailStoreError.queueMessageBusy(accepted.id.rawValue)) {
                try await store.bounceQueueMessage(accepted.id, reason: "operator")
            }
            await #expect(throws: MailStoreError.unknownQueueMessage(999_999)) {
                try await store.retryQueueMessageNow(QueueMessageID(999_999))
            }
            try await store.recordOutcome(.deferred(until: now.addingTimeInterval(600), reason: "451"), for: expanded[0], now: now)
            let actor = AuditActor(tokenID: "ops")
            #expect(try await store.retryQueueMessageNow(accepted.id, now: now, audit: actor) == 2)
            // Both of this message's, and the failure report queued at `now`.
            #expect(try await store.flushQueue(now: now.addingTimeInterval(-1), audit: actor) == 3)
            #expect(try await store.bounceQueueMessage(accepted.id, reason: "operator", now: now, audit: actor) == 2)
            try await store.deleteQueueMessage(accepted.id, now: now, audit: actor)
            #expect(try await store.queueMessage(accepted.id) == nil)
            #expect(try await store.auditEntries().map(\.action) == ["queue.retry", "queue.flush", "queue.bounce", "queue.delete"])
            let stats = try await store.queueStats()
            #expect(stats.counts[.queued] == 1 && stats.oldestPendingSince == now, "the report is still queued")
        }
    }
}
