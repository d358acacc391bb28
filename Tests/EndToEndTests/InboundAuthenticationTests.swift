import Foundation
import Testing
import TestSupport

/// SPF, DKIM and DMARC at the MX, compared case by case with pyspf, dkimpy and authheaders
/// (`Tests/Clients/mail_auth_checks.py`), every record served by a real DNS server on loopback.
extension RelayTests {
    @Test("Inbound authentication: SPF as pyspf says, DKIM as dkimpy says (each canonicalisation, RSA and Ed25519), DMARC as authheaders says; p=reject refused with 550 5.7.1, p=quarantine filed in Junk, forged Authentication-Results removed, hostile signatures and records bounded")
    func inboundAuthentication() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mail-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let prepared = try await PythonClient.run("mail_auth_checks.py", ["prepare", directory.path])
        #expect(prepared.status == 0, "\(prepared.output)")
        let records = prepared.output.split(separator: "\n").filter { $0.hasPrefix("--") }.map(String.init)
        let (dnsPidFile, dnsPort) = try await self.startDNS(records, directory: directory)
        defer { self.stopDNS(dnsPidFile) }
        let server = try await self.suite(
            "mx.dest.example", domain: "dest.example", account: "bob@dest.example",
            options: ["--smtp-verify-inbound", "true", "--relay-dns-server", "127.0.0.1:\(dnsPort)"])
        defer { server.removeDirectory() }
        let checks = try await PythonClient.run(
            "mail_auth_checks.py",
            ["run", directory.path, String(server.ports["smtp"] ?? 0), String(server.ports["imaps"] ?? 0), String(dnsPort)])
        #expect(checks.status == 0, "\(checks.output)")
        #expect(checks.output.contains(" cases, 0 failures"), "\(checks.output)")
        #expect(try await server.stop().status == 0)
    }
}
