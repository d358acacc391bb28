import Foundation
import Logging
import MailFormat
import MailStore
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

    func exportCommand(_ arguments: [String], server: RunningServer) async throws -> (status: Int32, output: String) {
        let result = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"), ["export"] + arguments + ["--database-path", server.databasePath]
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

    @Test("a Dovecot account moves in (the user with the same password and quota, the mail with the same UIDVALIDITY, UIDs, flags, keywords, dates and content; run again, nothing is added) and out again: exported, Dovecot serves it the same; and as mbox")
    func dovecotMaildir() async throws {
        let dovecot = try await DovecotServer.start(users: ["bob": "dovecot password", "carol": "carol password"])
        defer { dovecot.stop() }
        let filled = try await PythonClient.run("imap_account_snapshot.py", ["fill", String(dovecot.imapPort), "bob", "dovecot password"])
        #expect(filled.status == 0, "\(filled.output)")
        let before = try await self.snapshot(port: dovecot.imapPort, user: "bob", password: "dovecot password")
        #expect(before.count == 6, "\(before.keys.sorted())")
        // A client synchronises against Dovecot first (mbsync keeps each folder's UIDVALIDITY and UIDs).
        let client = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-mbsync-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: client) }
        let first = try await PythonClient.run(
            "mbsync_switch.py", [client.path, "first", String(dovecot.imapPort), "bob", "dovecot password"])
        #expect(first.status == 0 && first.output.contains("downloaded 54"), "\(first.output)")

        let server = try await startSuiteWithAlice(name: "import", hostname: "import.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        // Users first: bob keeps his password (Dovecot's SHA512-CRYPT hash) and his quota.
        let users = try await self.importCommand(["dovecot-users", "--passwd-file", dovecot.passwdFile.path, "--domain", "example.org"], server: server)
        #expect(users.status == 0 && users.output.contains("done: 2 accounts made, 0 there already"), "\(users.output)")
        let bob = try await admin(server, token: Self.token, "GET", "/api/v1/accounts/bob@example.org")
        #expect(bob.status == 200 && bob.body.contains(#""quotaBytes":104857600"#), "\(bob.body)")
        let maildir = dovecot.maildir("bob").path
        let firstRun = try await self.importCommand(["dovecot", "--maildir", maildir, "--account", "bob@example.org"], server: server)
        #expect(firstRun.status == 0, "\(firstRun.output)")
        #expect(firstRun.output.contains("done: "), "\(firstRun.output)")

        var after = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "bob@example.org", password: "dovecot password")
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
        // The same client, pointed at Estafeta, finds nothing to download.
        let certificate = server.directory.appendingPathComponent("data/tls/self-signed/certificate.pem").path
        let second = try await PythonClient.run(
            "mbsync_switch.py", [client.path, "second", String(server.ports["imaps"] ?? 0), "bob@example.org", "dovecot password", certificate])
        #expect(second.status == 0 && second.output.contains("again 54"), "\(second.output)")
        // Mailboxes the new account had beside them hold nothing.
        for (name, value) in after where before[name] == nil {
            #expect(((value as? [String: Any])?["messages"] as? [Any])?.isEmpty == true, "\(name)")
        }

        // Run again: everything is there already, nothing is added.
        let again = try await self.importCommand(["dovecot", "--maildir", maildir, "--account", "bob@example.org"], server: server)
        #expect(again.status == 0 && again.output.contains(": 0 messages,"), "\(again.output)")
        let afterAgain = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "bob@example.org", password: "dovecot password")
        #expect(NSDictionary(dictionary: afterAgain).isEqual(to: after))
        let usersAgain = try await self.importCommand(["dovecot-users", "--passwd-file", dovecot.passwdFile.path, "--domain", "example.org"], server: server)
        #expect(usersAgain.status == 0 && usersAgain.output.contains("done: 0 accounts made, 2 there already"), "\(usersAgain.output)")

        // Bob goes on using Dovecot before the switch: flags and a keyword changed, a message expunged. A run
        // again finds the changes and leaves Estafeta as it was; with --update it makes them here too.
        let changed = try await PythonClient.run("imap_account_snapshot.py", ["change", String(dovecot.imapPort), "bob", "dovecot password"])
        #expect(changed.status == 0, "\(changed.output)")
        let dovecotNow = try await self.snapshot(port: dovecot.imapPort, user: "bob", password: "dovecot password")
        let found = try await self.importCommand(["dovecot", "--maildir", maildir, "--account", "bob@example.org"], server: server)
        #expect(found.status == 0 && found.output.contains("3 messages' flags, 1 messages expunged; not changed here"), "\(found.output)")
        let unchanged = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "bob@example.org", password: "dovecot password")
        #expect(NSDictionary(dictionary: unchanged).isEqual(to: after))
        let updated = try await self.importCommand(["dovecot", "--maildir", maildir, "--account", "bob@example.org", "--update"], server: server)
        #expect(updated.status == 0 && updated.output.contains("3 messages' flags, 1 messages expunged; made the same here"), "\(updated.output)")
        let afterUpdate = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "bob@example.org", password: "dovecot password")
        for (name, value) in dovecotNow {
            #expect(try Self.canonical(value) == Self.canonical(afterUpdate[name] ?? ""), "\(name) after --update")
        }
        after = afterUpdate

        // And back: bob's mail exported over the admin API as a tar archive of a Maildir, unpacked by GNU
        // tar, becomes carol's in Dovecot, which serves it exactly as Estafeta did (the mailboxes the account
        // was made with included). The archive holds what `estafeta export dovecot` writes, file for file.
        let archive = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-export-\(UUID().uuidString).tar")
        defer { try? FileManager.default.removeItem(at: archive) }
        let download = try await curl([
            "-H", "Authorization: Bearer \(Self.token)", "-o", archive.path, "-D", "-",
            "http://127.0.0.1:\(server.ports["admin"] ?? 0)/api/v1/accounts/bob@example.org/export",
        ])
        #expect(download.status == 200 && download.body.lowercased().contains("content-type: application/x-tar"), "\(download.body)")
        let carolHome = dovecot.maildir("carol").deletingLastPathComponent()
        try FileManager.default.createDirectory(at: carolHome, withIntermediateDirectories: true)
        let unpacked = try await ChildProcess.start(URL(fileURLWithPath: "/usr/bin/env"), ["tar", "-x", "-f", archive.path, "-C", carolHome.path])
            .finish(timeout: .seconds(60))
        #expect(unpacked.status == 0, "\(unpacked.errors)")
        let viaCommand = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: viaCommand) }
        let exported = try await self.exportCommand(["dovecot", "--account", "bob@example.org", "--to", viaCommand.path], server: server)
        #expect(exported.status == 0 && exported.output.contains("done: "), "\(exported.output)")
        let compared = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"), ["diff", "-r", viaCommand.path, dovecot.maildir("carol").path]
        ).finish(timeout: .seconds(60))
        #expect(compared.status == 0, "\(compared.output)")
        // A read token may list the account but not take its mail; the export is in the audit log.
        let made = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"), ["token", "create", "--read-only", "--database-path", server.databasePath]
        ).finish()
        let readToken = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await admin(server, token: readToken, "GET", "/api/v1/accounts/bob@example.org").status == 200)
        let refused = try await admin(server, token: readToken, "GET", "/api/v1/accounts/bob@example.org/export")
        #expect(refused.status == 403 && refused.body.contains("insufficient-scope"), "\(refused.body)")
        let audit = try await admin(server, token: Self.token, "GET", "/api/v1/audit?limit=500")
        #expect(audit.body.components(separatedBy: #""action":"account.export""#).count == 2, "\(audit.body)")
        // Each run is on record with its counts: the import, the run that found everything there, the
        // download, the command's export.
        let transfers = try await admin(server, token: Self.token, "GET", "/api/v1/transfers")
        let items = (try JSONSerialization.jsonObject(with: Data(transfers.body.utf8)) as? [String: Any])?["items"] as? [[String: Any]] ?? []
        let summary = items.map { "\($0["kind"] ?? "") \($0["state"] ?? "") \($0["messages"] ?? "") \($0["alreadyThere"] ?? "")" }
        #expect(summary == [
            "import dovecot finished 54 0", "import dovecot finished 0 54", "import dovecot finished 0 53", "import dovecot finished 0 53",
            "export tar finished 53 0", "export dovecot finished 53 0",
        ], "\(transfers.body)")
        try await dovecot.giveToMailUser(dovecot.maildir("carol").deletingLastPathComponent())
        let roundTrip = try await self.snapshot(port: dovecot.imapPort, user: "carol", password: "carol password")
        #expect(NSDictionary(dictionary: roundTrip).isEqual(to: after), "Dovecot: \(roundTrip.keys.sorted()), Estafeta: \(after.keys.sorted())")
        for (name, value) in after {
            let mine = value as? [String: Any] ?? [:]
            let theirs = roundTrip[name] as? [String: Any] ?? [:]
            for key in ["uidvalidity", "uidnext", "subscribed"] {
                #expect("\(theirs[key] ?? "missing")" == "\(mine[key] ?? "")", "round trip \(name) \(key)")
            }
            #expect(NSArray(array: theirs["messages"] as? [Any] ?? []).isEqual(to: mine["messages"] as? [Any] ?? [""]), "round trip \(name) messages")
        }
        // As mbox files, read back by Python's mailbox module: as many messages per mailbox.
        let mboxDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: mboxDirectory) }
        let mboxes = try await self.exportCommand(["mbox", "--account", "bob@example.org", "--to", mboxDirectory.path], server: server)
        #expect(mboxes.status == 0, "\(mboxes.output)")
        // (File names are the mailbox names in UTF-8; the snapshot has them as IMAP sends them.)
        let total = after.values.reduce(0) { $0 + (((($1 as? [String: Any])?["messages"]) as? [Any])?.count ?? 0) }
        let read = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", "-c",
             "import glob, mailbox, sys; files = glob.glob(sys.argv[1] + '/**/*.mbox', recursive=True); "
                + "print(len(files), sum(len(mailbox.mbox(f, create=False)) for f in files))",
             mboxDirectory.path]
        ).finish(timeout: .seconds(30))
        #expect(read.output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(after.count) \(total)", "\(read.output) \(read.errors)")
        #expect(try await server.stop().status == 0)
    }

    @Test("folder names with dots, backslashes and a leading tilde (Dovecot's listescape plugin), in Maildir++ and in LAYOUT=fs directories, move in and out unchanged")
    func dovecotFolderNames() async throws {
        let dovecot = try await DovecotServer.start(
            users: ["dots": "dots password", "tree": "tree password", "back": "back password"], listescape: true, fsLayout: ["tree"])
        defer { dovecot.stop() }
        // `Projects` of `Projects/2025.Q1` is never made: Dovecot lists it as \Noselect, with nothing to compare.
        let folders = ["v1.2", "v1.2/notes", "Projects/2025.Q1", #"a\b"#, #"x\41"#, "~home", "Rép. été"]
        var before: [String: [String: Any]] = [:]
        for (user, password) in [("dots", "dots password"), ("tree", "tree password")] {
            let filled = try await PythonClient.run("imap_account_snapshot.py", ["fill", String(dovecot.imapPort), user, password] + folders)
            #expect(filled.status == 0, "\(filled.output)")
            before[user] = try await self.snapshot(port: dovecot.imapPort, user: user, password: password)
            #expect(before[user]?.count == folders.count + 1, "\(before[user]?.keys.sorted() ?? [])")
        }
        // The directories Dovecot made: escapes in both layouts, dots as levels only in Maildir++.
        let dotsEntries = try FileManager.default.contentsOfDirectory(atPath: dovecot.maildir("dots").path)
        #expect(dotsEntries.contains(#".v1\2e2.notes"#) && dotsEntries.contains(#".\7ehome"#), "\(dotsEntries.sorted())")
        let treeEntries = try FileManager.default.contentsOfDirectory(atPath: dovecot.maildir("tree").path)
        #expect(treeEntries.contains("v1.2") && treeEntries.contains(#"\7ehome"#), "\(treeEntries.sorted())")

        let server = try await startSuiteWithAlice(name: "import-names", hostname: "import.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        let users = try await self.importCommand(["dovecot-users", "--passwd-file", dovecot.passwdFile.path, "--domain", "example.org"], server: server)
        #expect(users.status == 0, "\(users.output)")
        for (user, password, layout) in [("dots", "dots password", "maildir++"), ("tree", "tree password", "fs")] {
            let run = try await self.importCommand(
                ["dovecot", "--maildir", dovecot.maildir(user).path, "--account", "\(user)@example.org", "--layout", layout], server: server)
            #expect(run.status == 0 && run.output.contains("done: "), "\(run.output)")
            let here = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "\(user)@example.org", password: password)
            for (name, value) in before[user] ?? [:] {
                #expect(try Self.canonical(value) == Self.canonical(here[name] ?? "missing"), "\(user) \(name)")
            }
        }

        // Out again into a Maildir++ Dovecot user: the names written with the plugin's escapes, so Dovecot
        // lists the same folders with the same mail.
        let exported = dovecot.maildir("back")
        let export = try await self.exportCommand(["dovecot", "--account", "tree@example.org", "--to", exported.path], server: server)
        #expect(export.status == 0 && export.output.contains("written with escapes"), "\(export.output)")
        try await dovecot.giveToMailUser(exported.deletingLastPathComponent())
        let backEntries = try FileManager.default.contentsOfDirectory(atPath: exported.path)
        #expect(backEntries.contains(#".v1\2e2.notes"#) && backEntries.contains(#".x\5c41"#) && backEntries.contains(#".a\5cb"#), "\(backEntries.sorted())")
        let here = try await self.snapshot(port: server.ports["imap"] ?? 0, user: "tree@example.org", password: "tree password")
        let back = try await self.snapshot(port: dovecot.imapPort, user: "back", password: "back password")
        #expect(try Self.canonical(back) == Self.canonical(here), "Dovecot: \(back.keys.sorted()), Estafeta: \(here.keys.sorted())")
        #expect(try await server.stop().status == 0)
    }

    /// JSON with sorted keys, to compare and show snapshot parts.
    static func canonical(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    func write(_ text: String, to path: URL, modified: Date? = nil) throws {
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: path)
        if let modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path.path) }
    }

    @Test("hostile Maildirs: a broken uidlist stops the import naming the file (or is reported and passed over); a uidlist that disagrees with the files, a truncated file, an odd folder name; a folder without a uidlist is numbered in file order")
    func hostileMaildir() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-maildir-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        // INBOX from another server: no uidlist, bare-LF files, one in new/.
        let day = Date(timeIntervalSince1970: 1_700_000_000)
        try self.write("Subject: first\n\nbody\n", to: root.appendingPathComponent("cur/1700000001.M1.host:2,S"), modified: day)
        try self.write("Subject: second\n\nbody\n", to: root.appendingPathComponent("cur/1700000002.M2.host:2,FT"), modified: day)
        try self.write("Subject: third\n\nbody\n", to: root.appendingPathComponent("new/1700000003.M3.host"), modified: day)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        // A folder whose uidlist disagrees with its files (one listed file is gone, one file is not
        // listed), with a name in modified UTF-7 and a space; a file cut off in the middle of its header.
        let odd = root.appendingPathComponent(".Caf&AOk- menu")
        try self.write("Subject: listed\n\nx\n", to: odd.appendingPathComponent("cur/100.M1.host:2,S"), modified: day)
        try self.write("Subject: cut off in the mid", to: odd.appendingPathComponent("cur/102.M3.host:2,"), modified: day)
        try self.write("3 V77 N9\n4 :100.M1.host\n6 :101.M2.host\n", to: odd.appendingPathComponent("dovecot-uidlist"))
        // A folder whose uidlist goes backwards.
        let broken = root.appendingPathComponent(".Broken")
        try self.write("x\n", to: broken.appendingPathComponent("cur/1.M1.host:2,"))
        try self.write("3 V5 N9\n3 :1.M1.host\n2 :2.M2.host\n", to: broken.appendingPathComponent("dovecot-uidlist"))

        let server = try await startSuiteWithAlice(name: "import-hostile", hostname: "import.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        let stopped = try await self.importCommand(["dovecot", "--maildir", root.path, "--account", "alice@example.org"], server: server)
        #expect(stopped.status == 1, "\(stopped.output)")
        #expect(stopped.output.contains(".Broken/dovecot-uidlist") && stopped.output.contains("line 3"), "\(stopped.output)")
        let passed = try await self.importCommand(
            ["dovecot", "--maildir", root.path, "--account", "alice@example.org", "--continue-on-error"], server: server)
        #expect(passed.status == 1 && passed.output.contains("1 problems") && passed.output.contains(".Broken/dovecot-uidlist"), "\(passed.output)")
        let store = try MailStore.open(settings: MailStoreSettings(path: server.databasePath), logger: Logger(label: "import"))
        // The run that stopped is on record as failed, naming the file; the one that went on, with its problem.
        let runs = try await store.transfers()
        #expect(runs.map(\.state) == [.failed, .finished] && runs.map(\.counts.problems) == [0, 1], "\(runs)")
        #expect(runs.allSatisfy { $0.detail?.contains(".Broken/dovecot-uidlist") == true }, "\(runs)")
        let contents = try await inboxContents(store, "alice@example.org")
        #expect(contents == ["Subject: first\r\n\r\nbody\r\n", "Subject: second\r\n\r\nbody\r\n", "Subject: third\r\n\r\nbody\r\n"], "\(contents)")
        let alice = try await store.account(try EmailAddress(parsing: "alice@example.org"))
        let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
        let messages = try await store.messages(in: inbox.id)
        #expect(messages.map(\.flags) == [["\\Seen"], ["\\Flagged", "\\Deleted"], []])
        #expect(messages.allSatisfy { $0.internalDate == day })
        let cafe = try await store.mailbox(named: "Café menu", of: alice.id)
        #expect(cafe.uidValidity == 77 && cafe.uidNext == 10)
        let cafeMessages = try await store.messages(in: cafe.id)
        // The listed file keeps UID 4; the unlisted one follows the list's next UID; the one listed without a file is counted.
        #expect(cafeMessages.map(\.uid) == [4, 9], "\(cafeMessages.map(\.uid))")
        #expect(try await store.messageContent(in: cafe.id, uid: 9).map { String(decoding: $0, as: UTF8.self) } == "Subject: cut off in the mid")
        #expect(stopped.output.contains("1 listed without a file") || passed.output.contains("1 listed without a file"), "\(passed.output)")
        #expect(try await server.stop().status == 0)
    }

    @Test("mbox: messages split at From lines, unquoted, dated and flagged from the file; the quota respected only when asked; a file that is no mbox is refused with its name")
    func mbox() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-mbox-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("old.mbox")
        try self.write(
            """
            From alice@example.org Thu Nov 26 10:00:00 2026
            Subject: one
            Status: RO

            >From the body.

            From bob@example.org Fri Nov 27 11:30:05 2026
            Subject: two
            X-Status: F

            second

            """, to: file)
        let server = try await startSuiteWithAlice(name: "import-mbox", hostname: "import.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        // Asked to respect a quota the mail does not fit in, it stops; by default it files past it.
        #expect(try await admin(server, token: Self.token, "PATCH", "/api/v1/accounts/alice@example.org", #"{"quotaBytes":50}"#).status == 200)
        let refused = try await self.importCommand(
            ["mbox", "--file", file.path, "--account", "alice@example.org", "--mailbox", "Refused", "--respect-quota"], server: server)
        #expect(refused.status == 1 && refused.output.contains("quota"), "\(refused.output)")
        let imported = try await self.importCommand(
            ["mbox", "--file", file.path, "--account", "alice@example.org", "--mailbox", "Old mail"], server: server)
        #expect(imported.status == 0 && imported.output.contains("2 messages"), "\(imported.output)")
        let store = try MailStore.open(settings: MailStoreSettings(path: server.databasePath), logger: Logger(label: "mbox"))
        let alice = try await store.account(try EmailAddress(parsing: "alice@example.org"))
        let old = try await store.mailbox(named: "Old mail", of: alice.id)
        let messages = try await store.messages(in: old.id)
        #expect(messages.map(\.flags) == [["\\Seen"], ["\\Flagged"]])
        #expect(messages.first?.internalDate == Date(timeIntervalSince1970: 1_795_687_200))
        let first = try await store.messageContent(in: old.id, uid: messages.first?.uid ?? 0)
        #expect(first.map { String(decoding: $0, as: UTF8.self) } == "Subject: one\r\n\r\nFrom the body.\r\n")

        // A million lines without a separator: refused at its first line, whatever its size.
        let notMbox = directory.appendingPathComponent("notes.txt")
        try self.write(String(repeating: "just a line of text\n", count: 1_000_000), to: notMbox)
        let notRead = try await self.importCommand(
            ["mbox", "--file", notMbox.path, "--account", "alice@example.org", "--mailbox", "Old mail"], server: server)
        #expect(notRead.status == 1 && notRead.output.contains("notes.txt") && notRead.output.contains("not an mbox"), "\(notRead.output)")
        #expect(try await server.stop().status == 0)
    }
}
