import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import ServiceHost
import Testing
import TestSupport

@testable import RelayWorker

/// A store with example.org, alice and bob, and the worker parts wired to it.
private struct Harness {
    let store: MailStore
    let alice: Account
    let bob: Account
    let local: LocalDelivery
    let reports: BounceReporter
    static let schedule = RetrySchedule(initial: .seconds(300), maximum: .seconds(3600), lifetime: .seconds(86_400))

    static func make(_ fixture: StoreFixture, operationTimeout: Duration? = nil) async throws -> Harness {
        let store = try await fixture.openStore(operationTimeout: operationTimeout)
        try await store.createDomain("example.org")
        let hash = try await PasswordHasher.hash("a long password", scheme: .sha512Crypt)
        let alice = try await store.createAccount(try EmailAddress(parsing: "alice@example.org"), passwordHash: hash)
        let bob = try await store.createAccount(try EmailAddress(parsing: "bob@example.org"), passwordHash: hash)
        let logger = Logger(label: "test.relay")
        return Harness(
            store: store, alice: alice, bob: bob, local: LocalDelivery(store: store, outcomes: QueueOutcomes(store: store, schedule: schedule, logger: logger)),
            reports: BounceReporter(
                store: store, hostname: "mx.example.org", delayWarning: .seconds(3600), schedule: schedule,
                signer: DKIMDomainSigner(store: store, signatureLifetime: nil), logger: logger))
    }

    @discardableResult
    func queue(_ content: String, from sender: String? = "carol@remote.example", to recipients: [String],
               notify: String? = nil, returnContent: String? = nil, envelopeID: String? = nil) async throws -> AcceptedMessage
    {
        try await self.store.acceptMessage(
            Data(content.utf8),
            envelope: Envelope(
                sender: try sender.map { try EmailAddress(parsing: $0) },
                recipients: try recipients.map { Envelope.Recipient(address: try EmailAddress(parsing: $0), notify: notify) },
                envelopeID: envelopeID, returnContent: returnContent))
    }

    /// One worker pass over everything due at `now`, as `DeliveryWorker` does it.
    @discardableResult
    func pass(now: Date = Date()) async throws -> [DeliveryResult] {
        let leases = try await self.store.leaseQueueItems(
            owner: "test", limit: 1000, leaseDuration: .seconds(60), scope: .localDomains, now: now)
        var results: [DeliveryResult] = []
        for lease in leases { results.append(await self.local.deliver(lease, now: now)) }
        return results
    }

    func inbox(_ account: Account) async throws -> [Data] {
        let inbox = try await self.store.mailbox(named: "INBOX", of: account.id)
        var contents: [Data] = []
        for message in try await self.store.messages(in: inbox.id) {
            if let content = try await self.store.messageContent(in: inbox.id, uid: message.uid) { contents.append(content) }
        }
        return contents
    }
}

@Suite("Local delivery: accounts, aliases, quota, loops, bounces")
struct LocalDeliveryTests {
    @Test("a message for an account lands in its INBOX once, with Return-Path and Delivered-To, and the recipient is done", arguments: StoreBackendKind.allCases)
    func account(_ backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let harness = try await Harness.make(fixture)
            let accepted = try await harness.queue("Subject: hi\r\n\r\nhello\r\n", to: ["alice@example.org", "dave@remote.example"])
            #expect(try await harness.pass() == [.delivered])
            #expect(try await harness.pass().isEmpty)  // nothing due twice
            let inbox = try await harness.inbox(harness.alice)
            #expect(inbox == [Data("Return-Path: <carol@remote.example>\r\nDelivered-To: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n".utf8)])
            let states = try await harness.store.queueRecipientStates(of: accepted.id)
            // The remote recipient is the SMTP relay's: the local worker never leases it.
            #expect(states.map(\.state) == [.delivered, .queued])
        }
    }

    @Test("below the free space minimum local delivery defers with 452 4.3.1 and files nothing; /readyz says not ready")
    func lowDiskSpace() async throws {
        try await StoreFixture.with { fixture in
            let harness = try await Harness.make(fixture)
            let accepted = try await harness.queue("Subject: wait\r\n\r\nfor room\r\n", to: ["alice@example.org"])
            // The same file opened as a process would with a minimum no filesystem here can meet.
            let cramped = try MailStore.open(
                settings: MailStoreSettings(path: fixture.path, minimumFreeBytes: Int64.max / 2), logger: Logger(label: "test.cramped"))
            #expect(cramped.spaceIsLow && !harness.store.spaceIsLow)
            let local = LocalDelivery(store: cramped, outcomes: QueueOutcomes(store: cramped, schedule: Harness.schedule, logger: Logger(label: "t")))
            let lease = try #require(try await cramped.leaseQueueItems(owner: "t", limit: 1, leaseDuration: .seconds(60), scope: .localDomains).first)
            #expect(await local.deliver(lease) == .deferred)
            let recipients = try #require(try await harness.store.queueMessage(accepted.id)).recipients
            #expect(recipients.map(\.state) == [.deferred] && recipients.first?.lastError == "452 4.3.1 insufficient system storage",
                    "\(recipients)")
            #expect(try await harness.inbox(harness.alice).isEmpty)
            let readiness = (await cramped.isReady(), await harness.store.isReady())
            #expect(readiness == (false, true))
        }
    }

    @Test("an alias expands into queued recipients of the same message: local ones are delivered, remote ones wait", arguments: StoreBackendKind.allCases)
    func alias(_ backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let harness = try await Harness.make(fixture)
            try await harness.store.createAlias("team@example.org", targets: ["alice@example.org", "bob@example.org", "eve@remote.example"])
            let accepted = try await harness.queue("Subject: team\r\n\r\nhi all\r\n", to: ["team@example.org"])
            #expect(try await harness.pass() == [.expanded])
            #expect(try await harness.pass() == [.delivered, .delivered])
            #expect(try await harness.inbox(harness.alice).count == 1)
            #expect(try await harness.inbox(harness.bob).count == 1)
            let states = try await harness.store.queueRecipientStates(of: accepted.id)
            #expect(states.map(\.recipient) == ["team@example.org", "alice@example.org", "bob@example.org", "eve@remote.example"])
            #expect(states.map(\.state) == [.delivered, .delivered, .delivered, .queued])
        }
    }

    @Test("an alias loop bounces after the depth limit instead of expanding for ever", arguments: StoreBackendKind.allCases)
    func aliasLoop(_ backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let harness = try await Harness.make(fixture)
            try await harness.store.createAlias("ping@example.org", targets: ["pong@example.org"])
            try await harness.store.createAlias("pong@example.org", targets: ["ping@example.org"])
            let accepted = try await harness.queue("Subject: loop\r\n\r\nx\r\n", to: ["ping@example.org"])
            var passes = 0
            while passes < 20, !(try await harness.pass()).isEmpty { passes += 1 }
            #expect(passes == LocalDelivery.maximumExpansionDepth + 1)
            let states = try await harness.store.queueRecipientStates(of: accepted.id)
            #expect(states.last?.state == .bounced)
            #expect(states.filter { $0.state == .bounced }.count == 1)
        }
    }

    @Test("a full mailbox defers with the retry schedule, and bounces (4.4.7) when the message's lifetime is over", arguments: StoreBackendKind.allCases)
    func quota(_ backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let harness = try await Harness.make(fixture)
            try await harness.store.setQuota(10, for: harness.alice.address)
            let accepted = try await harness.queue("Subject: big\r\n\r\ntoo big for the quota\r\n", to: ["alice@example.org"])
            // After the acceptance: a message is first due at its arrival time.
            let now = Date()
            #expect(try await harness.pass(now: now) == [.deferred])
            // Not due again before the first retry (300 s ± 10 %), due after it.
            #expect(try await harness.pass(now: now.addingTimeInterval(260)).isEmpty)
            #expect(try await harness.pass(now: now.addingTimeInterval(340)) == [.deferred])
            #expect(try await harness.pass(now: now.addingTimeInterval(86_401)) == [.bounced])
            let detail = try await harness.store.queueMessage(accepted.id)
            #expect(detail?.recipients.first?.lastError?.contains("4.4.7") == true, "\(String(describing: detail))")
            #expect(try await harness.inbox(harness.alice).isEmpty)
        }
    }

    @Test("two deliveries that each fit the quota but not together: one is filed, the other deferred", arguments: StoreBackendKind.allCases)
    func quotaRace(_ backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let harness = try await Harness.make(fixture)
            /// Two messages queued for `account` and leased, with room for one (with its added header
            /// lines) in its quota, not for two.
            func twoLeasedForOneRoom(_ account: Account) async throws -> [QueueLease] {
                let body = "Subject: half\r\n\r\n" + String(repeating: "x", count: 600) + "\r\n"
                try await harness.queue(body, to: [account.address.description])
                try await harness.queue(body, to: [account.address.description])
                try await harness.store.setQuota(1_000, for: account.address)
                let leases = try await harness.store.leaseQueueItems(
                    owner: "test", limit: 10, leaseDuration: .seconds(60), scope: .localDomains, now: Date())
                #expect(leases.count == 2)
                return leases
            }
            let leases = try await twoLeasedForOneRoom(harness.alice)
            guard leases.count == 2 else { return }
            let inbox = try await harness.store.mailbox(named: "INBOX", of: harness.alice.id)
            let prefix = Data("Delivered-To: alice@example.org\r\n".utf8)
            // Both past the worker's own check: the store refuses the second filing itself.
            _ = try await harness.store.deliverLocally(leases[0], into: inbox.id, headerPrefix: prefix)
            await #expect(throws: MailStoreError.overQuota("alice@example.org")) {
                try await harness.store.deliverLocally(leases[1], into: inbox.id, headerPrefix: prefix)
            }
            #expect(try await harness.inbox(harness.alice).count == 1)
            #expect(try await harness.store.account(harness.alice.address).usedBytes <= 1_000)

            // Through the worker, both at once: whichever check sees the full mailbox (the worker's, or
            // the store's when both passed the worker's), one is filed and the other deferred.
            let bobs = try await twoLeasedForOneRoom(harness.bob)
            guard bobs.count == 2 else { return }
            async let first = harness.local.deliver(bobs[0])
            async let second = harness.local.deliver(bobs[1])
            let results = await [first, second]
            #expect(results.filter { $0 == .delivered }.count == 1 && results.filter { $0 == .deferred }.count == 1, "\(results)")
            #expect(try await harness.inbox(harness.bob).count == 1)
        }
    }

    @Test("PostgreSQL down while a message is delivered: the delivery is tried again every few seconds while its lease lasts, and the message is in the INBOX soon after the database is back")
    func databaseOutage() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            // Each store operation gives up after 2 s, so the outage below is longer than an operation.
            let harness = try await Harness.make(fixture, operationTimeout: .seconds(2))
            try await harness.queue("Subject: outage\r\n\r\nbody\r\n", to: ["alice@example.org"])
            let leases = try await harness.store.leaseQueueItems(
                owner: "test", limit: 10, leaseDuration: .seconds(600), scope: .localDomains, now: Date())
            #expect(leases.count == 1)
            guard let lease = leases.first, let server = fixture.postgres else { return }
            try await server.shutDown()
            async let result = harness.local.deliver(lease)
            try await Task.sleep(for: .seconds(5))
            try await server.start()
            #expect(await result == .delivered)
            #expect(try await harness.inbox(harness.alice).count == 1)
        }
    }

    @Test("a message already delivered to this recipient (Delivered-To) is a loop and bounces", arguments: StoreBackendKind.allCases)
    func deliveredToLoop(_ backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let harness = try await Harness.make(fixture)
            try await harness.queue("Delivered-To: Bob@example.org\r\nSubject: again\r\n\r\nx\r\n", to: ["bob@example.org"])
            #expect(try await harness.pass() == [.bounced])
            #expect(try await harness.inbox(harness.bob).isEmpty)
        }
    }

    @Test("a bounce is reported once to a local sender as multipart/report; never for <> or NOTIFY=NEVER")
    func bounceReports() async throws {
        try await StoreFixture.with { fixture in
            let harness = try await Harness.make(fixture)
            // Accepted while the account existed; deleted before delivery.
            let hash = try await PasswordHasher.hash("a long password", scheme: .sha512Crypt)
            let gone = try await harness.store.createAccount(try EmailAddress(parsing: "gone@example.org"), passwordHash: hash)
            try await harness.queue(
                "Subject: to nobody\r\nMessage-ID: <m1@example.org>\r\n\r\nbody\r\n", from: "alice@example.org",
                to: ["gone@example.org"], envelopeID: "ENV-1")
            try await harness.queue("Subject: bounce of a bounce\r\n\r\nx\r\n", from: nil, to: ["gone@example.org"])
            try await harness.queue(
                "Subject: quiet\r\n\r\nx\r\n", from: "alice@example.org", to: ["gone@example.org"], notify: "NEVER")
            try await harness.store.deleteAccount(gone.address)
            #expect(try await harness.pass() == [.bounced, .bounced, .bounced])
            #expect(try await harness.reports.reportPending())
            #expect(try await harness.reports.reportPending() == false)  // exactly once
            #expect(try await harness.pass() == [.delivered])  // the one report, to alice
            let inbox = try await harness.inbox(harness.alice)
            #expect(inbox.count == 1)
            let report = String(decoding: inbox.first ?? Data(), as: UTF8.self)
            #expect(report.contains("Content-Type: multipart/report; report-type=delivery-status;"))
            #expect(report.contains("Final-Recipient: rfc822; gone@example.org"))
            #expect(report.contains("Original-Envelope-Id: ENV-1"))
            #expect(report.contains("Action: failed\r\nStatus: 5.1.1"))
            #expect(report.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: to nobody\r\nMessage-ID: <m1@example.org>\r\n"))
            #expect(!report.contains("\r\nbody\r\n"))  // headers only without RET=FULL
            #expect(report.contains("Return-Path: <>"))  // reports travel with the null reverse-path
        }
    }

    @Test("RET=FULL returns a message whole up to 1 MiB; a larger one only by its header, and the report says so")
    func returnedMessageSize() async throws {
        try await StoreFixture.with { fixture in
            let harness = try await Harness.make(fixture)
            let hash = try await PasswordHasher.hash("a long password", scheme: .sha512Crypt)
            let gone = try await harness.store.createAccount(try EmailAddress(parsing: "gone@example.org"), passwordHash: hash)
            let large = String(repeating: "a line of the large message body\r\n", count: 40_000)  // 1.3 MB
            try await harness.queue("Subject: small\r\n\r\nsmall body\r\n", from: "alice@example.org", to: ["gone@example.org"], returnContent: "FULL")
            try await harness.queue("Subject: large\r\n\r\n" + large, from: "alice@example.org", to: ["gone@example.org"], returnContent: "FULL")
            try await harness.store.deleteAccount(gone.address)
            #expect(try await harness.pass() == [.bounced, .bounced])
            #expect(try await harness.reports.reportPending())
            #expect(try await harness.pass() == [.delivered, .delivered])
            let reports = try await harness.inbox(harness.alice).map { String(decoding: $0, as: UTF8.self) }
            let small = reports.first { $0.contains("Subject: small") } ?? ""
            #expect(small.contains("Content-Type: message/rfc822\r\n\r\nSubject: small\r\n\r\nsmall body\r\n"), "\(small)")
            let returned = reports.first { $0.contains("Subject: large") } ?? ""
            #expect(returned.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: large\r\n"), "\(returned.prefix(3000))")
            #expect(returned.contains("too large to be returned whole") && !returned.contains("a line of the large message body"))
            #expect(returned.utf8.count < 10_000)
        }
    }

    @Test("a delay warning goes out once after the warning time unless NOTIFY excludes DELAY")
    func delayWarning() async throws {
        try await StoreFixture.with { fixture in
            let harness = try await Harness.make(fixture)
            try await harness.store.setQuota(10, for: harness.alice.address)
            try await harness.queue("Subject: waiting\r\n\r\ntoo big for the quota\r\n", from: "bob@example.org", to: ["alice@example.org"])
            try await harness.queue(
                "Subject: no delay notice\r\n\r\ntoo big for the quota\r\n", from: "bob@example.org", to: ["alice@example.org"],
                notify: "FAILURE")
            let now = Date()
            #expect(try await harness.pass(now: now) == [.deferred, .deferred])
            // Before the warning time (1 h here): nothing.
            #expect(try await harness.reports.report(.delay(queuedBefore: now.addingTimeInterval(-3600)), now: now) == false)
            #expect(try await harness.reports.reportPending(now: now.addingTimeInterval(3601)))
            #expect(try await harness.reports.reportPending(now: now.addingTimeInterval(3602)) == false)  // once
            try await harness.pass(now: now.addingTimeInterval(3700))
            let inbox = try await harness.inbox(harness.bob)
            #expect(inbox.count == 1)
            let report = String(decoding: inbox.first ?? Data(), as: UTF8.self)
            #expect(report.contains("Subject: Delayed Mail (still being retried)"))
            #expect(report.contains("Action: delayed\r\nStatus: 4.2.2\r\n"), "\(report)")
            #expect(report.contains("Will-Retry-Until: "))
            #expect(report.contains("Subject: waiting") && !report.contains("Subject: no delay notice"))
        }
    }

    @Test("NOTIFY=SUCCESS gets a 'delivered' notice after local delivery; without it, none")
    func successNotice() async throws {
        try await StoreFixture.with { fixture in
            let harness = try await Harness.make(fixture)
            try await harness.queue("Subject: tell me\r\n\r\nx\r\n", from: "alice@example.org", to: ["bob@example.org"], notify: "SUCCESS,FAILURE")
            try await harness.queue("Subject: do not tell\r\n\r\nx\r\n", from: "alice@example.org", to: ["bob@example.org"])
            #expect(try await harness.pass() == [.delivered, .delivered])
            #expect(try await harness.reports.reportPending())
            #expect(try await harness.reports.reportPending() == false)
            try await harness.pass()
            let inbox = try await harness.inbox(harness.alice)
            #expect(inbox.count == 1)
            let report = String(decoding: inbox.first ?? Data(), as: UTF8.self)
            #expect(report.contains("Subject: Successful Mail Delivery Report"))
            #expect(report.contains("Final-Recipient: rfc822; bob@example.org\r\nAction: delivered\r\nStatus: 2.0.0"), "\(report)")
            #expect(report.contains("Subject: tell me") && !report.contains("Subject: do not tell"))
        }
    }
}

@Suite("Retry schedule and report format")
struct RetryAndReportTests {
    @Test("retries double from the initial delay up to the maximum; expiry needs the whole lifetime")
    func schedule() {
        let schedule = RetrySchedule(initial: .seconds(300), maximum: .seconds(3600), lifetime: .seconds(432_000))
        #expect((1...7).map { schedule.delay(afterAttempts: $0, jitter: 1) }
            == [300, 600, 1200, 2400, 3600, 3600, 3600].map { Duration.seconds($0) })
        let start = Date()
        #expect(!schedule.expired(firstQueuedAt: start, now: start.addingTimeInterval(431_999)))
        #expect(schedule.expired(firstQueuedAt: start, now: start.addingTimeInterval(432_000)))
        // A clock that jumped back expires nothing.
        #expect(!schedule.expired(firstQueuedAt: start, now: start.addingTimeInterval(-3600)))
    }

    @Test("status codes come from the diagnostic; RET=FULL returns the whole message; header text stays on one line")
    func report() throws {
        #expect(DeliveryStatusReport.status(of: "550 5.1.1 no such user") == "5.1.1")
        #expect(DeliveryStatusReport.status(of: "452 4.2.2 mailbox full; 4.4.7 delivery time expired") == "4.2.2")
        #expect(DeliveryStatusReport.status(of: "connection refused") == "5.0.0")
        let report = DeliveryStatusReport(
            reportingHost: "mx.example.org", sender: try EmailAddress(parsing: "alice@example.org"), envelopeID: nil,
            returnFullMessage: true, arrivalDate: Date(timeIntervalSince1970: 0),
            recipients: [.init(recipient: "x@example.org", originalRecipient: "rfc822;y@example.org",
                               diagnostic: "550 5.1.1 no\r\nInjected: header")],
            original: Data("Subject: s\r\n\r\nthe body\r\n".utf8), date: Date(timeIntervalSince1970: 0), token: "t")
        let text = String(decoding: report.content, as: UTF8.self)
        #expect(text.contains("Content-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nthe body\r\n"))
        #expect(text.contains("Original-Recipient: rfc822;y@example.org"))
        #expect(!text.contains("\r\nInjected: header"))
        #expect(text.hasSuffix("--=_estafeta_report_t--\r\n"))
    }
}
