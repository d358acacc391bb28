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
        // Bob's message was delivered once, into PostgreSQL.
        let delivered = try await database.sql(
            "SELECT count(*) FROM mailbox_message m JOIN mailbox b ON b.id = m.mailbox_id JOIN account a ON a.id = b.account_id WHERE a.address = 'bob@example.org'",
            database: database.database)
        #expect(delivered.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(delivered)")
        for server in servers {
            let stopped = try await server.stop()
            #expect(stopped.status == 0, "\(server.log)")
        }
    }
}
