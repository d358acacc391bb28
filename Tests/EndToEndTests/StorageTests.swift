import Foundation
import Logging
import MailStore
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
}
