import Foundation
import Testing
import TestSupport

/// `estafeta import dovecot`: an account filled in a real Dovecot over IMAP, imported from its Maildir
/// while the suite runs, then compared over IMAP with what Dovecot serves (UIDVALIDITY, UIDNEXT, UIDs,
/// flags, keywords, received times, content, subscriptions).
@Suite("estafeta import: Dovecot Maildir and mbox", .serialized)
struct DovecotImportTests {
    static let token = "import-e2e-token-" + String(repeating: "i", count: 32)

    func importCommand(_ arguments: [String], server: RunningServer) async throws -> (status: Int32, output: String) {
        let result = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"), ["import"] + arguments + ["--database-path", server.databasePath]
        ).finish(timeout: .seconds(120))
        return (result.status, result.output + result.errors)
    }

    func snapshot(port: Int, user: String, password: String) async throws -> [String: Any] {
        let result = try await PythonClient.run("imap_account_snapshot.py", ["snapshot", String(port), user, password])
        if result.status != 0 { try? result.output.write(toFile: "/tmp/estafeta-snapshot-error.txt", atomically: true, encoding: .utf8) }
        #expect(result.status == 0, "\(result.output)")
        let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") } ?? "{}"
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
    }

    @Test("a Dovecot account moves in with the same UIDVALIDITY, UIDs, flags, keywords, dates and content; run again, nothing is added")
    func dovecotMaildir() async throws {
        let dovecot = try await DovecotServer.start(users: ["bob": "dovecot password"])
        defer { dovecot.stop() }
        let filled = try await PythonClient.run("imap_account_snapshot.py", ["fill", String(dovecot.imapPort), "bob", "dovecot password"])
        #expect(filled.status == 0, "\(filled.output)")
        let before = try await self.snapshot(port: dovecot.imapPort, user: "bob", password: "dovecot password")
        #expect(before.count == 6, "\(before.keys.sorted())")

        let server = try await startSuiteWithAlice(name: "import", hostname: "import.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        let maildir = dovecot.maildir("bob").path
        let imported = try await self.importCommand(["dovecot", "--maildir", maildir, "--account", "alice@example.org"], server: server)
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.contains("done: "), "\(imported.output)")

        let after = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "alice@example.org", password: "correct horse battery")
        for (name, value) in before {
            let want = value as? [String: Any] ?? [:]
            let got = after[name] as? [String: Any] ?? [:]
            for key in ["uidvalidity", "uidnext", "subscribed"] {
                #expect("\(got[key] ?? "missing")" == "\(want[key] ?? "")", "\(name) \(key)")
            }
            let wantMessages = want["messages"] as? [[String: Any]] ?? []
            let gotMessages = got["messages"] as? [[String: Any]] ?? []
            #expect(gotMessages.count == wantMessages.count, "\(name): \(gotMessages.count) messages, Dovecot has \(wantMessages.count)")
            for (mine, theirs) in zip(gotMessages, wantMessages) {
                for key in ["uid", "flags", "date", "sha256"] {
                    #expect("\(mine[key] ?? "")" == "\(theirs[key] ?? "")", "\(name) uid \(theirs["uid"] ?? "") \(key)")
                }
            }
        }
        // Mailboxes the new account had beside them hold nothing.
        for (name, value) in after where before[name] == nil {
            #expect(((value as? [String: Any])?["messages"] as? [Any])?.isEmpty == true, "\(name)")
        }

        // Run again: everything is there already, nothing is added.
        let again = try await self.importCommand(["dovecot", "--maildir", maildir, "--account", "alice@example.org"], server: server)
        #expect(again.status == 0 && again.output.contains(": 0 messages,"), "\(again.output)")
        let afterAgain = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "alice@example.org", password: "correct horse battery")
        #expect(NSDictionary(dictionary: afterAgain).isEqual(to: after))
        #expect(try await server.stop().status == 0)
    }
}
