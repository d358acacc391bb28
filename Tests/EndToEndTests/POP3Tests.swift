import Foundation
import Testing
import TestSupport

/// The POP3 gateway with clients nobody here wrote: Python's poplib (STLS and POP3S) and curl, on mail
/// that arrived through SMTP and the delivery worker.
@Suite("POP3 gateway end to end", .serialized)
struct POP3Tests {
    static let token = "pop3-e2e-token-" + String(repeating: "p", count: 32)

    private func startSuite(options: [String] = []) async throws -> RunningServer {
        let server = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", "pop.estafeta.test", "--relay-poll-interval-ms", "100", "--smtp-auth-failure-delay-ms", "20"]
                + options + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token], name: "pop3")
        try await server.waitUntilReady()
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/domains", #"{"name":"example.org"}"#).status == 201)
        let account = try await admin(
            server, token: Self.token, "POST", "/api/v1/accounts",
            #"{"address":"alice@example.org","password":"correct horse battery"}"#)
        #expect(account.status == 201, "\(account.body)")
        return server
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
        #expect(try await server.stop().status == 0)
    }
}
