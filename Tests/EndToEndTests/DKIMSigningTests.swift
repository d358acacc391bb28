import Foundation
import Logging
import MailStore
import Testing
import TestSupport

/// DKIM signing of submitted mail, checked by dkimpy (`Tests/Clients/dkim_checks.py`) with the keys
/// published, as the admin API says to publish them, in a real DNS server on loopback.
extension RelayTests {
    struct PublishedKey: Decodable {
        struct Record: Decodable {
            let name: String
            let type: String
            let value: String
            let strings: [String]
        }
        let selector: String
        let algorithm: String
        let state: String
        let dnsRecord: Record
    }

    func dkimKey(_ server: RunningServer, _ method: String, _ path: String, _ json: String? = nil, status: Int)
        async throws -> PublishedKey?
    {
        let answer = try await admin(server, token: Self.token, method, path, json)
        #expect(answer.status == status, "\(method) \(path): \(answer.body)")
        // The private half is never shown.
        #expect(!answer.body.localizedCaseInsensitiveContains("private"), "\(answer.body)")
        return try? JSONDecoder().decode(PublishedKey.self, from: Data(answer.body.utf8))
    }

    /// dkimpy's verdict on each signature of `message`: (selector, algorithm, ok, signed header names).
    func verifySignatures(_ message: String, dnsPort: Int, directory: URL) async throws -> [(s: String, a: String, ok: Bool, h: String, x: String)] {
        let file = directory.appendingPathComponent("signed-\(UUID().uuidString).eml")
        try Data(message.utf8).write(to: file)
        let result = try await PythonClient.run("dkim_checks.py", ["verify", String(dnsPort), file.path])
        #expect(result.status == 0, "\(result.output)")
        struct Verdict: Decodable { let s: String; let a: String; let ok: Bool; let h: String; let x: String; let error: String }
        return try result.output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            let verdict = try JSONDecoder().decode(Verdict.self, from: Data($0.utf8))
            if !verdict.ok { Issue.record("dkimpy: \(verdict.s) \(verdict.a): \(verdict.error)") }
            return (verdict.s, verdict.a, verdict.ok, verdict.h, verdict.x)
        }
    }

    @Test("DKIM: keys made and published through the admin API sign submitted mail (RSA and Ed25519), dkimpy verifies it at the remote MX; rotation switches selectors")
    func dkimSigning() async throws {
        // B checks what arrives, asking the DNS server where the keys will be published (started once
        // they are made, on a port chosen now).
        let txtPort = Int.random(in: 20_000...60_000)
        let b = try await self.suite(
            "mx.remote.example", domain: "remote.example", account: "bob@remote.example",
            options: ["--smtp-verify-inbound", "true", "--relay-dns-server", "127.0.0.1:\(txtPort)"])
        defer { b.removeDirectory() }
        let (mxPidFile, mxPort) = try await self.startDNS(
            ["--mx-host=remote.example,mx.remote.example,10", "--host-record=mx.remote.example,127.0.0.1"], directory: b.directory)
        defer { self.stopDNS(mxPidFile) }
        let a = try await self.suite(
            "mx.example.org", domain: "example.org", account: "alice@example.org",
            options: ["--relay-dns-server", "127.0.0.1:\(mxPort)", "--relay-mx-port", String(b.ports["smtp"] ?? 0)],
            environment: ["ESTAFETA_DKIM_SIGNATURE_LIFETIME_SECONDS": "86400"])
        defer { a.removeDirectory() }

        let keysPath = "/api/v1/domains/example.org/dkim"
        let rsa = try #require(
            try await self.dkimKey(a, "POST", keysPath, #"{"selector":"s2026"}"#, status: 201))
        #expect(rsa.algorithm == "rsa-sha256" && rsa.state == "pending")
        #expect(rsa.dnsRecord.name == "s2026._domainkey.example.org" && rsa.dnsRecord.type == "TXT")
        #expect(rsa.dnsRecord.value.hasPrefix("v=DKIM1; k=rsa; p=MII"))
        #expect(rsa.dnsRecord.strings.joined() == rsa.dnsRecord.value && rsa.dnsRecord.strings.allSatisfy { $0.utf8.count <= 255 })
        let ed = try #require(
            try await self.dkimKey(a, "POST", keysPath, #"{"selector":"ed2026","algorithm":"ed25519-sha256"}"#, status: 201))
        #expect(ed.dnsRecord.value.hasPrefix("v=DKIM1; k=ed25519; p="))
        let next = try #require(try await self.dkimKey(a, "POST", keysPath, #"{"selector":"S2027"}"#, status: 201))
        #expect(next.selector == "s2027")
        _ = try await self.dkimKey(a, "POST", keysPath, #"{"selector":"s2026"}"#, status: 409)
        _ = try await self.dkimKey(a, "POST", keysPath, #"{"selector":"bad_selector"}"#, status: 400)
        _ = try await self.dkimKey(a, "POST", keysPath, #"{"selector":"x","algorithm":"rsa-sha1"}"#, status: 400)
        _ = try await self.dkimKey(a, "POST", "/api/v1/domains/nowhere.example/dkim", #"{"selector":"x"}"#, status: 404)
        #expect(try await self.dkimKey(a, "POST", "\(keysPath)/s2026/activate", status: 200)?.state == "active")
        #expect(try await self.dkimKey(a, "POST", "\(keysPath)/ed2026/activate", status: 200)?.state == "active")

        // The records as an operator would publish them, in a DNS server dkimpy asks.
        let txtPidFile = try await self.startDNS(
            [rsa, ed, next].map { "--txt-record=\($0.dnsRecord.name)," + $0.dnsRecord.strings.joined(separator: ",") },
            directory: a.directory, port: txtPort).pidFile
        defer { self.stopDNS(txtPidFile) }

        func send(_ subject: String) async throws {
            let sent = try await PythonClient.run(
                "dkim_checks.py",
                ["submit", String(a.ports["submission"] ?? 0), "alice@example.org", "correct horse battery", "bob@remote.example", subject])
            #expect(sent.output.hasPrefix("sent {}"), "\(sent.output)")
        }
        let bStore = try MailStore.open(settings: MailStoreSettings(path: b.databasePath), logger: Logger(label: "b"))
        func received(_ subject: String) async throws -> String {
            var message = ""
            try await eventually("bob has \(subject)") {
                message = try await inboxContents(bStore, "bob@remote.example").first { $0.contains("Subject: \(subject)") } ?? ""
                return !message.isEmpty
            }
            return message
        }

        try await send("signed twice")
        let first = try await received("signed twice")
        let firstVerdicts = try await self.verifySignatures(first, dnsPort: txtPort, directory: a.directory)
        #expect(firstVerdicts.map(\.s).sorted() == ["ed2026", "s2026"], "\(first)")
        #expect(firstVerdicts.allSatisfy { $0.ok })
        // B checked them too, and said so under its own name; a field claiming B's name that came with the
        // message (none here) would have been removed.
        #expect(first.contains("Authentication-Results: mx.remote.example;\r\n"), "\(first)")
        #expect(first.contains("\r\n\tdkim=pass header.d=example.org header.s=s2026 header.i=@example.org header.a=rsa-sha256"), "\(first)")
        #expect(first.contains("\r\n\tdkim=pass header.d=example.org header.s=ed2026 header.i=@example.org header.a=ed25519-sha256"), "\(first)")
        // From is oversigned (listed once more than it occurs); the expiry setting gives x=.
        #expect(firstVerdicts.allSatisfy { $0.h.split(separator: ":").filter { $0 == "from" }.count == 2 && !$0.x.isEmpty })
        // A relay that adds a second From afterwards breaks the signatures.
        let forged = first.replacingOccurrences(of: "Subject: signed twice", with: "From: mallory@example.org\r\nSubject: signed twice")
        let forgedFile = a.directory.appendingPathComponent("forged.eml")
        try Data(forged.utf8).write(to: forgedFile)
        let forgedResult = try await PythonClient.run("dkim_checks.py", ["verify", String(txtPort), forgedFile.path])
        #expect(!forgedResult.output.contains(#""ok": true"#), "\(forgedResult.output)")

        // A delivery report from mx.example.org is signed as example.org, its nearest domain with keys.
        try await self.submit(a, from: "alice@example.org", to: ["x@missing.example"], subject: "nowhere")
        let aStore = try MailStore.open(settings: MailStoreSettings(path: a.databasePath), logger: Logger(label: "a"))
        var report = ""
        try await eventually("alice has the bounce report") {
            report = try await inboxContents(aStore, "alice@example.org").first { $0.contains("x@missing.example") } ?? ""
            return !report.isEmpty
        }
        let reportVerdicts = try await self.verifySignatures(report, dnsPort: txtPort, directory: a.directory)
        #expect(reportVerdicts.map(\.s).sorted() == ["ed2026", "s2026"] && reportVerdicts.allSatisfy { $0.ok }, "\(report)")

        // Rotation: activating the next RSA key retires the current one in the same step.
        #expect(try await self.dkimKey(a, "POST", "\(keysPath)/s2027/activate", status: 200)?.state == "active")
        #expect(try await self.dkimKey(a, "GET", "\(keysPath)/s2026", status: 200)?.state == "retired")
        _ = try await self.dkimKey(a, "DELETE", "\(keysPath)/s2027", status: 409)
        try await send("after rotation")
        let second = try await received("after rotation")
        let secondVerdicts = try await self.verifySignatures(second, dnsPort: txtPort, directory: a.directory)
        #expect(secondVerdicts.map(\.s).sorted() == ["ed2026", "s2027"], "\(second)")
        #expect(secondVerdicts.allSatisfy { $0.ok })
        // Retired, then deleted with its private half.
        #expect(try await admin(a, token: Self.token, "DELETE", "\(keysPath)/s2026").status == 204)
        let listed = try await admin(a, token: Self.token, "GET", keysPath)
        #expect(listed.status == 200 && !listed.body.contains("s2026") && listed.body.contains("s2027"), "\(listed.body)")
        let audit = try await admin(a, token: Self.token, "GET", "/api/v1/audit").body
        #expect(audit.contains("dkim.activate") && audit.contains("dkim.delete"), "\(audit)")
        #expect(try await a.stop().status == 0)
        #expect(try await b.stop().status == 0)
    }
}

extension RelayTests {
    @Test("DNS check: the records a domain needs, with the values to publish and what a live look-up finds (ok, missing, wrong)")
    func domainDNSCheck() async throws {
        let dnsPort = Int.random(in: 20_000...60_000)
        let server = try await self.suite(
            "mx.shop.example", domain: "shop.example", account: "alice@shop.example",
            options: ["--relay-dns-server", "127.0.0.1:\(dnsPort)"])
        defer { server.removeDirectory() }
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/domains", #"{"name":"broken.example"}"#).status == 201)
        let keysPath = "/api/v1/domains/shop.example/dkim"
        let published = try #require(try await self.dkimKey(server, "POST", keysPath, #"{"selector":"s1"}"#, status: 201))
        let other = try #require(
            try await self.dkimKey(server, "POST", keysPath, #"{"selector":"s2","algorithm":"ed25519-sha256"}"#, status: 201))
        let decoy = try #require(
            try await self.dkimKey(server, "POST", "/api/v1/domains/broken.example/dkim", #"{"selector":"s2","algorithm":"ed25519-sha256"}"#, status: 201))
        let pidFile = try await self.startDNS(
            [
                "--mx-host=shop.example,mx.shop.example,10", "--txt-record=shop.example,v=spf1 mx -all",
                "--txt-record=s1._domainkey.shop.example," + published.dnsRecord.strings.joined(separator: ","),
                // Another key than the one made for s2.
                "--txt-record=s2._domainkey.shop.example," + decoy.dnsRecord.strings.joined(separator: ","),
                "--mx-host=broken.example,mx.elsewhere.example,10",
                "--txt-record=broken.example,v=spf1 -all", "--txt-record=broken.example,v=spf1 +all",
                "--txt-record=_dmarc.broken.example,v=DMARC1; p=reject",
            ],
            directory: server.directory, port: dnsPort
        ).pidFile
        defer { self.stopDNS(pidFile) }
        _ = other

        struct Check: Decodable {
            struct Record: Decodable {
                let purpose: String
                let name: String
                let expected: String
                let found: [String]
                let status: String
                let detail: String?
                let selector: String?
            }
            let domain: String
            let records: [Record]
        }
        let shop = try await admin(server, token: Self.token, "GET", "/api/v1/domains/shop.example/dns")
        #expect(shop.status == 200, "\(shop.body)")
        let check = try JSONDecoder().decode(Check.self, from: Data(shop.body.utf8))
        func record(_ purpose: String, _ selector: String? = nil) -> Check.Record? {
            check.records.first { $0.purpose == purpose && $0.selector == selector }
        }
        #expect(record("mx")?.status == "ok" && record("mx")?.expected == "10 mx.shop.example.", "\(shop.body)")
        #expect(record("spf")?.status == "ok" && record("spf")?.found == ["v=spf1 mx -all"], "\(shop.body)")
        #expect(record("dkim", "s1")?.status == "ok" && record("dkim", "s1")?.expected == published.dnsRecord.value, "\(shop.body)")
        #expect(record("dkim", "s1")?.detail == "published: the key can be activated", "\(shop.body)")
        #expect(record("dkim", "s2")?.status == "wrong" && record("dkim", "s2")?.name == "s2._domainkey.shop.example", "\(shop.body)")
        #expect(record("dmarc")?.status == "missing" && record("dmarc")?.expected.hasPrefix("v=DMARC1; p=") == true, "\(shop.body)")

        let broken = try await admin(server, token: Self.token, "GET", "/api/v1/domains/broken.example/dns")
        let brokenCheck = try JSONDecoder().decode(Check.self, from: Data(broken.body.utf8))
        let statuses = Dictionary(brokenCheck.records.map { ($0.purpose, $0.status) }) { first, _ in first }
        #expect(statuses["mx"] == "wrong" && statuses["spf"] == "wrong" && statuses["dmarc"] == "ok", "\(broken.body)")
        #expect(statuses["dkim"] == "missing", "\(broken.body)")
        #expect(try await admin(server, token: Self.token, "GET", "/api/v1/domains/nowhere.example/dns").status == 404)
        #expect(try await server.stop().status == 0)
    }
}
