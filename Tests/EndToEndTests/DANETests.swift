import Foundation
import Testing
import TestSupport

/// DANE for SMTP (RFC 7672) on the relay's side: a DNSSEC-signed zone (`SignedZone`: ldns and NSD) with
/// MX and TLSA records, validated by the relay's resolver from the zone's trust anchor, and a test MX
/// (`Tests/Clients/mta_sts_peers.py`) with a CA-signed or a self-signed certificate.
extension RelayTests {
    /// The SHA-256, in hex, of a PEM certificate's DER form (`cert`) or of its public key (`spki`).
    func certificateDigest(_ pem: URL, of part: String) async throws -> String {
        let pipeline = part == "spki"
            ? "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum"
            : "openssl x509 -in \"$1\" -outform DER | sha256sum"
        let result = try await ChildProcess.start(URL(fileURLWithPath: "/bin/sh"), ["-c", pipeline, "sh", pem.path]).finish()
        let digest = String(result.output.prefix(64))
        #expect(digest.count == 64 && result.status == 0, "\(result.output)\(result.errors)")
        return digest
    }

    @Test("DANE: validated TLSA records make TLS mandatory and the certificate must match (DANE-EE by key, DANE-TA by CA and name); a mismatch or a bogus zone defers with the reason; unusable records still mean TLS; no TLSA, opportunistic")
    func dane() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-dane-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        // Names with a CA-signed certificate; every other name gets a self-signed one.
        let setup: [String: Any] = [
            "verified": ["mx.good.dane.example", "mx.ta.dane.example", "mx.bad.dane.example"], "misnamed": ["mx.taname.dane.example"],
            "policies": [:],
        ]
        let peers = try await TLSPeers.start(in: work, setup: setup)
        defer { peers.stop() }
        let ports = peers.ports
        let smtpPort = ports["smtp"] ?? 0
        let serverKey = try await self.certificateDigest(work.appendingPathComponent("good.pem"), of: "spki")
        let authority = try await self.certificateDigest(work.appendingPathComponent("ca.pem"), of: "cert")
        let tlsa = { (host: String, record: String) in "_\(smtpPort)._tcp.mx.\(host) IN TLSA \(record)" }
        var records: [String] = []
        for host in ["good", "ta", "taname", "bad", "unusable", "plain"] {
            records += ["\(host) IN MX 10 mx.\(host)", "mx.\(host) IN A 127.0.0.1"]
        }
        records += [
            tlsa("good", "3 1 1 \(serverKey)"),
            tlsa("ta", "2 0 1 \(authority)"),
            // The CA issued the server's certificate, but for another name.
            tlsa("taname", "2 0 1 \(authority)"),
            tlsa("bad", "3 1 1 " + String(repeating: "0", count: 64)),
            // PKIX-EE is not for SMTP (RFC 7672 §3.1.3): TLS is still required, unauthenticated.
            tlsa("unusable", "1 1 1 \(serverKey)"),
        ]
        let zone = try await SignedZone.start(
            origin: "dane.example", records: records,
            // Added after signing, as an attacker on the path would: no valid signature.
            tampered: ["bogus.dane.example. 300 IN MX 10 mx.good.dane.example."], directory: work.appendingPathComponent("zone"))
        defer { zone.stop() }

        let a = try await self.suite(
            "mx.example.org", domain: "example.org", account: "alice@example.org",
            options: [
                "--relay-dns-server", "127.0.0.1:\(zone.port)", "--relay-dnssec-trust-anchor-file", zone.trustAnchorFile.path,
                "--relay-mx-port", String(smtpPort),
            ])
        defer { a.removeDirectory() }
        let hosts = ["good", "ta", "taname", "bad", "unusable", "plain", "bogus"]
        try await self.submit(a, from: "alice@example.org", to: hosts.map { "user@\($0).dane.example" }, subject: "dane")

        let received = peers.received
        let delivered = ["good", "ta", "unusable", "plain"]
        try await eventually("the deliverable copies arrive", timeout: .seconds(60)) {
            delivered.allSatisfy { host in received().contains { $0.contains("X-Envelope-To: user@\(host).dane.example") } }
        }
        var deferred = ""
        try await eventually("the mismatched and the bogus are deferred", timeout: .seconds(60)) {
            deferred = try await admin(a, token: Self.token, "GET", "/api/v1/queue?state=deferred").body
            return ["bad", "taname", "bogus"].allSatisfy { deferred.contains(#""address":"user@\#($0).dane.example""#) }
        }
        #expect(deferred.contains("451 4.7.5 DANE (TLSA records of mx.bad.dane.example) requires authenticated TLS"), "\(deferred)")
        #expect(deferred.contains("no DANE-EE record matches the server's certificate"), "\(deferred)")
        #expect(deferred.contains("DNSSEC-bogus answer for bogus.dane.example"), "\(deferred)")
        #expect(deferred.contains("does not chain to its DANE-TA certificate for mx.taname.dane.example"), "\(deferred)")
        let mail = received()
        #expect(!mail.contains { text in ["bad", "taname", "bogus"].contains { text.contains("user@\($0).dane.example") } }, "\(a.log)")
        for host in delivered {
            #expect(mail.contains { $0.contains("X-Envelope-To: user@\(host).dane.example\r\nX-TLS: yes") }, "\(host)")
        }
        #expect(try await a.stop().status == 0)
    }
}
