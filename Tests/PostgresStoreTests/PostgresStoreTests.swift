import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import PostgresStore
import Synchronization
import Testing
import TestSupport

@Suite("The store's PostgreSQL database", .serialized)
struct PostgresStoreTests {
    static let logger = Logger(label: "test.postgres")

    static func settings(_ server: PostgresServer, password: String? = nil, tls: PostgresStoreSettings.TLS = .disable)
        -> PostgresStoreSettings
    {
        PostgresStoreSettings(
            host: "127.0.0.1", port: server.port, user: server.user, password: password ?? server.password, database: server.database,
            tls: tls)
    }

    /// Every migration of the PostgreSQL schema, in order.
    static let migrations = [
        "2026-12-03 the store's tables", "2026-12-04 local delivery in one call, leaner counting",
        "2026-12-05 subscriptions apart from mailboxes", "2026-12-06 when each message was filed", "2026-12-07 metadata",
        "2026-12-08 mailbox list changes in the feed", "2026-12-09 sort keys", "2026-12-10 dkim keys", "2026-12-11 quarantined messages",
        "2026-12-12 mta-sts policies and tls session tallies", "2026-12-13 domain transport policies",
        "2026-12-14 mail transfers", "2026-12-15 service processes",
    ]

    @Test("four processes' stores opening one database at once migrate it once, under the advisory lock; over TCP with a password and over the Unix socket")
    func migratesOnce() async throws {
        try await PostgresServer.with { server in
            let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
                for _ in 0..<4 { group.addTask { try await PostgresStore.open(settings: Self.settings(server), logger: Self.logger) } }
                var opened: [PostgresStore] = []
                for try await store in group { opened.append(store) }
                return opened
            }
            for store in stores {
                #expect(try await store.appliedMigrations() == Self.migrations)
                await store.close()
            }
            // Each migration recorded once, its tables there once.
            #expect(try await server.sql("SELECT count(*) FROM schema_migration", database: server.database) == "\(Self.migrations.count)\n")
            let tables = try await server.sql(
                "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'",
                database: server.database)
            #expect(
                tables == "account,admin_token,alias,alias_target,audit_log,counter,dkim_key,domain,domain_transport_policy,login_failure,"
                    + "mail_transfer,mailbox,mailbox_change,mailbox_message,mailbox_metadata,mailbox_subscription,maildrop_lock,message_blob,message_chunk,message_header,mta_sts_policy,queue_message,"
                    + "queue_recipient,schema_migration,server_metadata,service_process,tls_session_tally\n")
            // The socket's directory as the host: no password needed there (local trust), and no TLS.
            var local = Self.settings(server)
            local.host = server.socketDirectory
            local.password = nil
            let overSocket = try await PostgresStore.open(settings: local, logger: Self.logger)
            #expect(try await overSocket.appliedMigrations() == Self.migrations)
            await overSocket.close()
        }
    }

    @Test("a wrong password, TLS a server does not offer, and a database that is down are errors that say so, in bounded time")
    func refusals() async throws {
        let server = try await PostgresServer.start()
        await #expect(throws: PostgresStoreError.self) {
            try await PostgresStore.open(settings: Self.settings(server, password: "wrong"), logger: Self.logger, timeout: .seconds(10))
        }
        do {
            _ = try await PostgresStore.open(settings: Self.settings(server, password: "wrong"), logger: Self.logger, timeout: .seconds(10))
        } catch {
            #expect("\(error)".contains("password authentication failed"), "\(error)")
        }
        do {
            _ = try await PostgresStore.open(settings: Self.settings(server, tls: .require), logger: Self.logger, timeout: .seconds(10))
            Issue.record("TLS was required of a server without it, and the store opened")
        } catch {
            #expect("\(error)".contains("cannot open"), "\(error)")
        }
        try await server.stop()
        let start = ContinuousClock.now
        do {
            _ = try await PostgresStore.open(settings: Self.settings(server), logger: Self.logger, timeout: .seconds(3))
            Issue.record("a stopped database opened")
        } catch {
            #expect(ContinuousClock.now - start < .seconds(10), "\(error)")
        }
    }

    @Test("after PostgreSQL restarts under an open store, the store's next query works: its pool connects again on its own")
    func reconnects() async throws {
        try await PostgresServer.with { server in
            let store = try await PostgresStore.open(settings: Self.settings(server), logger: Self.logger)
            #expect(try await store.appliedMigrations() == Self.migrations)
            try await server.restart()
            let deadline = ContinuousClock.now + .seconds(30)
            var answered = false
            while !answered, ContinuousClock.now < deadline {
                // The first query may still meet a connection the restart closed: it fails, and the next gets a new one.
                do {
                    answered = try await store.appliedMigrations() == Self.migrations
                } catch {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(answered)
            await store.close()
        }
    }

    @Test("while PostgreSQL is down, store operations fail as unavailable within the operation timeout, never as an answer; once it is back they work again and nothing committed is lost", .timeLimit(.minutes(1)))
    func databaseDown() async throws {
        try await PostgresServer.with { server in
            var settings = server.storeSettings
            settings.operationTimeout = .seconds(2)
            let postgres = try await PostgresStore.open(settings: settings, logger: Self.logger)
            let store = postgres.mailStore()
            try await store.createDomain("example.org")
            let address = try EmailAddress(parsing: "someone@example.org")
            try await server.shutDown()
            for attempt in 0..<3 {
                let start = ContinuousClock.now
                do throws(MailStoreError) {
                    _ = try await store.credentials(for: address)
                    Issue.record("a login read answered while the database was down (attempt \(attempt))")
                } catch {
                    guard case .unavailable = error else {
                        Issue.record("expected unavailable, got \(error)")
                        continue
                    }
                }
                #expect(ContinuousClock.now - start < .seconds(5))
            }
            await #expect(throws: MailStoreError.self) {
                try await store.acceptMessage(Data("x\r\n".utf8), envelope: Envelope(sender: nil, recipients: [.init(address: address)]))
            }
            #expect(await !store.isReady(), "/readyz is not ready while the database is down")
            try await server.start()
            let deadline = ContinuousClock.now + .seconds(30)
            var back = false
            while !back, ContinuousClock.now < deadline {
                do {
                    back = try await store.isLocalDomain("example.org")
                } catch {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(back)
            #expect(try await store.resolveRecipient(address) == .unknownLocal)
            #expect(await store.isReady())
            await postgres.close()
        }
    }

    @Test("a host's doorbells ring when another host's store queues a recipient or changes a mailbox, at its commit; without a change a wait lasts its interval", .timeLimit(.minutes(1)))
    func doorbells() async throws {
        try await PostgresServer.with { server in
            let listeningHost = try await PostgresStore.open(settings: server.storeSettings, logger: Self.logger)
            let writingHost = try await PostgresStore.open(settings: server.storeSettings, logger: Self.logger)
            let listener = listeningHost.mailStore()
            let writer = writingHost.mailStore()
            try await writer.createDomain("example.org")
            let hash = try await PasswordHasher.hash("x", scheme: .sha512Crypt)
            let account = try await writer.createAccount(try EmailAddress(parsing: "a@example.org"), passwordHash: hash)
            let inbox = try await writer.mailbox(named: "INBOX", of: account.id)
            let queue = listener.doorbell(for: .queue)
            let mailboxes = listener.doorbell(for: .mailboxes)
            #expect(queue.isListening && mailboxes.isListening)
            // Give the listening connections a moment to LISTEN (a signal before that is not heard).
            try await Task.sleep(for: .milliseconds(500))
            await queue.wait(upTo: .milliseconds(10))
            await mailboxes.wait(upTo: .milliseconds(10))

            var start = ContinuousClock.now
            await queue.wait(upTo: .seconds(1))
            #expect(ContinuousClock.now - start >= .seconds(1), "no change: the whole interval")

            let accepting = Task {
                try await Task.sleep(for: .milliseconds(200))
                return try await writer.acceptMessage(
                    Data("x\r\n".utf8), envelope: Envelope(sender: nil, recipients: [.init(address: try EmailAddress(parsing: "b@remote.example"))]))
            }
            start = ContinuousClock.now
            await queue.wait(upTo: .seconds(30))
            #expect(ContinuousClock.now - start < .seconds(5), "rung by the other host's acceptance")
            _ = try await accepting.value

            let appending = Task {
                try await Task.sleep(for: .milliseconds(200))
                return try await writer.appendMessage(Data("Subject: x\r\n\r\nx\r\n".utf8), to: inbox.id)
            }
            start = ContinuousClock.now
            await mailboxes.wait(upTo: .seconds(30))
            #expect(ContinuousClock.now - start < .seconds(5), "rung by the other host's append")
            _ = try await appending.value
            queue.close()
            mailboxes.close()
            await listeningHost.close()
            await writingHost.close()
        }
    }

    @Test("PostgreSQL restarted under load: every operation ends (done, or unavailable within its deadline), work goes on afterwards, and every acceptance answered is stored", .timeLimit(.minutes(2)))
    func restartUnderLoad() async throws {
        try await PostgresServer.with { server in
            var settings = server.storeSettings
            settings.operationTimeout = .seconds(5)
            let postgres = try await PostgresStore.open(settings: settings, logger: Self.logger)
            let store = postgres.mailStore()
            let address = try EmailAddress(parsing: "x@remote.example")
            let restartAt = ContinuousClock.now + .seconds(3)
            let stop = restartAt + .seconds(9)
            let workers = (0..<6).map { index in
                Task { () -> (accepted: Int, afterRestart: Int, slowest: Duration) in
                    var accepted = 0
                    var afterRestart = 0
                    var slowest = Duration.zero
                    while ContinuousClock.now < stop {
                        let started = ContinuousClock.now
                        do {
                            if index % 2 == 0 {
                                _ = try await store.acceptMessage(
                                    Data("x\r\n".utf8), envelope: Envelope(sender: nil, recipients: [.init(address: address)]))
                                accepted += 1
                            } else {
                                for lease in try await store.leaseQueueItems(owner: "w\(index)", limit: 5, leaseDuration: .seconds(5)) {
                                    try await store.recordOutcome(.delivered, for: lease)
                                }
                            }
                            if started > restartAt + .seconds(3) { afterRestart += 1 }
                        } catch {
                            try? await Task.sleep(for: .milliseconds(50))
                        }
                        slowest = max(slowest, ContinuousClock.now - started)
                    }
                    return (accepted, afterRestart, slowest)
                }
            }
            try await Task.sleep(until: restartAt)
            try await server.restart()
            var accepted = 0
            for worker in workers {
                let result = await worker.value
                accepted += result.accepted
                #expect(result.afterRestart > 0, "work goes on after the restart")
                #expect(result.slowest < .seconds(7), "an operation took \(result.slowest)")
            }
            let stored = try await server.sql("SELECT count(*) FROM queue_message", database: server.database)
            #expect((Int(stored.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= accepted, "\(stored) stored, \(accepted) answered")
            await postgres.close()
        }
    }

    @Test("a signal sent through one host's store wakes a listener on another at once; after PostgreSQL restarts the listener listens again and wakes once to catch up")
    func signalsAcrossHosts() async throws {
        try await PostgresServer.with { server in
            let sender = try await PostgresStore.open(settings: Self.settings(server), logger: Self.logger)
            let listener = try await PostgresStore.open(settings: Self.settings(server), logger: Self.logger)
            let wakes = Wakes()
            let listening = Task { await listener.listen(for: .queue) { wakes.record() } }
            // LISTEN takes effect once its connection has sent it: signal until the first wake, bounded.
            var woken = false
            for _ in 0..<40 where !woken {
                try await sender.send(.queue)
                woken = try await wakes.wait(beyond: 0, within: .milliseconds(500)) != nil
            }
            #expect(woken, "no wake for a signal")
            // Another channel's signal does not wake it; its own does, within a second.
            let count = wakes.count
            try await sender.send(.mailboxes)
            #expect(try await wakes.wait(beyond: count, within: .milliseconds(500)) == nil)
            let sent = ContinuousClock.now
            try await sender.send(.queue)
            let second = try await wakes.wait(beyond: count, within: .seconds(5))
            #expect(second.map { $0 - sent < .seconds(1) } == true)
            // Restarted: one wake once it listens again (to catch up), then signals wake it again.
            let beforeRestart = wakes.count
            try await server.restart()
            #expect(try await wakes.wait(beyond: beforeRestart, within: .seconds(20)) != nil, "no catch-up wake after the restart")
            let caughtUp = wakes.count
            var afterRestart = false
            for _ in 0..<40 where !afterRestart {
                do { try await sender.send(.queue) } catch { try await Task.sleep(for: .milliseconds(200)) }
                afterRestart = try await wakes.wait(beyond: caughtUp, within: .milliseconds(500)) != nil
            }
            #expect(afterRestart, "no wake for a signal after the restart")
            listening.cancel()
            await listening.value
            await sender.close()
            await listener.close()
        }
    }
}

/// When a listener was woken.
final class Wakes: Sendable {
    private let times = Mutex<[ContinuousClock.Instant]>([])

    var count: Int { self.times.withLock { $0.count } }

    func record() { self.times.withLock { $0.append(.now) } }

    /// The time of wake number `beyond + 1`, once there is one; nil when none comes within `timeout`.
    func wait(beyond count: Int, within timeout: Duration) async throws -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let time = self.times.withLock({ $0.count > count ? $0[count] : nil }) { return time }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
