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

extension POP3Tests {
    @Test("UPDATE is durable before +OK and UIDs survive a restart (P06, P11); a killed process's maildrop lock expires")
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

        let second = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", "pop.estafeta.test", "--pop3-lock-seconds", "2"] + RunningServer.loopbackListeners,
            directory: first.directory, name: "pop3-again")
        try await second.waitUntilReady()
        #expect(try await step(second, "state") == "count=1 uids=\(uids.last ?? "?")")

        // A session holds the maildrop when its process is killed: the lock outlives the process only
        // until its lease expires.
        let holder = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", PythonClient.clientsDirectory.appendingPathComponent("pop3_steps.py").path,
             String(second.ports["pop3s"] ?? 0), second.certificatePath, "hold"])
        defer { holder.process.terminate() }
        try await eventually("the holder has the maildrop") { try await step(second, "try-login") == "in-use" }
        _ = try await second.stop(signal: SIGKILL)
        let third = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", "pop.estafeta.test", "--pop3-lock-seconds", "2"] + RunningServer.loopbackListeners,
            directory: first.directory, name: "pop3-third")
        try await third.waitUntilReady()
        try await eventually("the lease expired", timeout: .seconds(10)) { try await step(third, "try-login") == "ok count=1" }
        #expect(try await third.stop().status == 0)
    }
}
