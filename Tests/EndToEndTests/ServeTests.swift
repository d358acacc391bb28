import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite("estafeta serve: the whole suite in one process", .serialized)
struct ServeTests {
    @Test("starts all five services, each answers real clients on its port and /healthz; SIGTERM stops it with 0 promptly")
    func serveAnswersAndStops() async throws {
        let server = try RunningServer("estafeta", arguments: ["serve"] + RunningServer.loopbackListeners)
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        #expect(
            Set(server.ports.keys)
                == ["smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "admin", "ops"])
        #expect(server.ports.values.allSatisfy { $0 > 0 })
        let probe = try await PythonClient.run(
            "probe_suite.py",
            [server.readyFile.path, server.certificatePath, "smtp,pop3,imap,admin,ops"])
        #expect(probe.status == 0, "\(probe.output)\n\(server.log)")
        #expect(probe.output.contains("all checks passed"))

        let stopped = try await server.stop()
        #expect(stopped.status == 0, "\(server.log)")
        // Prompt with nothing to wait for; the bound leaves room for a machine loaded by the rest of the
        // suite (7–8 s seen there) and still fails a stop that hangs.
        #expect(stopped.seconds < 15)
        #expect(server.log.contains("stopped"))
    }

    @Test(
        "an idle client is told goodbye at shutdown, in its own protocol",
        arguments: [
            ("imap", "* BYE"), ("smtp", "421 4.3.2"), ("pop3", "-ERR [SYS/TEMP]"),
        ])
    func idleClientsHearGoodbye(listener: String, goodbye: String) async throws {
        let server = try RunningServer("estafeta", arguments: ["serve"] + RunningServer.loopbackListeners)
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        let marker = server.directory.appendingPathComponent("client-ready")
        let client = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", PythonClient.clientsDirectory.appendingPathComponent("idle_client.py").path,
                String(server.ports[listener] ?? 0), marker.path,
            ])
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: marker.path) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let stopped = try await server.stop()
        let heard = try await client.finish()
        #expect(heard.output.contains("next: \(goodbye)"), "\(heard.output)\(heard.errors)")
        #expect(heard.output.contains("closed: True"))
        #expect(stopped.status == 0, "\(server.log)")
        #expect(stopped.seconds < 5)
    }

    @Test("an over-long line gets the protocol's error and the session goes on")
    func overlongLine() async throws {
        let server = try RunningServer(
            "estafeta", arguments: ["serve", "--limits-max-line-length", "512"] + RunningServer.loopbackListeners)
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        let marker = server.directory.appendingPathComponent("client-ready")
        let longLine = "NOOP " + String(repeating: "x", count: 10_000)
        let client = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", PythonClient.clientsDirectory.appendingPathComponent("idle_client.py").path,
                String(server.ports["smtp"] ?? 0), marker.path, longLine,
            ])
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: marker.path) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try await server.stop()
        let heard = try await client.finish()
        #expect(heard.output.contains("reply: 500 5.5.2"), "\(heard.output)\(heard.errors)")
        // The session survived the long line: it was still open to hear the shutdown reply.
        #expect(heard.output.contains("next: 421"), "\(heard.output)")
    }
}

@Suite("Connection limits before any session")
struct ConnectionLimitTests {
    @Test("new connections per network and minute (the sixth gets 421, on IMAPS it is closed before TLS); a silent IMAPS client is closed after the handshake timeout")
    func rateAndHandshake() async throws {
        let server = try RunningServer(
            "estafeta",
            arguments: ["serve", "--limits-max-new-connections-per-minute", "5", "--limits-tls-handshake-timeout-seconds", "1"]
                + RunningServer.loopbackListeners)
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        let checks = try await PythonClient.run(
            "connection_limits.py", [String(server.ports["smtp"] ?? 0), String(server.ports["imaps"] ?? 0)])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
    }
}

extension ConnectionLimitTests {
    @Test("IMAP, SMTP and POP3 commands trickled below the minimum data rate are cut off, though never idle")
    func slowCommand() async throws {
        let server = try RunningServer(
            "estafeta",
            arguments: ["serve", "--limits-idle-timeout-seconds", "1", "--limits-min-data-rate", "1000"] + RunningServer.loopbackListeners)
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        let checks = try await PythonClient.run(
            "slow_command.py", ["imap", "smtp", "pop3"].map { String(server.ports[$0] ?? 0) })
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
    }
}

extension ConnectionLimitTests {
    @Test("after STARTTLS a client that never starts its handshake is closed after the handshake timeout (IMAP, POP3, SMTP)")
    func startTLSHandshake() async throws {
        let server = try RunningServer(
            "estafeta", arguments: ["serve", "--limits-tls-handshake-timeout-seconds", "1"] + RunningServer.loopbackListeners)
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        let result = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import socket, sys, time
                def silent_after(port, greeting_lines, command):
                    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
                    reader = sock.makefile("rb")
                    for _ in range(greeting_lines):
                        reader.readline()
                    sock.sendall(command)
                    answer = reader.readline()
                    while answer[:4] == b"250-":
                        answer = reader.readline()
                    started = time.monotonic()
                    closed = sock.recv(1) == b""
                    return f"{answer[:3].decode()} closed {closed} after {round(time.monotonic() - started)} s"
                print("imap:", silent_after(int(sys.argv[1]), 1, b"a STARTTLS\\r\\n"))
                print("pop3:", silent_after(int(sys.argv[2]), 1, b"STLS\\r\\n"))
                print("smtp:", silent_after(int(sys.argv[3]), 1, b"STARTTLS\\r\\n"))
                """, String(server.ports["imap"] ?? 0), String(server.ports["pop3"] ?? 0), String(server.ports["submission"] ?? 0),
            ]
        ).finish()
        for line in ["imap: a O closed True after 1 s", "pop3: +OK closed True after 1 s", "smtp: 220 closed True after 1 s"] {
            #expect(result.output.contains(line), "\(result.output)\(result.errors)")
        }
        #expect(try await server.stop().status == 0)
    }
}

@Suite("Start-up failures and log format")
struct StartupTests {
    @Test("a port already in use stops the process with exit 1 and a message naming the listener; the ops port too, without a crash")
    func portInUse() async throws {
        let first = try RunningServer("estafeta-pop3", arguments: RunningServer.loopbackListeners, name: "first")
        defer { first.removeDirectory() }
        try await first.waitUntilReady()
        let taken = try #require(first.ports["pop3"])
        // A flag given twice is an array to swift-configuration, so pass the port through the environment.
        let protocolPort = try await Self.failedStart(
            ["--pop3-host", "127.0.0.1", "--pop3s-host", "127.0.0.1", "--pop3s-port", "0", "--ops-port", "0"],
            environment: ["ESTAFETA_POP3_PORT": String(taken)], name: "second")
        #expect(protocolPort.contains("cannot listen for pop3 on 127.0.0.1:\(taken)"), "\(protocolPort)")
        // The ops listener binds last: the ready-file writer was waiting for it when the group was cancelled,
        // and did not stop waiting, so ServiceLifecycle's cancellation timeout crashed the process (seen
        // taking 18 s with the backtrace) instead of exit 1.
        let opsPort = try await Self.failedStart(
            ["--pop3-host", "127.0.0.1", "--pop3-port", "0", "--pop3s-host", "127.0.0.1", "--pop3s-port", "0",
             "--ops-host", "127.0.0.1"],
            environment: ["ESTAFETA_OPS_PORT": String(try #require(first.ports["ops"]))], name: "third")
        #expect(opsPort.contains("Address already in use") && !opsPort.contains("Fatal error"), "\(opsPort)")
        #expect(try await first.stop().status == 0)
    }

    /// Starts `estafeta-pop3`, which must exit with status 1 within 10 s; returns its log.
    private static func failedStart(_ arguments: [String], environment: [String: String], name: String) async throws -> String {
        let server = try RunningServer("estafeta-pop3", arguments: arguments, environment: environment, name: name)
        defer {
            server.process.kill()
            server.removeDirectory()
        }
        let deadline = ContinuousClock.now + .seconds(10)
        // Past the deadline an exit that Foundation has not noticed yet is waited for (bounded), not taken for a hang.
        while server.process.isRunning
            && (ContinuousClock.now < deadline || (server.process.hasEnded && ContinuousClock.now < deadline + .seconds(60)))
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Required, not expected: the exit status of a running process is a trap that would end every test.
        try #require(!server.process.isRunning, "still running after 10 s: \(server.log)")
        #expect(server.process.terminationStatus == 1, "\(server.log)")
        return server.log
    }

    @Test("log.format=json writes one JSON object per line")
    func jsonLogs() async throws {
        let server = try RunningServer(
            "estafeta-imap", arguments: RunningServer.loopbackListeners, environment: ["ESTAFETA_LOG_FORMAT": "json"])
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        #expect(try await server.stop().status == 0)
        let lines = server.log.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["message"] is String && object?["level"] is String, "\(line)")
        }
    }
}
