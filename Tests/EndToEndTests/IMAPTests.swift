import Foundation
import Testing
import TestSupport

/// The IMAP gateway with clients nobody here wrote: Python's imaplib (STARTTLS and IMAPS) and curl, on
/// mail that arrived through SMTP and the delivery worker, beside POP3 on the same INBOX.
@Suite("IMAP gateway end to end", .serialized)
struct IMAPTests {
    static let token = "imap-e2e-token-" + String(repeating: "i", count: 32)

    @Test("imaplib over STARTTLS and IMAPS: LIST, CREATE, RENAME, DELETE, SELECT, FETCH, SEARCH, STORE, COPY, MOVE, EXPUNGE, APPEND, STATUS, IDLE; two sessions and POP3 see each other; bad input; curl imaps://")
    func clients() async throws {
        let server = try await startSuiteWithAlice(
            name: "imap", hostname: "imap.estafeta.test", token: Self.token, options: ["--imap-max-connections-per-user", "6"])
        defer { server.removeDirectory() }

        let checks = try await PythonClient.run(
            "imap_checks.py",
            [
                String(server.ports["smtp"] ?? 0), String(server.ports["imap"] ?? 0), String(server.ports["imaps"] ?? 0),
                String(server.ports["pop3s"] ?? 0), server.certificatePath,
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")

        // curl: the mailbox list over STARTTLS (required), then one message over implicit TLS.
        let credentials = ["--cacert", server.certificatePath, "-u", "alice@example.org:correct horse battery"]
        let listing = try await curl(credentials + ["--ssl-reqd", "imap://localhost:\(server.ports["imap"] ?? 0)/"])
        #expect(listing.body.contains("Drafts") && listing.body.contains("INBOX"), "\(listing)")
        let message = try await curl(credentials + ["imaps://localhost:\(server.ports["imaps"] ?? 0)/Old-Inbox;MAILINDEX=1"])
        #expect(message.body.contains("Subject: tricky"), "\(message.body)")
        #expect(try await server.stop().status == 0)
    }

    /// imaplib against the suite's IMAPS port: APPEND (prints "UIDVALIDITY UID"), or look (prints
    /// "UIDVALIDITY UIDNEXT" and whether UID's content is the appended message).
    static let appendScript = """
        import imaplib, ssl, sys
        port, cafile, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        context = ssl.create_default_context(cafile=cafile)
        context.check_hostname = False
        imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=15)
        imap.login("alice@example.org", "correct horse battery")
        message = b"Subject: durable\\r\\n\\r\\nkept across kill -9\\r\\n"
        if mode == "append":
            typ, data = imap.append("INBOX", None, None, message)
            code = data[0].decode().split("APPENDUID ")[1].split("]")[0]
            print(code)  # the tagged OK has arrived; the caller kills the server now
        else:
            imap.select("INBOX")
            validity = imap.response("UIDVALIDITY")[1][0].decode()
            uidnext = imap.response("UIDNEXT")[1][0].decode()
            typ, data = imap.uid("FETCH", sys.argv[4], "(BODY.PEEK[])")
            same = typ == "OK" and isinstance(data[0], tuple) and data[0][1] == message
            print(validity, uidnext, "same" if same else f"different {data!r}")
            imap.logout()
        """

    @Test("EXPUNGE racing deliveries into the same INBOX: every message expunged once marked, or still there; none lost, none twice")
    func expungeRacingDelivery() async throws {
        let server = try await startSuiteWithAlice(name: "imap-race", hostname: "imap.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        let checks = try await PythonClient.run(
            "imap_expunge_race.py", [String(server.ports["smtp"] ?? 0), String(server.ports["imaps"] ?? 0), server.certificatePath])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
    }

    @Test("an APPEND answered OK survives kill -9: the same UID after a restart, UIDNEXT beyond it, UIDVALIDITY unchanged")
    func appendSurvivesKill() async throws {
        let first = try await startSuiteWithAlice(name: "imap-kill", hostname: "imap.estafeta.test", token: Self.token)
        defer { first.removeDirectory() }
        let python = URL(fileURLWithPath: "/usr/bin/env")
        let appended = try await ChildProcess.start(
            python, ["python3", "-c", Self.appendScript, String(first.ports["imaps"] ?? 0), first.certificatePath, "append"]
        ).finish()
        let code = appended.output.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(code.count == 2, "\(appended.output)\(appended.errors)")
        _ = try await first.stop(signal: SIGKILL)

        let second = try RunningServer(
            "estafeta", arguments: ["serve", "--hostname", "imap.estafeta.test"] + RunningServer.loopbackListeners,
            directory: first.directory, name: "imap-kill-again")
        try await second.waitUntilReady()
        let looked = try await ChildProcess.start(
            python,
            ["python3", "-c", Self.appendScript, String(second.ports["imaps"] ?? 0), second.certificatePath, "look", code.last ?? "0"]
        ).finish()
        let seen = looked.output.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(seen.count == 3 && seen[0] == code.first && seen[2] == "same", "\(looked.output)\(looked.errors)")
        #expect((UInt32(seen.count > 1 ? seen[1] : "") ?? 0) > (UInt32(code.last ?? "") ?? UInt32.max), "\(seen) \(code)")
        #expect(try await second.stop().status == 0)
    }

    @Test("kill -9 during a MOVE of 300 messages and an APPEND cut off in its literal: all or nothing, no UID handed out twice")
    func moveAndAppendSurviveKill() async throws {
        let first = try await startSuiteWithAlice(name: "imap-kill-move", hostname: "imap.estafeta.test", token: Self.token)
        defer { first.removeDirectory() }
        let port = String(first.ports["imaps"] ?? 0)
        let prepared = try await PythonClient.run("imap_kill_steps.py", ["prepare", port, first.certificatePath])
        #expect(prepared.status == 0 && prepared.output.contains("ready"), "\(prepared.output)")

        let marker = first.directory.appendingPathComponent("interrupt.sent")
        let interrupt = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", PythonClient.clientsDirectory.appendingPathComponent("imap_kill_steps.py").path, "interrupt", port,
             first.certificatePath, marker.path])
        try await eventually("the MOVE and the APPEND are on their way") { FileManager.default.fileExists(atPath: marker.path) }
        _ = try await first.stop(signal: SIGKILL)
        _ = try await interrupt.finish(timeout: .seconds(60))

        let second = try RunningServer(
            "estafeta", arguments: ["serve", "--hostname", "imap.estafeta.test"] + RunningServer.loopbackListeners,
            directory: first.directory, name: "imap-kill-move-again")
        try await second.waitUntilReady()
        let checked = try await PythonClient.run(
            "imap_kill_steps.py", ["check", String(second.ports["imaps"] ?? 0), second.certificatePath])
        #expect(checked.status == 0 && checked.output.contains("all checks passed"), "\(checked.output)\n\(second.log)")
        #expect(try await second.stop().status == 0)
    }

    @Test("20 sessions in IDLE while 12 MB arrive: they hear every message and the WAL stays bounded")
    func idleKeepsWALBounded() async throws {
        try await self.passes("imap_idle_wal.py", options: ["--imap-max-connections-per-user", "30"]) { server in
            [String(server.ports["imaps"] ?? 0), server.certificatePath, server.databasePath]
        }
    }

    @Test("FETCH 1:* BODY.PEEK[] of 60 × 1 MB is streamed: the server waits for a client that does not read, and its memory stays bounded")
    func largeFetchIsStreamed() async throws {
        try await self.passes("imap_fetch_memory.py") { server in
            [String(server.ports["imaps"] ?? 0), server.certificatePath, String(server.process.processIdentifier)]
        }
    }

    @Test("FETCH and SEARCH answer the same whichever way they are taken (on the spot or by the session; from the selection or the store; one header field parsed or all); flag changes, \\Seen and held-back expunges still go through the session")
    func fetchPathsAgree() async throws {
        try await self.passes("imap_fetch_paths.py") { server in [String(server.ports["imaps"] ?? 0), server.certificatePath] }
    }

    @Test("a message held whole and one read a piece at a time get the same FETCH answers (structure, parts, sections, BINARY), and taking a 17 MB message apart keeps the streaming gateway's memory far below its size")
    func largeMessagesAnswerAlike() async throws {
        // The suite holds every message whole; a second gateway on its database reads every one in pieces.
        let server = try await startSuiteWithAlice(
            name: "imap-large-paths", hostname: "imap.estafeta.test", token: Self.token,
            options: ["--imap-streamed-message-bytes", "104857600"])
        defer { server.removeDirectory() }
        let streaming = try RunningServer(
            "estafeta-imap", arguments: RunningServer.loopbackListeners + ["--imap-streamed-message-bytes", "0"],
            directory: server.directory, name: "imap-streaming")
        try await streaming.waitUntilReady()
        let checks = try await PythonClient.run(
            "imap_large_paths.py",
            [
                String(server.ports["imaps"] ?? 0), String(streaming.ports["imaps"] ?? 0), String(streaming.process.processIdentifier),
                server.certificatePath,
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(streaming.log)")
        #expect(try await streaming.stop().status == 0)
        #expect(try await server.stop().status == 0)
    }

    @Test("APPEND and COPY that would take the account over its quota get NO [OVERQUOTA] and change nothing; MOVE adds nothing and works; with room again COPY works")
    func quota() async throws {
        try await self.passes("imap_quota.py") { server in
            [String(server.ports["imaps"] ?? 0), server.certificatePath, String(server.ports["admin"] ?? 0), Self.token]
        }
    }

    /// Runs a client script against a fresh suite with alice (arguments made from the running server):
    /// it must pass all its checks, and the suite must then stop cleanly.
    private func passes(_ script: String, options: [String] = [], _ arguments: (RunningServer) -> [String]) async throws {
        let server = try await startSuiteWithAlice(
            name: "imap-" + script.replacingOccurrences(of: ".py", with: ""), hostname: "imap.estafeta.test", token: Self.token,
            options: options)
        defer { server.removeDirectory() }
        let checks = try await PythonClient.run(script, arguments(server))
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
    }

    @Test("mbsync (isync) copies a whole account to a Maildir, syncs changes both ways, and moves it into another account unchanged")
    func mbsyncRoundTrip() async throws {
        let server = try await startSuiteWithAlice(name: "imap-mbsync", hostname: "imap.estafeta.test", token: Self.token)
        defer { server.removeDirectory() }
        let bob = try await admin(
            server, token: Self.token, "POST", "/api/v1/accounts", #"{"address":"bob@example.org","password":"correct horse battery"}"#)
        #expect(bob.status == 201, "\(bob.body)")
        let checks = try await PythonClient.run(
            "mbsync_roundtrip.py",
            [String(server.ports["imaps"] ?? 0), server.certificatePath, server.directory.appendingPathComponent("mbsync").path])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
    }

    @Test("offlineimap3 copies a whole account to a Maildir, keywords included, and syncs changes both ways")
    func offlineimapRoundTrip() async throws {
        try await self.passes("offlineimap_roundtrip.py") { server in
            [String(server.ports["imaps"] ?? 0), server.certificatePath, server.directory.appendingPathComponent("offlineimap").path]
        }
    }
}
