import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import PostgresStore
import Testing
import TestSupport

@Suite("estafeta migrate-store: a populated store copied between SQLite and PostgreSQL, as it was")
struct StoreMigrationTests {
    /// A store with what an installation has after a while: folders renamed and deleted, messages with
    /// flags and keywords, one written in pieces, expunges (UIDNEXT past the last UID), the queue in every
    /// state, a token and its audit trail.
    static func populate(_ store: MailStore) async throws {
        let admin = AuditActor(tokenID: "ops")
        #expect(try await store.bootstrapAdminToken(id: "ops", secretHash: Data(repeating: 7, count: 32)))
        try await store.createDomain("example.org", audit: admin)
        let hash = try await PasswordHasher.hash("alice-password", scheme: .sha512Crypt)
        let alice = try await store.createAccount(try EmailAddress(parsing: "alice@example.org"), passwordHash: hash, quotaBytes: 50_000_000, audit: admin)
        let bob = try await store.createAccount(try EmailAddress(parsing: "Bob@example.org"), passwordHash: hash, audit: admin)
        try await store.createAlias("team@example.org", targets: ["alice@example.org", "Bob@example.org"], audit: admin)
        try await store.createAlias("@example.org", targets: ["alice@example.org"], audit: admin)
        // DKIM keys, one signing and one retired, with their private halves.
        for selector in ["s1", "s2"] {
            _ = try await store.createDKIMKey(
                domain: "example.org", selector: selector, algorithm: "ed25519-sha256", privateKey: Data(repeating: 1, count: 32),
                publicKey: Data(repeating: UInt8(selector.count), count: 32), audit: admin)
            _ = try await store.activateDKIMKey(domain: "example.org", selector: selector, audit: admin)
        }
        _ = try await store.setDomainTransportPolicy(
            domain: "example.org",
            DomainTransportPolicy(mtaSTSMode: .testing, mtaSTSMaxAge: 86_400, mtaSTSMX: ["mx1.example.org", "*.mx.example.org"],
                                  tlsReportAddresses: ["mailto:tls@example.org"]),
            audit: admin)
        let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
        try await store.createMailbox(named: "Projects/Old", of: alice.id)
        try await store.renameMailbox(from: "Projects/Old", to: "Archive/2025", of: alice.id)
        try await store.createMailbox(named: "Scratch", of: bob.id)
        try await store.deleteMailbox(named: "Scratch", of: bob.id)
        for index in 1...12 {
            let date = Date(timeIntervalSince1970: 1_700_000_000 + Double(index) * 3_600)
            let flags: Set<String> = index % 3 == 0 ? ["\\Seen", "$Label\(index % 2)"] : index % 4 == 0 ? ["\\Flagged"] : []
            _ = try await store.appendMessage(
                Data("Subject: message \(index)\r\nFrom: someone@example.net\r\n\r\nbody \(index)\r\n".utf8), to: inbox.id,
                flags: flags, internalDate: date)
        }
        var upload = try await store.beginUpload()
        let header = Data("Subject: large\r\n\r\n".utf8)
        try await store.appendToUpload(&upload, header + Data(repeating: UInt8(ascii: "x"), count: 300_000))
        try await store.appendToUpload(&upload, Data(repeating: UInt8(ascii: "y"), count: 300_000))
        _ = try await store.appendMessage(upload, header: header, to: inbox.id, flags: ["\\Seen"])
        _ = try await store.updateFlags(.add(["\\Answered", "Custom"]), in: inbox.id, uids: [2, 5, 7])
        try await store.expunge(uids: [3, 12], in: inbox.id)
        let archive = try await store.mailbox(named: "Archive/2025", of: alice.id)
        _ = try await store.copyMessages(uids: [1, 2], from: inbox.id, to: archive.id)
        _ = try await store.copyMessages(uids: [4], from: inbox.id, to: archive.id, move: true)

        let now = Date()
        for (index, recipient) in ["Bob@example.org", "carol@remote.example", "dave@remote.example"].enumerated() {
            _ = try await store.acceptMessage(
                Data("Subject: queued \(index)\r\n\r\nqueued\r\n".utf8),
                envelope: Envelope(sender: try EmailAddress(parsing: "alice@example.org"), recipients: [.init(address: try EmailAddress(parsing: recipient))]),
                receivedAt: now)
        }
        let leases = try await store.leaseQueueItems(owner: "worker", limit: 10, leaseDuration: .seconds(60), now: now)
        for lease in leases {
            switch lease.recipient.localPart {
            case "Bob":
                let bobInbox = try await store.mailbox(named: "INBOX", of: bob.id)
                try await store.deliverLocally(lease, into: bobInbox.id, headerPrefix: Data("Delivered-To: Bob@example.org\r\n".utf8), now: now)
            case "carol": try await store.recordOutcome(.deferred(until: now.addingTimeInterval(600), reason: "451 later"), for: lease, now: now)
            default: try await store.recordOutcome(.bounced(reason: "550 no such user"), for: lease, now: now)
            }
        }
    }

    /// Everything a client or an operator sees of a store, for comparing two. Times to the millisecond:
    /// the SQLite file keeps no more (PostgreSQL keeps microseconds).
    static func snapshot(_ store: MailStore) async throws -> [String] {
        func time(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        var lines: [String] = []
        for account in try await store.accounts() {
            let credentials = try #require(try await store.credentials(for: account.address))
            lines.append("account \(account.id) \(account.address) \(account.quotaBytes ?? -1) \(account.usedBytes) \(account.messageCount) \(credentials.passwordHash.encoded)")
            // Subscriptions, also those whose mailbox was deleted (bob's Scratch).
            lines.append("subscriptions \(try await store.subscriptions(of: account.id))")
            for mailbox in try await store.mailboxes(of: account.id) {
                let status = try await store.mailboxStatus(mailbox.id)
                lines.append("mailbox \(mailbox.name) \(mailbox.specialUse?.rawValue ?? "-") \(mailbox.subscribed) \(mailbox.uidValidity) \(mailbox.uidNext) \(mailbox.highestModSeq) \(status.messages) \(status.unseen) \(status.sizeBytes)")
                let contents = try await store.messageContents(in: mailbox.id, uids: 1...UInt32.max)
                for message in try await store.messages(in: mailbox.id) {
                    lines.append("message \(message.uid) \(message.size) \(time(message.internalDate)) \(message.flags.sorted()) \(message.modSeq) \(contents[message.uid]?.hashValue ?? 0)")
                }
                lines.append("changes \(try await store.changes(in: mailbox.id, since: 0).map { "\($0.modSeq):\($0.uid):\($0.kind)" })")
            }
        }
        lines += try await store.aliases().map { "alias \($0.source) \($0.targets)" }
        for detail in try await store.queueMessages(matching: QueueFilter()) {
            lines.append("queued \(detail.id) \(detail.sender ?? "<>") \(detail.size) \(time(detail.receivedAt))")
            lines += detail.recipients.map { "  \($0.recipient) \($0.state) \($0.attempts) \($0.lastError ?? "-") \(time($0.nextAttemptAt))" }
            lines.append("  content \(try await store.queuedContent(detail.id)?.hashValue ?? 0)")
        }
        lines += try await store.dkimKeys(domain: "example.org").map { "dkim \($0.selector) \($0.algorithm) \($0.state) \($0.publicKey.base64EncodedString())" }
        lines += try await store.dkimSigningKeys(domain: "example.org").map { "signing \($0.selector) \($0.privateKey.base64EncodedString())" }
        lines.append("transport \(try await store.domainTransportPolicy(domain: "example.org"))")
        lines += try await store.adminTokens().map { "token \($0.id) \($0.scope) \($0.secretHash.base64EncodedString()) \($0.revokedAt == nil)" }
        lines += try await store.auditEntries(limit: 1_000).map { "audit \($0.id) \($0.tokenID) \($0.action) \($0.target) \($0.detail ?? "-")" }
        return lines
    }

    /// Runs `estafeta migrate-store` from `source` to `target` (a PostgreSQL password from `password`).
    static func migrate(from source: String, to target: String, password: String) async throws -> (status: Int32, output: String, errors: String) {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ESTAFETA_") }
            .merging(["ESTAFETA_DATABASE_PASSWORD": password]) { $1 }
        let run = try ChildProcess.start(
            BuiltProducts.executable("estafeta"), ["migrate-store", "--from", source, "--to", target], environment: environment)
        return try await run.finish(timeout: .seconds(120))
    }

    /// The copy shows what the source showed, and Alice's INBOX goes on from its UIDNEXT and HIGHESTMODSEQ.
    static func expectSame(_ copy: MailStore, as before: [String]) async throws {
        let after = try await Self.snapshot(copy)
        #expect(after == before, "\(zip(before, after).first { $0.0 != $0.1 }.map { "\($0.0)\n\($0.1)" } ?? "lengths \(before.count) \(after.count)")")
        let alice = try await copy.account(try EmailAddress(parsing: "alice@example.org"))
        let inbox = try await copy.mailbox(named: "INBOX", of: alice.id)
        let appended = try await copy.appendMessage(Data("Subject: after\r\n\r\nafter\r\n".utf8), to: inbox.id)
        #expect(appended.uid == inbox.uidNext && appended.modSeq > inbox.highestModSeq)
    }

    @Test("everything is copied and verified; clients see the same UIDVALIDITY, UIDs, flags and modseqs; new mail and new mailboxes go on from there; a second copy into the filled database is refused")
    func sqliteToPostgres() async throws {
        try await StoreFixture.with { fixture in
            try await PostgresServer.with { server in
                let source = try fixture.open()
                try await Self.populate(source)
                let before = try await Self.snapshot(source)

                let target = "postgres://\(server.user)@127.0.0.1:\(server.port)/\(server.database)?sslmode=disable"
                let result = try await Self.migrate(from: "sqlite://\(fixture.path)", to: target, password: server.password)
                #expect(result.status == 0 && result.output.contains("contents verified"), "\(result.output)\(result.errors)")
                // Alice's INBOX keeps 10 of its 13, her archive 3, Bob's INBOX the delivery; the large one in 2 pieces.
                #expect(result.output.contains("mailboxMessage: 14 rows") && result.output.contains("messageChunk: 2 rows"), "\(result.output)")

                let postgres = try await PostgresStore.open(settings: server.storeSettings, logger: Logger(label: "test.copy"))
                let copy = postgres.mailStore()
                // The copy goes on where the source left off: the next UID, a UIDVALIDITY above every
                // earlier one, new rows with new ids.
                try await Self.expectSame(copy, as: before)
                let alice = try await copy.account(try EmailAddress(parsing: "alice@example.org"))
                let fresh = try await copy.createMailbox(named: "Fresh", of: alice.id)
                let earlier = try await source.mailboxes(of: alice.id).map(\.uidValidity)
                #expect(earlier.allSatisfy { fresh.uidValidity > $0 })
                try await copy.createDomain("later.example")
                #expect(try await copy.queueMessages(matching: QueueFilter()).count == 3)
                _ = try await copy.acceptMessage(
                    Data("x\r\n".utf8), envelope: Envelope(sender: nil, recipients: [.init(address: try EmailAddress(parsing: "x@remote.example"))]))
                await postgres.close()

                let refused = try await Self.migrate(from: "sqlite://\(fixture.path)", to: target, password: server.password)
                #expect(refused.status == 1 && refused.errors.contains("already holds"), "\(refused.output)\(refused.errors)")
            }
        }
    }

    @Test("the other way: a populated PostgreSQL store copied into a new SQLite file, everything as it was, and the file goes on from there")
    func postgresToSQLite() async throws {
        try await StoreFixture.with(.postgres) { fixture in
            guard let server = fixture.postgres else { return }
            let source = try await fixture.openStore()
            try await Self.populate(source)
            let before = try await Self.snapshot(source)

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-copy-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: file, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: file) }
            let path = file.appendingPathComponent("estafeta.sqlite").path
            let result = try await Self.migrate(
                from: "\(fixture.location)?sslmode=disable", to: "sqlite://\(path)", password: server.password)
            #expect(result.status == 0 && result.output.contains("contents verified"), "\(result.output)\(result.errors)")
            try await Self.expectSame(try MailStore.open(settings: MailStoreSettings(path: path), logger: Logger(label: "test.copy")), as: before)
        }
    }
}
