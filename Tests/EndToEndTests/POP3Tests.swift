import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The POP3 gateway with clients nobody here wrote: Python's poplib (STLS and POP3S) and curl, on mail
/// that arrived through SMTP and the delivery worker.
@Suite("POP3 gateway end to end", .serialized)
struct POP3Tests {
    static let token = "pop3-e2e-token-" + String(repeating: "p", count: 32)

    private func startSuite(options: [String] = []) async throws -> RunningServer {
        try await startSuiteWithAlice(name: "pop3", hostname: "pop.estafeta.test", token: Self.token, options: options)
    }

    @Test("poplib over STLS and POP3S: STAT, LIST, UIDL, TOP, byte-exact RETR, DELE at QUIT only, [IN-USE], bad input; curl pop3:// and pop3s://")
    func clients() async throws {
        let server = try await self.startSuite()
        defer { server.removeDirectory() }
        let checks = try await PythonClient.run(
            "pop3_checks.py",
            [
                String(server.ports["smtp"] ?? 0), String(server.ports["pop3"] ?? 0), String(server.ports["pop3s"] ?? 0),
                server.certificatePath,
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")

        // curl: the listing over STLS (required), then one message over implicit TLS.
        let credentials = ["--cacert", server.certificatePath, "-u", "alice@example.org:correct horse battery"]
        let listing = try await curl(credentials + ["--ssl-reqd", "pop3://localhost:\(server.ports["pop3"] ?? 0)/"])
        #expect(listing.body.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 3, "\(listing)")
        let message = try await curl(credentials + ["pop3s://localhost:\(server.ports["pop3s"] ?? 0)/1"])
        #expect(message.body.contains("Subject: second"), "\(message.body)")

        // fetchmail: keep mode leaves the messages on the server, the default (delete) mode removes them.
        let mbox = server.directory.appendingPathComponent("fetched.mbox")
        func fetchmail(keep: Bool) async throws -> (status: Int32, output: String) {
            let rcfile = server.directory.appendingPathComponent("fetchmailrc")
            let rc = """
                set no syslog
                poll localhost protocol POP3 port \(server.ports["pop3"] ?? 0)
                  user "alice@example.org" password "correct horse battery" is root here
                  fetchall \(keep ? "keep" : "nokeep") sslcertck sslcertfile "\(server.certificatePath)" sslproto "TLS1.2+"
                  mda "/bin/sh -c 'cat >> \(mbox.path)'"

                """
            try rc.write(to: rcfile, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: rcfile.path)
            let result = try await ChildProcess.start(
                URL(fileURLWithPath: "/usr/bin/env"), ["fetchmail", "-f", rcfile.path, "--nodetach", "--nosyslog"],
                environment: ProcessInfo.processInfo.environment.merging(["HOME": server.directory.path]) { $1 }
            ).finish(timeout: .seconds(60))
            return (result.status, result.output + result.errors)
        }
        func stat() async throws -> String {
            try await PythonClient.run("pop3_steps.py", [String(server.ports["pop3s"] ?? 0), server.certificatePath, "state"]).output
        }
        let kept = try await fetchmail(keep: true)
        #expect(kept.status == 0 && kept.output.contains("3 messages"), "\(kept.output)")
        #expect(try await stat().hasPrefix("count=3"))
        let fetched = try await fetchmail(keep: false)
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(try await stat().hasPrefix("count=0"))
        // Lossy: the tricky message is not UTF-8.
        let delivered = String(decoding: (try? Data(contentsOf: mbox)) ?? Data(), as: UTF8.self)
        #expect(delivered.components(separatedBy: "Subject: tricky").count - 1 == 2, "\(delivered.prefix(2000))")
        #expect(try await server.stop().status == 0)
    }
}

extension POP3Tests {
    @Test("UPDATE is durable before +OK and UIDs survive a restart; a killed process's maildrop lock expires")
    func restarts() async throws {
        let first = try await self.startSuite(options: ["--pop3-lock-seconds", "2"])
        defer { first.removeDirectory() }
        func step(_ server: RunningServer, _ arguments: String...) async throws -> String {
            let result = try await PythonClient.run(
                "pop3_steps.py", [String(server.ports["pop3s"] ?? 0), server.certificatePath] + arguments)
            #expect(result.status == 0, "\(result.output)")
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try await step(first, "send2", String(first.ports["smtp"] ?? 0))
        var before = ""
        try await eventually("both messages are in the INBOX") {
            before = try await step(first, "state")
            return before.hasPrefix("count=2")
        }
        let uids = before.components(separatedBy: "uids=").last?.components(separatedBy: ",") ?? []
        #expect(try await step(first, "delete-first").hasPrefix("+OK"))
        _ = try await first.stop(signal: SIGKILL)

        /// The suite again, on the same database.
        func restart(_ name: String) async throws -> RunningServer {
            let server = try RunningServer(
                "estafeta",
                arguments: ["serve", "--hostname", "pop.estafeta.test", "--pop3-lock-seconds", "2"] + RunningServer.loopbackListeners,
                directory: first.directory, name: name)
            try await server.waitUntilReady()
            return server
        }
        let second = try await restart("pop3-again")
        #expect(try await step(second, "state") == "count=1 uids=\(uids.last ?? "?")")

        // A session holds the maildrop when its process is killed: the lock outlives the process only
        // until its lease expires.
        // Without pipes: a long-lived child with pipes was seen to make later `Process.run` calls hang here.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", PythonClient.clientsDirectory.appendingPathComponent("pop3_steps.py").path,
            String(second.ports["pop3s"] ?? 0), second.certificatePath, "hold",
        ]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { holder.kill() }
        try await eventually("the holder has the maildrop") { try await step(second, "try-login") == "in-use" }
        _ = try await second.stop(signal: SIGKILL)
        let third = try await restart("pop3-third")
        try await eventually("the lease expired", timeout: .seconds(30)) { try await step(third, "try-login") == "ok count=1" }
        // A 20 MB message, byte for byte (lines starting with dots among them), LIST size = octets sent.
        #expect(try await step(third, "big", String(third.ports["smtp"] ?? 0)) == "big ok")
        #expect(try await third.stop().status == 0)
    }
}

extension POP3Tests {
    @Test("the POP3 autologout timer is at least 10 minutes whatever limits.idleTimeoutSeconds says (RFC 1939 §3)")
    func idleMinimum() async throws {
        let server = try await self.startSuite(options: ["--limits-idle-timeout-seconds", "1"])
        defer { server.removeDirectory() }
        let result = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import socket, sys, time
                pop3 = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
                smtp = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
                pop3.recv(200); smtp.recv(200)
                time.sleep(2.5)
                smtp_reply = smtp.recv(200)
                pop3.sendall(b"CAPA\\r\\n")
                pop3_reply = pop3.recv(200)
                print("smtp", smtp_reply[:3].decode(), "pop3", pop3_reply[:3].decode())
                """, String(server.ports["pop3"] ?? 0), String(server.ports["smtp"] ?? 0),
            ]
        ).finish()
        // SMTP follows the 1 s idle limit; POP3 keeps the session.
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == "smtp 421 pop3 +OK", "\(result.output)\(result.errors)")
        #expect(try await server.stop().status == 0)
    }

    @Test("the POP3 and IMAP autologout timers close idle sessions with their protocol's goodbye (set short here)")
    func autologout() async throws {
        let server = try await self.startSuite(options: ["--pop3-idle-timeout-seconds", "1", "--imap-idle-timeout-seconds", "2"])
        defer { server.removeDirectory() }
        let result = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import socket, sys, time
                def goodbye(port):
                    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                    reader = sock.makefile("rb")
                    reader.readline()
                    started = time.monotonic()
                    line = reader.readline()
                    closed = reader.readline() == b""
                    return f"{line[:5].decode().strip()} after {round(time.monotonic() - started)} s, closed {closed}"
                print("pop3:", goodbye(int(sys.argv[1])))
                print("imap:", goodbye(int(sys.argv[2])))
                """, String(server.ports["pop3"] ?? 0), String(server.ports["imap"] ?? 0),
            ]
        ).finish()
        #expect(result.output.contains("pop3: -ERR after 1 s, closed True"), "\(result.output)\(result.errors)")
        #expect(result.output.contains("imap: * BYE after 2 s, closed True"), "\(result.output)\(result.errors)")
        #expect(try await server.stop().status == 0)
    }
}
