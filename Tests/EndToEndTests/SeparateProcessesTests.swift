import Foundation
import Logging
import MailStore
import Testing
import TestSupport

@Suite("The five executables as separate processes on one database")
struct SeparateProcessesTests {
    @Test("smtp, relay, pop3, imap and admin start together on one file, answer, report themselves to the store, and stop with 0 on SIGTERM")
    func separateExecutables() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = ["estafeta-admin", "estafeta-smtp", "estafeta-relay", "estafeta-pop3", "estafeta-imap"]
        // Started together: they race to migrate the new file and to make the self-signed certificate.
        let servers = try names.map {
            try RunningServer($0, arguments: RunningServer.loopbackListeners, directory: directory, name: $0)
        }
        defer { for server in servers { server.removeDirectory() } }
        for server in servers { try await server.waitUntilReady() }

        let probes: [(String, String)] = [
            ("estafeta-admin", "admin"), ("estafeta-smtp", "smtp,ops"), ("estafeta-relay", "ops"),
            ("estafeta-pop3", "pop3,ops"), ("estafeta-imap", "imap,ops"),
        ]
        for (index, (name, services)) in probes.enumerated() {
            let probe = try await PythonClient.run(
                "probe_suite.py", [servers[index].readyFile.path, servers[index].certificatePath, services])
            #expect(probe.status == 0, "\(name): \(probe.output)\n\(servers[index].log)")
        }
        // Each process reports its service to the store, under its own pid, and says when it stops.
        let store = try MailStore.open(settings: MailStoreSettings(path: servers[0].databasePath), logger: Logger(label: "separate"))
        let expected = zip(["admin", "smtp", "relay", "pop3", "imap"], servers).map { "\($0) \($1.process.processIdentifier)" }.sorted()
        try await eventually("every process reported its service") {
            try await store.serviceProcesses().map { "\($0.service) \($0.pid)" } == expected
        }
        for server in servers {
            let stopped = try await server.stop()
            #expect(stopped.status == 0, "\(server.log)")
            #expect(stopped.seconds < 5)
        }
        #expect(try await store.serviceProcesses().allSatisfy { $0.stoppedAt != nil })
    }

    /// Environment variables as docker-compose.yml gives them (listeners moved to loopback and port 0).
    static func composeEnvironment(_ service: String, extra: [String: String] = [:]) -> [String: String] {
        var environment = [
            "ESTAFETA_HOSTNAME": "mail.example.test", "ESTAFETA_CONFIG": "", "ESTAFETA_TLS_CERTIFICATE": "",
            "ESTAFETA_TLS_KEY": "", "ESTAFETA_LOG_FORMAT": "json", "ESTAFETA_LOG_LEVEL": "info",
            // Not in the compose file: the tests' relay looks at the queue often.
            "ESTAFETA_RELAY_POLL_INTERVAL_MS": "100",
        ]
        for listener in ["smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "admin", "ops"] {
            environment["ESTAFETA_\(listener.uppercased())_HOST"] = "127.0.0.1"
            environment["ESTAFETA_\(listener.uppercased())_PORT"] = "0"
        }
        return environment.merging(extra) { $1 }
    }

    @Test("the compose layout as OS processes: admin, smtp, two relays, two imap, one pop3 on one database; local and remote mail delivered, read over POP3 and both IMAP processes (IDLE hears the other's flag), the queue drains, SIGTERM stops each with 0 within 10 s", arguments: StoreBackendKind.allCases)
    func composeLayout(backend: StoreBackendKind) async throws {
        switch backend {
        case .sqlite: #expect(try await Self.composeLayout(database: [:]), "the processes share the SQLite file")
        case .postgres:
            try await PostgresServer.with { server in
                let madeFile = try await Self.composeLayout(database: [
                    "ESTAFETA_DATABASE_URL": "postgres://\(server.user)@127.0.0.1:\(server.port)/\(server.database)?sslmode=disable",
                    "ESTAFETA_DATABASE_PASSWORD": server.password,
                    // Two minutes between polls: the queue drains within the checks' 30 s only because the
                    // relay workers are woken by PostgreSQL's signal when mail is queued.
                    "ESTAFETA_RELAY_POLL_INTERVAL_MS": "120000",
                ])
                // The mail went through PostgreSQL, and no process made a file of its own.
                let stored = try await server.sql("SELECT count(*) FROM mailbox_message", database: server.database)
                #expect((Int(stored.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "\(stored)")
                #expect(!madeFile)
            }
        }
    }

    /// `database`: the settings that name the database (none: the SQLite file in the shared directory).
    /// Returns whether an SQLite file was made in the processes' shared directory.
    static func composeLayout(database: [String: String]) async throws -> Bool {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-compose-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The remote MX: aiosmtpd on loopback.
        let (peer, mx, maildir) = try await startScriptedMX(in: directory.appendingPathComponent("remote-mx"))
        defer { peer.process.kill() }
        let token = "compose-e2e-token-" + String(repeating: "c", count: 32)
        let relay = ["ESTAFETA_RELAY_ROUTES": "remote.test=127.0.0.1:\(mx["scripted"] ?? 1)"].merging(database) { $1 }
        // `command` as in docker-compose.yml: the image's entrypoint turns it into the executable (and execs it,
        // so SIGTERM below reaches the server itself).
        let layout: [(name: String, command: String, environment: [String: String])] = [
            (
                "admin", "admin",
                Self.composeEnvironment(
                    "admin",
                    extra: ["ESTAFETA_ADMIN_TOKEN": token, "ESTAFETA_ADMIN_ALLOWED_HOSTS": "localhost,127.0.0.1,admin"].merging(database) { $1 })
            ),
            ("smtp", "smtp", Self.composeEnvironment("smtp", extra: database)),
            ("relay1", "relay", Self.composeEnvironment("relay", extra: relay)),
            ("relay2", "relay", Self.composeEnvironment("relay", extra: relay)),
            ("imap1", "imap", Self.composeEnvironment("imap", extra: database)),
            ("imap2", "imap", Self.composeEnvironment("imap", extra: database)),
            ("pop3", "pop3", Self.composeEnvironment("pop3", extra: database)),
        ]
        let servers = try layout.map {
            try RunningServer(
                "estafeta-\($0.command)", arguments: [], environment: $0.environment, directory: directory, name: $0.name,
                entrypointCommand: $0.command)
        }
        defer { for server in servers { server.removeDirectory() } }
        for server in servers { try await server.waitUntilReady() }

        var ports: [String: [String: Int]] = [:]
        for (index, entry) in layout.enumerated() { ports[entry.name] = servers[index].ports }
        let portsJSON = String(decoding: try JSONSerialization.data(withJSONObject: ports), as: UTF8.self)
        let checks = try await PythonClient.run(
            "multiprocess_checks.py", [portsJSON, servers[0].certificatePath, token, maildir.path])
        #expect(
            checks.status == 0 && checks.output.contains("all checks passed"),
            "\(checks.output)\n\(servers.map { "--- \($0.logFile.lastPathComponent)\n\($0.log)" }.joined(separator: "\n"))")

        // SIGTERM to everything at once, as `docker compose stop` does.
        let stops = servers.map { server in Task { try await server.stop() } }
        for (index, stop) in stops.enumerated() {
            let stopped = try await stop.value
            #expect(stopped.status == 0, "\(layout[index].name): \(servers[index].log)")
            #expect(stopped.seconds < 10, "\(layout[index].name) took \(stopped.seconds) s")
        }
        return FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/estafeta.sqlite").path)
    }
}
