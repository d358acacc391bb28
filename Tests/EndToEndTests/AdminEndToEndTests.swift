import Foundation
import Testing
import TestSupport

@Suite("estafeta-admin driven with curl, two processes on one database")
struct AdminEndToEndTests {
    @Test("bootstrap token, changes seen by another process at once, CLI tokens with scopes and revocation, host check")
    func adminWithCurl() async throws {
        let bootstrap = "bootstrap-token-" + String(repeating: "x", count: 32)
        let first = try RunningServer(
            "estafeta-admin", arguments: RunningServer.loopbackListeners, environment: ["ESTAFETA_ADMIN_TOKEN": bootstrap],
            name: "first")
        defer { first.removeDirectory() }
        try await first.waitUntilReady()
        let second = try RunningServer(
            "estafeta-admin", arguments: RunningServer.loopbackListeners, directory: first.directory, name: "second")
        try await second.waitUntilReady()
        let one = "http://127.0.0.1:\(first.ports["admin"] ?? 0)"
        let two = "http://127.0.0.1:\(second.ports["admin"] ?? 0)"
        let auth = ["-H", "Authorization: Bearer \(bootstrap)"]
        let json = ["-H", "Content-Type: application/json"]

        #expect(try await curl(["\(one)/api/v1/domains"]).status == 401)
        #expect(try await curl(auth + json + ["-d", #"{"name":"example.org"}"#, "\(one)/api/v1/domains"]).status == 201)
        let created = try await curl(
            auth + json + ["-d", #"{"address":"alice@example.org","password":"correct horse battery"}"#, "\(one)/api/v1/accounts"])
        #expect(created.status == 201, "\(created.body)")
        // The other process sees the account at once: the database is the only shared state.
        let seen = try await curl(auth + ["\(two)/api/v1/accounts/alice@example.org"])
        #expect(seen.status == 200 && seen.body.contains(#""address":"alice@example.org""#), "\(seen.body)")
        #expect(try await curl(auth + ["-H", "Host: evil.example", "\(one)/api/v1/domains"]).status == 421)
        let openAPI = try await curl(["\(two)/openapi.json"])
        #expect(openAPI.status == 200 && openAPI.body.contains(#""openapi": "3.1.0""#))

        // A read-only token made by the CLI (a third process) works on both servers at once.
        let made = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"),
            ["token", "create", "--read-only", "--description", "e2e", "--database-path", first.databasePath]
        ).finish()
        #expect(made.status == 0, "\(made.errors)")
        let readOnly = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(readOnly.hasPrefix("est_"))
        let readAuth = ["-H", "Authorization: Bearer \(readOnly)"]
        #expect(try await curl(readAuth + ["\(two)/api/v1/accounts"]).status == 200)
        let refused = try await curl(readAuth + json + ["-d", #"{"name":"other.org"}"#, "\(one)/api/v1/domains"])
        #expect(refused.status == 403 && refused.body.contains("insufficient-scope"))
        let revoked = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"),
            ["token", "revoke", String(readOnly.split(separator: "_")[1]), "--database-path", first.databasePath]
        ).finish()
        #expect(revoked.status == 0, "\(revoked.errors)")
        #expect(try await curl(readAuth + ["\(two)/api/v1/accounts"]).status == 401)

        let audit = try await curl(auth + ["\(two)/api/v1/audit"])
        for action in ["token.bootstrap", "domain.create", "account.create", "token.create", "token.revoke"] {
            #expect(audit.body.contains(#""action":"\#(action)""#), "\(action) missing from \(audit.body)")
        }
        #expect(try await first.stop().status == 0)
        #expect(try await second.stop().status == 0)
    }
}

@Suite("estafeta-admin against malformed HTTP")
struct AdminHostileHTTPTests {
    @Test("request smuggling shapes, bare CR, obs-fold and oversized heads get 400 and a closed connection; idle ones are closed")
    func hostileHTTP() async throws {
        let server = try RunningServer(
            "estafeta-admin", arguments: RunningServer.loopbackListeners + ["--admin-idle-timeout-seconds", "1"])
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        let result = try await PythonClient.run("http_hostile.py", [String(server.ports["admin"] ?? 0), "1"])
        #expect(result.status == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n").filter { $0.contains("|") }
        #expect(lines.count == 9, "\(result.output)")
        for line in lines where !line.hasPrefix("idle-connection") {
            #expect(line.contains("|HTTP/1.1 400") && line.hasSuffix("closed-after: yes"), "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("idle-connection") && $0.hasSuffix("closed-after: yes") }, "\(result.output)")
        // And the server is still healthy.
        let health = try await PythonClient.run(
            "probe_suite.py", [server.readyFile.path, server.certificatePath, "admin"])
        #expect(health.status == 0, "\(health.output)")
        #expect(try await server.stop().status == 0)
    }
}
