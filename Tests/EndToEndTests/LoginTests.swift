import Foundation
import Testing
import TestSupport

/// The login every protocol shares: failures counted in the store (seen by every protocol and after a
/// restart) and a failing store answered as a temporary error, never as a wrong password.
@Suite("Login across protocols", .serialized)
struct LoginTests {
    static let token = "login-e2e-token-" + String(repeating: "l", count: 32)

    private func run(_ server: RunningServer, _ mode: String, _ extra: [String] = []) async throws {
        let checks = try await PythonClient.run(
            "login_checks.py",
            [
                mode, String(server.ports["imaps"] ?? 0), String(server.ports["pop3s"] ?? 0),
                String(server.ports["submissions"] ?? 0), server.certificatePath,
            ] + extra)
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
    }

    @Test("failed logins over IMAP, POP3 and SMTP count together towards the lockout, and a restart remembers them")
    func sharedPenalties() async throws {
        let options = ["--auth-lockout-failures", "3"]
        let server = try await startSuiteWithAlice(name: "login", hostname: "login.estafeta.test", token: Self.token, options: options)
        defer { server.removeDirectory() }
        try await self.run(server, "count")
        #expect(try await server.stop().status == 0)

        let restarted = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", "login.estafeta.test", "--smtp-auth-failure-delay-ms", "20"] + options
                + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token], directory: server.directory, name: "restarted")
        try await restarted.waitUntilReady()
        try await self.run(restarted, "still-locked")
        #expect(try await restarted.stop().status == 0)
    }

    @Test("a store failure during login: NO [UNAVAILABLE], -ERR [SYS/TEMP], 454 4.7.0; no lockout counted")
    func storeFailure() async throws {
        let server = try await startSuiteWithAlice(
            name: "login-store", hostname: "login.estafeta.test", token: Self.token, options: ["--auth-lockout-failures", "2"])
        defer { server.removeDirectory() }
        try await self.run(server, "store-down", [server.databasePath])
        #expect(try await server.stop().status == 0)
    }
}
