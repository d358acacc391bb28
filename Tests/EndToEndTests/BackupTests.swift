import Foundation
import Logging
import MailStore
import Testing
import TestSupport

/// `estafeta backup PATH` against a live suite that is receiving mail meanwhile.
@Suite("estafeta backup", .serialized)
struct BackupTests {
    static let token = "backup-e2e-token-" + String(repeating: "b", count: 32)

    func backup(_ server: RunningServer, to path: String) async throws -> (status: Int32, output: String) {
        let result = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"), ["backup", path, "--database-path", server.databasePath]
        ).finish(timeout: .seconds(60))
        return (result.status, result.output + result.errors)
    }

    func inboxCount(_ path: String) async throws -> Int {
        let store = try MailStore.open(settings: MailStoreSettings(path: path), logger: Logger(label: "backup"))
        return try await inboxContents(store, "alice@example.org").count
    }

    @Test("a backup taken while mail arrives is a whole, consistent database; a later one has every message; an existing file is never overwritten")
    func backupWhileServing() async throws {
        let server = try await startSuiteWithAlice(name: "backup", hostname: "backup.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        let messages = 150
        let sender = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import smtplib, sys
                mx = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
                for n in range(int(sys.argv[2])):
                    mx.sendmail("carol@remote.test", ["alice@example.org"], f"Subject: number {n}\\r\\n\\r\\n" + "body line\\r\\n" * 200)
                mx.quit()
                print("sent")
                """, String(server.ports["smtp"] ?? 0), String(messages),
            ])
        let live = try MailStore.open(settings: MailStoreSettings(path: server.databasePath), logger: Logger(label: "live"))
        try await eventually("some messages are in") { try await inboxContents(live, "alice@example.org").count >= 5 }

        // While the sender and the delivery worker keep writing.
        let during = server.directory.appendingPathComponent("during.sqlite").path
        let first = try await self.backup(server, to: during)
        #expect(first.status == 0 && first.output.contains("backed up"), "\(first.output)")
        let sent = try await sender.finish()
        #expect(sent.output.contains("sent"), "\(sent.output)\(sent.errors)")
        let copied = try await self.inboxCount(during)
        #expect(copied >= 5 && copied <= messages, "\(copied)")

        try await eventually("every message is delivered") { try await inboxContents(live, "alice@example.org").count == messages }
        let after = server.directory.appendingPathComponent("after.sqlite").path
        #expect(try await self.backup(server, to: after).status == 0)
        #expect(try await self.inboxCount(after) == messages)

        // An existing file is left alone, and no partial file stays behind.
        let again = try await self.backup(server, to: during)
        #expect(again.status != 0 && again.output.contains("already exists"), "\(again.output)")
        #expect(!FileManager.default.fileExists(atPath: during + ".partial"))
        #expect(try await server.stop().status == 0)
    }
}
