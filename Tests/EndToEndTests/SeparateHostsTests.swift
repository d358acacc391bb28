import Foundation
import Testing
import TestSupport

@Suite("The suite as separate hosts on one PostgreSQL database", .serialized)
struct SeparateHostsTests {
    /// A certificate and key for the mail names, given to every host (nothing is shared on a filesystem
    /// the hosts would have in common).
    static func tlsMaterial(in directory: URL) async throws -> (certificate: String, key: String) {
        let certificate = directory.appendingPathComponent("certificate.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mail.example.test", "-days", "2", "-keyout", key,
             "-out", certificate])
        let result = try await openssl.finish(timeout: .seconds(60))
        guard result.status == 0 else { throw HostNetworkError.failed("openssl: \(result.errors)") }
        return (certificate, key)
    }

    @Test(
        "admin, SMTP, two relays, two IMAP gateways and POP3 each in its own network namespace and directory, PostgreSQL in another: mail submitted is delivered once, read over POP3 and both IMAP gateways (IDLE hears the other's flag), relayed to a remote MX; every connection crosses a network",
        .enabled(if: HostNetwork.available, "needs root and iproute2 for network namespaces"), .timeLimit(.minutes(5)))
    func separateHosts() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-hosts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let layout: [(name: String, command: String)] = [
            ("admin", "admin"), ("smtp", "smtp"), ("relay1", "relay"), ("relay2", "relay"), ("imap1", "imap"), ("imap2", "imap"),
            ("pop3", "pop3"),
        ]
        let network = try await HostNetwork.make(hosts: ["db"] + layout.map(\.name))
        do {
            let database = try await PostgresServer.start(
                listenAddress: network.address("db"), networkNamespace: network.namespace("db"), clientNetwork: network.subnet)
            do {
                try await Self.run(layout, on: network, database: database, root: root)
                try await database.stop()
            } catch {
                try? await database.stop()
                throw error
            }
        } catch {
            await network.remove()
            throw error
        }
        await network.remove()
    }

    static func run(
        _ layout: [(name: String, command: String)], on network: HostNetwork, database: PostgresServer, root: URL
    ) async throws {
        let tls = try await Self.tlsMaterial(in: root)
        // The remote MX at the gateway, where the relays' hosts reach it.
        let (peer, mx, maildir) = try await startScriptedMX(in: root.appendingPathComponent("remote-mx"), listen: network.gateway)
        defer { peer.process.kill() }
        let token = "hosts-e2e-token-" + String(repeating: "h", count: 32)
        let servers = try layout.map { host in
            let address = network.address(host.name)
            var environment = [
                "ESTAFETA_HOSTNAME": "mail.example.test", "ESTAFETA_CONFIG": "", "ESTAFETA_LOG_FORMAT": "json",
                "ESTAFETA_TLS_CERTIFICATE": tls.certificate, "ESTAFETA_TLS_KEY": tls.key,
                "ESTAFETA_DATABASE_URL": "postgres://\(database.user)@\(network.address("db")):\(database.port)/\(database.database)?sslmode=disable",
                "ESTAFETA_DATABASE_PASSWORD": database.password,
                "ESTAFETA_RELAY_ROUTES": "remote.test=\(network.gateway):\(mx["scripted"] ?? 1)",
                // A killed relay's leases come back within seconds, and the survivor looks for them each second.
                "ESTAFETA_RELAY_LEASE_SECONDS": "5", "ESTAFETA_RELAY_POLL_INTERVAL_MS": "1000",
                // A delivery that failed while PostgreSQL restarted is deferred ("451 temporary local
                // failure"): retried after seconds here instead of the default five minutes, so that the
                // check of the INBOX sees it delivered rather than waiting in the queue.
                "ESTAFETA_RELAY_RETRY_INITIAL_SECONDS": "2",
                "ESTAFETA_ADMIN_TOKEN": token, "ESTAFETA_ADMIN_ALLOWED_HOSTS": "localhost,\(address)",
            ]
            for listener in ["smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "admin", "ops"] {
                environment["ESTAFETA_\(listener.uppercased())_HOST"] = address
                environment["ESTAFETA_\(listener.uppercased())_PORT"] = "0"
            }
            // Each host its own directory: no file is shared between them.
            return try RunningServer(
                "estafeta-\(host.command)", arguments: [], environment: environment,
                directory: root.appendingPathComponent(host.name), name: host.name, networkNamespace: network.namespace(host.name))
        }
        defer { for server in servers { server.process.kill() } }
        for server in servers { try await server.waitUntilReady() }

        var ports: [String: [String: Int]] = [:]
        var hosts: [String: String] = [:]
        for (index, host) in layout.enumerated() {
            ports[host.name] = servers[index].ports
            hosts[host.name] = network.address(host.name)
        }
        let checks = try await PythonClient.run(
            "multiprocess_checks.py",
            [
                String(decoding: try JSONSerialization.data(withJSONObject: ports), as: UTF8.self), tls.certificate, token, maildir.path,
                String(decoding: try JSONSerialization.data(withJSONObject: hosts), as: UTF8.self),
            ])
        #expect(
            checks.status == 0 && checks.output.contains("all checks passed"),
            "\(checks.output)\n\(servers.map { "--- \($0.logFile.lastPathComponent)\n\($0.log)" }.joined(separator: "\n"))")
        try await Self.faults(servers: servers, layout: layout, network: network, database: database, certificate: tls.certificate, root: root)
        // Bob's messages were delivered once each, into PostgreSQL.
        let delivered = try await database.sql(
            "SELECT count(*) FROM mailbox_message m JOIN mailbox b ON b.id = m.mailbox_id JOIN account a ON a.id = b.account_id WHERE a.address = 'bob@example.org'",
            database: database.database)
        #expect(Int(delivered.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 2, "\(delivered)")
        // The relay killed with -9 is gone already; the others stop with 0.
        for server in servers where server.process.isRunning {
            let stopped = try await server.stop()
            #expect(stopped.status == 0, "\(server.log)")
        }
    }

    /// A relay killed with -9 while mail arrives, then PostgreSQL restarted while mail arrives: every
    /// message the SMTP host answered 250 for is in bob's INBOX exactly once, and no login was refused as
    /// a wrong password while the database was away.
    static func faults(
        servers: [RunningServer], layout: [(name: String, command: String)], network: HostNetwork, database: PostgresServer,
        certificate: String, root: URL
    ) async throws {
        guard let smtp = layout.firstIndex(where: { $0.name == "smtp" }), let relay = layout.firstIndex(where: { $0.name == "relay1" }),
            let imap = layout.firstIndex(where: { $0.name == "imap2" }), let submission = servers[smtp].ports["submission"],
            let imapPort = servers[imap].ports["imap"]
        else { throw HostNetworkError.failed("a port is missing from the ready files") }
        let smtpHost = network.address("smtp")
        func submitting(_ tag: String, count: Int, seconds: Int) -> Task<(status: Int32, output: String), any Error> {
            Task {
                try await PythonClient.run(
                    "hosts_faults.py", ["submit", smtpHost, "\(submission)", certificate, tag, "\(count)", "\(seconds)"])
            }
        }

        let killed = submitting("killed", count: 40, seconds: 20)
        try await Task.sleep(for: .milliseconds(1_500))
        kill(servers[relay].process.processIdentifier, SIGKILL)
        let first = try await killed.value
        let restarted = submitting("restart", count: 400, seconds: 12)
        try await Task.sleep(for: .seconds(3))
        try await database.restart()
        let second = try await restarted.value

        let outputs = first.output + second.output
        let accepted = outputs.split(separator: "\n").filter { $0.hasPrefix("accepted ") }.map { $0.dropFirst("accepted ".count) }
        #expect(first.status == 0 && second.status == 0, "\(outputs)")
        #expect(accepted.filter { $0.hasPrefix("killed-") }.count == 40, "\(first.output)")
        // Mail goes on being accepted around the restart (sessions wait for the pool to connect again, up
        // to the operation deadline, or are refused with a temporary error).
        #expect(accepted.filter { $0.hasPrefix("restart-") }.count >= 10, "\(second.output)")
        #expect(!outputs.contains("535"), "no login refused as a wrong password: \(outputs)")
        let subjects = root.appendingPathComponent("accepted.txt")
        try accepted.joined(separator: "\n").write(to: subjects, atomically: true, encoding: .utf8)
        let deadline = ContinuousClock.now + .seconds(90)
        var verified: (status: Int32, output: String) = (1, "")
        while ContinuousClock.now < deadline {
            verified = try await PythonClient.run(
                "hosts_faults.py", ["verify", network.address("imap2"), "\(imapPort)", certificate, subjects.path])
            if verified.status == 0 { break }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(verified.status == 0 && verified.output.contains("all checks passed"), "\(verified.output)")
    }
}
