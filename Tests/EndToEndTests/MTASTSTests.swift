import Foundation
import Testing
import TestSupport

/// MTA-STS (RFC 8461) on the relay's side: policies found through DNS (dnsmasq), fetched over HTTPS
/// from a policy server with a certificate from a test CA, and applied to delivery through MX hosts
/// on a test MX (`Tests/Clients/mta_sts_peers.py`) that shows a CA-signed or a self-signed certificate.
extension RelayTests {
    @Test("MTA-STS: an enforced policy needs a listed MX with a valid certificate (else deferred, 4.7.5, reason in the queue API); testing, unreachable and redirected policies do not stop delivery; a policy is fetched once while its id stays")
    func mtaSTS() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-sts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        func policy(_ mode: String, _ mx: [String]) -> [String: Any] {
            ["body": "version: STSv1\r\nmode: \(mode)\r\n" + mx.map { "mx: \($0)\r\n" }.joined() + "max_age: 86400\r\n"]
        }
        let setup: [String: Any] = [
            "verified": [
                "mta-sts.enforce.example", "mx.enforce.example", "mta-sts.badcert.example", "mta-sts.mismatch.example",
                "mx.mismatch.example", "mta-sts.testing.example", "mta-sts.wildcard.example", "mx1.wildcard.example",
                "mta-sts.redirect.example",
            ],
            "policies": [
                "mta-sts.enforce.example": policy("enforce", ["mx.enforce.example"]),
                "mta-sts.badcert.example": policy("enforce", ["mx.badcert.example"]),
                "mta-sts.mismatch.example": policy("enforce", ["*.elsewhere.example"]),
                "mta-sts.testing.example": policy("testing", ["mx.testing.example"]),
                "mta-sts.wildcard.example": policy("enforce", ["*.wildcard.example"]),
                // Not reachable with a valid certificate: the policy host's name is not in "verified".
                "mta-sts.rogue.example": policy("enforce", ["mx.rogue.example"]),
                "mta-sts.redirect.example": ["status": 302, "location": "https://mta-sts.enforce.example/.well-known/mta-sts.txt"],
            ],
        ]
        try JSONSerialization.data(withJSONObject: setup).write(to: work.appendingPathComponent("peers.json"))
        let peers = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", PythonClient.clientsDirectory.appendingPathComponent("mta_sts_peers.py").path, work.path])
        defer { peers.process.kill() }
        var ports: [String: Int] = [:]
        try await eventually("the MTA-STS peers listen", timeout: .seconds(60)) {
            ports = (try? JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("ports.json"))) as? [String: Int]) ?? [:]
            return ports.count == 2
        }

        let domains = ["enforce", "badcert", "mismatch", "testing", "wildcard", "rogue", "redirect", "none"]
        var records: [String] = []
        for name in domains {
            let domain = "\(name).example"
            let mx = name == "wildcard" ? "mx1.wildcard.example" : "mx.\(domain)"
            records += ["--mx-host=\(domain),\(mx),10", "--host-record=\(mx),127.0.0.1", "--host-record=mta-sts.\(domain),127.0.0.1"]
            if name != "none" { records.append("--txt-record=_mta-sts.\(domain),v=STSv1; id=20261204T1;") }
        }
        let (dnsPidFile, dnsPort) = try await self.startDNS(records, directory: work)
        defer { self.stopDNS(dnsPidFile) }
        let a = try await self.suite(
            "mx.example.org", domain: "example.org", account: "alice@example.org",
            options: [
                "--relay-dns-server", "127.0.0.1:\(dnsPort)", "--relay-mx-port", String(ports["smtp"] ?? 0),
                "--relay-mta-sts-port", String(ports["https"] ?? 0), "--relay-trusted-ca-file", work.appendingPathComponent("ca.pem").path,
            ])
        defer { a.removeDirectory() }

        try await self.submit(a, from: "alice@example.org", to: domains.map { "user@\($0).example" }, subject: "first")
        let delivered = ["enforce", "testing", "wildcard", "rogue", "redirect", "none"]
        let maildir = work.appendingPathComponent("mail")
        func received() -> [String] {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: maildir.path)) ?? []
            return files.sorted().compactMap { try? String(contentsOf: maildir.appendingPathComponent($0), encoding: .utf8) }
        }
        try await eventually("every deliverable domain's copy arrives", timeout: .seconds(60)) {
            delivered.allSatisfy { name in received().contains { $0.contains("X-Envelope-To: user@\(name).example") } }
        }
        var deferred = ""
        try await eventually("the two enforced domains without a usable MX are deferred", timeout: .seconds(60)) {
            deferred = try await admin(a, token: Self.token, "GET", "/api/v1/queue?state=deferred").body
            return deferred.contains(#""address":"user@badcert.example""#) && deferred.contains(#""address":"user@mismatch.example""#)
        }
        // The queue API names the reason: a certificate that does not verify, MX hosts the policy does not list.
        #expect(deferred.contains("451 4.7.5 the MTA-STS policy of badcert.example requires authenticated TLS; TLS with mx.badcert.example"), "\(deferred)")
        #expect(deferred.contains("CERTIFICATE_VERIFY_FAILED"), "\(deferred)")
        #expect(deferred.contains("451 4.7.5 MTA-STS policy of mismatch.example lists none of its MX hosts (mx.mismatch.example)"), "\(deferred)")
        let mail = received()
        #expect(!mail.contains { $0.contains("user@badcert.example") || $0.contains("user@mismatch.example") }, "never sent in plaintext or to another host\n\(a.log)")
        for name in delivered {
            // Every copy went over TLS: verified for the enforced ones, opportunistic for the others.
            #expect(mail.contains { $0.contains("X-Envelope-To: user@\(name).example\r\nX-TLS: yes") }, "\(name)")
        }

        // A second message to the enforced domain: the policy is kept (same id), not fetched again.
        try await self.submit(a, from: "alice@example.org", to: ["user@enforce.example"], subject: "second")
        try await eventually("the second message arrives", timeout: .seconds(60)) {
            received().filter { $0.contains("X-Envelope-To: user@enforce.example") }.count == 2
        }
        let fetches = (try? String(contentsOf: work.appendingPathComponent("fetches.log"), encoding: .utf8)) ?? ""
        #expect(fetches.components(separatedBy: "mta-sts.enforce.example /.well-known/mta-sts.txt").count == 2, "\(fetches)")
        // The redirect was not followed (RFC 8461 §3.3): only the redirecting host was asked.
        #expect(fetches.contains("mta-sts.redirect.example /.well-known/mta-sts.txt"), "\(fetches)")
        #expect(!fetches.contains("mta-sts.none.example"), "no TXT record, no fetch: \(fetches)")
        #expect(a.log.contains("cannot fetch the MTA-STS policy") && a.log.contains("rogue.example"), "\(a.log)")
        #expect(try await a.stop().status == 0)
    }
}
