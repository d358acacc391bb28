import Foundation
import Logging
import MailFormat
@testable import MailStore
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Storage running short or damaged, seen from outside: temporary refusals and nothing lost when space
/// is low or gone, and a damaged file refused at start and reported by `estafeta check-db`.
@Suite("Storage: free space and integrity", .serialized)
struct StorageTests {
    static let token = "storage-e2e-token-" + String(repeating: "s", count: 32)

    private func run(_ command: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await ChildProcess.start(BuiltProducts.executable(command), arguments).finish(timeout: .seconds(60))
        return (result.status, result.output + result.errors)
    }

    @Test("below the free space minimum: SMTP 452 4.3.1 at MAIL, IMAP APPEND NO [LIMIT], /readyz 503; reading goes on")
    func lowSpace() async throws {
        // A minimum of about 2 PB: no filesystem here has that much free, so the real statvfs says low.
        let server = try await startSuiteWithAlice(
            name: "low-space", hostname: "storage.estafeta.test", token: Self.token,
            options: ["--database-min-free-megabytes", "2000000000"])
        defer { server.removeDirectory() }
        let checks = try await PythonClient.run(
            "storage_checks.py",
            [
                "low", String(server.ports["smtp"] ?? 0), String(server.ports["imaps"] ?? 0), String(server.ports["ops"] ?? 0),
                String(server.ports["admin"] ?? 0), server.certificatePath,
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
    }

    @Test(
        "a full disk: 452 4.3.1, every message answered 250 is kept, and delivered once there is room again",
        .enabled(if: getuid() == 0, "mounts a small tmpfs (root only; CI runs as root)"))
    func fullDisk() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-full-\(UUID().uuidString)")
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let mount = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"), ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", data.path]
        ).finish(timeout: .seconds(20))
        try #require(mount.status == 0, "\(mount.output)\(mount.errors)")
        defer {
            // Unmounted before the directory is removed (a defer cannot await: a blocking wait).
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            unmount.arguments = ["umount", "-l", data.path]
            if (try? unmount.run()) != nil { unmount.waitUntilExit() }
            try? FileManager.default.removeItem(at: directory)
        }
        let server = try RunningServer(
            "estafeta",
            arguments: [
                "serve", "--hostname", "storage.estafeta.test", "--relay-poll-interval-ms", "100", "--database-min-free-megabytes", "0",
                "--relay-retry-initial-seconds", "1", "--relay-retry-maximum-seconds", "1",
                // A delivery whose outcome could not be written for lack of space keeps its lease until
                // it expires, then is retried: short here, so the test need not wait ten minutes.
                "--relay-lease-seconds", "3",
            ] + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token], directory: directory, name: "full")
        try await server.waitUntilReady()
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/domains", #"{"name":"example.org"}"#).status == 201)
        #expect(try await admin(
            server, token: Self.token, "POST", "/api/v1/accounts", #"{"address":"alice@example.org","password":"correct horse battery"}"#
        ).status == 201)

        let fill = try await PythonClient.run("storage_checks.py", ["fill", String(server.ports["smtp"] ?? 0), server.certificatePath])
        #expect(fill.status == 0 && fill.output.contains("all checks passed"), "\(fill.output)\n\(server.log)")
        let accepted = fill.output.split(separator: "\n").first { $0.hasPrefix("accepted ") }.flatMap { Int($0.dropFirst(9)) } ?? -1
        // The process is still healthy while the disk is full.
        #expect(try await curl(["http://127.0.0.1:\(server.ports["ops"] ?? 0)/healthz"]).status == 200)

        // Room again: every accepted message reaches the INBOX, none twice.
        let grow = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"), ["mount", "-o", "remount,size=64m", data.path]).finish(timeout: .seconds(20))
        #expect(grow.status == 0)
        let store = try MailStore.open(settings: MailStoreSettings(path: server.databasePath), logger: Logger(label: "test"))
        var delivered: [String] = []
        try await eventually("every accepted message is in the INBOX", timeout: .seconds(60)) {
            delivered = try await inboxContents(store, "alice@example.org")
            return delivered.count >= accepted
        }
        #expect(delivered.count == accepted, "\(delivered.count) delivered, \(accepted) accepted")
        #expect(Set(delivered.compactMap { $0.components(separatedBy: "number ").last }).count == accepted)
        #expect(try await server.stop().status == 0)
    }

    @Test("a damaged database is refused at start with a clear message; check-db reports it; a sound one checks ok")
    func damagedDatabase() async throws {
        let server = try await startSuiteWithAlice(name: "damaged", hostname: "storage.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        #expect(try await server.stop().status == 0)
        let database = ["--database-path", server.databasePath]
        let sound = try await self.run("estafeta", ["check-db"] + database)
        #expect(sound.status == 0 && sound.output.contains(": ok"), "\(sound.output)")

        // Zeros over the middle pages of the file (its header and schema stay readable).
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: server.databasePath))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2 - size / 8)
        handle.write(Data(count: Int(size / 4)))
        try handle.close()

        let start = try await self.run("estafeta", ["serve"] + database + RunningServer.loopbackListeners)
        #expect(start.status != 0 && start.output.contains("damaged"), "\(start.output)")
        let check = try await self.run("estafeta", ["check-db"] + database)
        #expect(check.status == 1 && check.output.contains("is damaged"), "\(check.output)")
    }

    @Test("kill -9 in the middle of migrating a file from an older version: the next start completes the migration, nothing lost")
    func killedDuringMigration() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-migrate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("estafeta.sqlite").path
        // A file from before the header table, with 3,000 messages of 64 KiB: upgrading it rewrites the
        // file once (incremental vacuum) and reads every message (the header table), which takes a while.
        try MailStoreMigrator.writeEarlierFile(
            at: path, migratedUpTo: "2026-11-27 IMAP recent floor",
            then: """
                INSERT INTO domain(name, createdAt) VALUES ('example.org', CURRENT_TIMESTAMP);
                INSERT INTO account(domainId, address, localPart, passwordHash, createdAt, updatedAt)
                    VALUES (1, 'alice@example.org', 'alice', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
                INSERT INTO mailbox(accountId, name, uidValidity, uidNext, createdAt) VALUES (1, 'INBOX', 7, 3001, CURRENT_TIMESTAMP);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
                INSERT INTO messageBlob(id, content, size, createdAt)
                    SELECT i, CAST('Subject: message ' || i || char(13, 10, 13, 10) AS BLOB) || randomblob(65536), 0, CURRENT_TIMESTAMP FROM n;
                UPDATE messageBlob SET size = length(content);
                INSERT INTO mailboxMessage(mailboxId, uid, messageBlobId, size, internalDate, modSeq)
                    SELECT 1, id, id, size, CURRENT_TIMESTAMP, 2 FROM messageBlob;
                """)
        let migrate = try ChildProcess.start(BuiltProducts.executable("estafeta"), ["migrate", "--database-path", path])
        // Killed once it is writing (its write-ahead log past 4 MB), whatever the machine's speed.
        func walSize() -> Int { ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int) ?? 0 }
        for _ in 0..<2000 where migrate.process.isRunning && walSize() < 4 << 20 {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(migrate.process.isRunning, "the migration finished before it could be interrupted; make the file larger")
        migrate.process.kill()
        _ = try await migrate.finish(timeout: .seconds(10))
        // The interrupted run left the older version (each migration is one transaction).
        let applied = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from grdb_migrations where identifier = '2026-12-03 content in chunks'\").fetchone()[0])",
                path,
            ]
        ).finish()
        #expect(applied.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(applied.output)\(applied.errors)")

        let rerun = try await self.run("estafeta", ["migrate", "--database-path", path])
        #expect(rerun.status == 0, "\(rerun.output)")
        let store = try MailStore.open(settings: MailStoreSettings(path: path), logger: Logger(label: "test"))
        #expect(try await store.integrityCheck() == [])
        #expect(try await store.storedContents().count == 3000)
        let alice = try await store.account(try EmailAddress(parsing: "alice@example.org"))
        let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
        let headers = try await store.messagesWithContent(in: inbox.id, uids: 1...3000, content: .header)
        #expect(headers.count == 3000)
        #expect(headers.allSatisfy { $0.content == Data("Subject: message \($0.message.uid)\r\n\r\n".utf8) })
        #expect(try await store.mailboxStatus(inbox.id).messages == 3000)
    }
}
