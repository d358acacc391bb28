import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("SMTP ingress, MX receive path, end to end", .serialized)
struct SMTPIngressTests {
    static let token = "smtp-e2e-token-" + String(repeating: "t", count: 32)

    /// A suite with example.org and alice@example.org, made through the admin API.
    private func startSuite(directory: URL? = nil, name: String = "server", options: [String] = []) async throws
        -> RunningServer
    {
        let server = try RunningServer(
            "estafeta",
            // A flag given twice becomes a list and is refused, so the default delay yields to `options`.
            arguments: ["serve", "--hostname", "mx.estafeta.test"]
                + (options.contains("--smtp-auth-failure-delay-ms") ? [] : ["--smtp-auth-failure-delay-ms", "20"])
                + options + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token], directory: directory, name: name)
        try await server.waitUntilReady()
        return server
    }

    private func createAlice(_ server: RunningServer) async throws {
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/domains", #"{"name":"example.org"}"#).status == 201)
        let account = try await admin(
            server, token: Self.token, "POST", "/api/v1/accounts",
            #"{"address":"alice@example.org","password":"correct horse battery"}"#)
        #expect(account.status == 201, "\(account.body)")
    }

    @Test("smtplib and raw clients: delivery, refusals, order, limits, pipelining, smuggling, STARTTLS, AUTH, submission")
    func receivePath() async throws {
        let server = try await self.startSuite()
        defer { server.removeDirectory() }
        try await self.createAlice(server)
        let checks = try await PythonClient.run(
            "smtp_checks.py",
            [
                String(server.ports["smtp"] ?? 0), String(server.ports["submission"] ?? 0), server.certificatePath,
                String(server.ports["submissions"] ?? 0), String(server.ports["admin"] ?? 0), Self.token,
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        // Exactly the accepted messages are queued (four to alice over the MX, one of them in BDAT chunks,
        // and one submitted to alice and x@remote.example): the smuggled one never became a message.
        let queue = try await admin(server, token: Self.token, "GET", "/api/v1/queue")
        #expect(queue.body.components(separatedBy: #""address":"alice@example.org""#).count - 1 == 5, "\(queue.body)")
        #expect(queue.body.contains(#""authenticatedAs":"alice@example.org""#), "\(queue.body)")
        #expect(try await server.stop().status == 0)
    }

    @Test("limits and abuse: connections per address, pregreet, 10,001 RCPTs, errors and junk, size, hops, slow DATA, From:, login lockout")
    func limits() async throws {
        let server = try await self.startSuite(options: [
            "--smtp-greeting-delay-ms", "300", "--limits-idle-timeout-seconds", "2", "--smtp-min-data-rate", "2000",
            "--smtp-max-message-bytes", "100000", "--smtp-max-errors", "10", "--auth-lockout-failures", "4",
            "--smtp-auth-failure-delay-ms", "50", "--limits-max-connections-per-address", "5",
        ])
        defer { server.removeDirectory() }
        try await self.createAlice(server)
        let checks = try await PythonClient.run(
            "smtp_limits.py",
            [
                String(server.ports["smtp"] ?? 0), String(server.ports["submission"] ?? 0), server.certificatePath,
                String(server.ports["submissions"] ?? 0),
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        // Queued: the bounce, the message to 100 recipients, the one of exactly the size limit, and
        // alice's own submission; nothing that was refused, cut off or over a limit.
        let queue = try await admin(server, token: Self.token, "GET", "/api/v1/queue")
        #expect(queue.body.components(separatedBy: #""sender":"#).count - 1 == 4, "\(queue.body)")
        #expect(try await server.stop().status == 0)
    }

    @Test("clients nobody here wrote: swaks (pipelining, STARTTLS, AUTH, implicit TLS) and curl smtp:// / smtps://")
    func thirdPartyClients() async throws {
        let server = try await self.startSuite()
        defer { server.removeDirectory() }
        try await self.createAlice(server)
        let mx = String(server.ports["smtp"] ?? 0)
        let submission = String(server.ports["submission"] ?? 0)
        let submissions = String(server.ports["submissions"] ?? 0)
        func run(_ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, output: String) {
            var command = arguments
            if let stdin {
                let file = server.directory.appendingPathComponent("message-\(UUID().uuidString).eml")
                try Data(stdin.utf8).write(to: file)
                command += ["--upload-file", file.path]
            }
            let result = try await ChildProcess.start(URL(fileURLWithPath: "/usr/bin/env"), command).finish(timeout: .seconds(30))
            return (result.status, result.output + result.errors)
        }
        let swaksMX = try await run([
            "swaks", "--server", "127.0.0.1", "--port", mx, "--pipeline", "--from", "bob@remote.test",
            "--to", "alice@example.org", "--header", "Subject: from swaks",
        ])
        #expect(swaksMX.status == 0 && swaksMX.output.contains("250 2.0.0 Ok: queued as"), "\(swaksMX.output)")
        let swaksSubmission = try await run([
            "swaks", "--server", "127.0.0.1", "--port", submission, "--tls", "--auth", "PLAIN",
            "--auth-user", "alice@example.org", "--auth-password", "correct horse battery",
            "--from", "alice@example.org", "--to", "friend@remote.test",
        ])
        #expect(swaksSubmission.status == 0 && swaksSubmission.output.contains("235 2.7.0"), "\(swaksSubmission.output)")
        let swaksImplicit = try await run([
            "swaks", "--server", "127.0.0.1", "--port", submissions, "--tls-on-connect", "--auth", "LOGIN",
            "--auth-user", "alice@example.org", "--auth-password", "correct horse battery",
            "--from", "alice@example.org", "--to", "alice@example.org",
        ])
        #expect(swaksImplicit.status == 0 && swaksImplicit.output.contains("queued as"), "\(swaksImplicit.output)")
        let swaksWrong = try await run([
            "swaks", "--server", "127.0.0.1", "--port", submission, "--tls", "--auth", "PLAIN",
            "--auth-user", "alice@example.org", "--auth-password", "not the password",
            "--from", "alice@example.org", "--to", "friend@remote.test",
        ])
        #expect(swaksWrong.status != 0 && swaksWrong.output.contains("535 5.7.8"), "\(swaksWrong.output)")

        let message = "From: bob@remote.test\r\nSubject: from curl\r\n\r\nhello from curl\r\n"
        let curlMX = try await run(
            ["curl", "-sS", "--max-time", "20", "smtp://127.0.0.1:\(mx)/client.test", "--mail-from", "bob@remote.test",
             "--mail-rcpt", "alice@example.org"], stdin: message)
        #expect(curlMX.status == 0, "\(curlMX.output)")
        let curlSubmissions = try await run(
            ["curl", "-sS", "--max-time", "20", "--cacert", server.certificatePath, "--user",
             "alice@example.org:correct horse battery", "smtps://localhost:\(submissions)/client.test",
             "--resolve", "localhost:\(submissions):127.0.0.1", "--mail-from", "alice@example.org",
             "--mail-rcpt", "friend@remote.test"],
            stdin: "From: alice@example.org\r\nSubject: from curl over TLS\r\n\r\nhello\r\n")
        #expect(curlSubmissions.status == 0, "\(curlSubmissions.output)")
        let curlStartTLS = try await run(
            ["curl", "-sS", "--max-time", "20", "--ssl-reqd", "--cacert", server.certificatePath, "--user",
             "alice@example.org:correct horse battery", "smtp://localhost:\(submission)/client.test",
             "--resolve", "localhost:\(submission):127.0.0.1", "--mail-from", "alice@example.org",
             "--mail-rcpt", "friend@remote.test"],
            stdin: "From: alice@example.org\r\nSubject: from curl with STARTTLS\r\n\r\nhello\r\n")
        #expect(curlStartTLS.status == 0, "\(curlStartTLS.output)")
        let curlRelay = try await run(
            ["curl", "-sS", "--max-time", "20", "smtp://127.0.0.1:\(mx)/client.test", "--mail-from", "bob@remote.test",
             "--mail-rcpt", "someone@elsewhere.test"], stdin: message)
        #expect(curlRelay.status != 0 && curlRelay.output.contains("554"), "\(curlRelay.output)")

        // Six messages: swaks ×3 and curl ×3 (the wrong password and the relay attempt queued nothing).
        let queue = try await admin(server, token: Self.token, "GET", "/api/v1/queue")
        #expect(queue.body.components(separatedBy: #""sender":"#).count - 1 == 6, "\(queue.body)")
        #expect(try await server.stop().status == 0)
    }

    @Test("SIGTERM: an idle session gets 421 4.3.2, a message in DATA finishes with 250 and is kept")
    func shutdownDuringData() async throws {
        let server = try await self.startSuite(options: ["--shutdown-grace-period-seconds", "10"])
        defer { server.removeDirectory() }
        try await self.createAlice(server)
        let checks = try await PythonClient.run(
            "smtp_shutdown.py", [String(server.ports["smtp"] ?? 0), String(server.process.processIdentifier)])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
        let restarted = try await self.startSuite(directory: server.directory, name: "restarted")
        let queue = try await admin(restarted, token: Self.token, "GET", "/api/v1/queue")
        #expect(queue.body.contains(#""sender":"late@remote.test""#), "\(queue.body)")
        #expect(try await restarted.stop().status == 0)
    }

    @Test("large messages stream to the store: DATA and BDAT read back whole over IMAP and POP3, header and size limits, kill -9 mid-DATA leaves no message")
    func largeMessages() async throws {
        let options = ["--smtp-max-message-bytes", "4000000"]
        let server = try await self.startSuite(options: options)
        defer { server.removeDirectory() }
        try await self.createAlice(server)
        let ports = [server.ports["smtp"], server.ports["imaps"], server.ports["pop3s"]].map { String($0 ?? 0) }
        let sent = try await PythonClient.run(
            "smtp_large.py",
            ["send"] + ports + [server.certificatePath, server.databasePath, String(server.process.processIdentifier)])
        #expect(sent.status == 0 && sent.output.contains("all checks passed"), "\(sent.output)\n\(server.log)")
        _ = try await server.stop(signal: SIGKILL)
        let restarted = try await self.startSuite(directory: server.directory, name: "restarted", options: options)
        let restartedPorts = [restarted.ports["smtp"], restarted.ports["imaps"], restarted.ports["pop3s"]].map { String($0 ?? 0) }
        let after = try await PythonClient.run(
            "smtp_large.py", ["after-kill"] + restartedPorts + [restarted.certificatePath, restarted.databasePath])
        #expect(after.status == 0 && after.output.contains("all checks passed"), "\(after.output)\n\(restarted.log)")
        #expect(try await restarted.stop().status == 0)
    }

    @Test("kill -9 right after 250: the message is in the queue after a restart")
    func durableAfterKill() async throws {
        let server = try await self.startSuite()
        defer { server.removeDirectory() }
        try await self.createAlice(server)
        let sent = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import smtplib, sys
                s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
                s.ehlo("client.test")
                s.mail("bob@remote.test")
                s.rcpt("alice@example.org")
                code, text = s.data(b"Subject: durable\\r\\n\\r\\nkeep me\\r\\n")
                print(code, text.decode())
                """, String(server.ports["smtp"] ?? 0),
            ]
        ).finish()
        #expect(sent.output.hasPrefix("250 2.0.0 Ok: queued as"), "\(sent.output)\(sent.errors)")
        // No graceful anything: the process dies the moment the client has its 250.
        _ = try await server.stop(signal: SIGKILL)
        let restarted = try await self.startSuite(directory: server.directory, name: "restarted")
        let queue = try await admin(restarted, token: Self.token, "GET", "/api/v1/queue")
        #expect(queue.status == 200 && queue.body.contains(#""sender":"bob@remote.test""#), "\(queue.body)")
        #expect(try await restarted.stop().status == 0)
    }
}
