import Foundation
import Logging
import MailStore
import Testing
import TestSupport

/// MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) for the suite's own domains: the policy set through the
/// admin API, served by the admin service behind an HTTPS front end (the test's policy peer passing
/// `mta-sts.<domain>` on), read back by the DNS check, and honoured by another suite's relay.
extension RelayTests {
    struct TransportSecurity: Decodable {
        let mtaStsMode: String
        let mtaStsPolicy: String?
        let mtaStsId: String?
        let tlsReportAddresses: [String]
    }

    struct DNSCheck: Decodable {
        struct Record: Decodable {
            let purpose: String
            let name: String
            let type: String
            let expected: String
            let found: [String]
            let status: String
            let detail: String?
        }
        let records: [Record]
    }

    @Test("Own domains' MTA-STS and TLS-RPT: set through the admin API, the policy is served for mta-sts.<domain>, the DNS check reads back the records and the policy over HTTPS, and another suite's relay enforces it")
    func ownTransportSecurity() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-own-sts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        // The front end for mta-sts.shop.example, and the certificate shop.example's MX presents (both
        // from the test CA).
        let peers = try await TLSPeers.start(
            in: work,
            setup: ["verified": ["mta-sts.shop.example", "mx.shop.example"], "policies": ["mta-sts.shop.example": ["proxy": true]]])
        defer { peers.stop() }
        let httpsPort = peers.ports["https"] ?? 0
        let dnsPort = Int.random(in: 20_000...60_000)
        let trusted = ["--relay-dns-server", "127.0.0.1:\(dnsPort)", "--relay-mta-sts-port", String(httpsPort),
                       "--relay-trusted-ca-file", work.appendingPathComponent("ca.pem").path]
        let shop = try await self.suite(
            "mx.shop.example", domain: "shop.example", account: "bob@shop.example",
            options: trusted + [
                "--tls-certificate", work.appendingPathComponent("good-chain.pem").path,
                "--tls-key", work.appendingPathComponent("good.key").path,
            ])
        defer { shop.removeDirectory() }
        try String(shop.ports["admin"] ?? 0).write(to: work.appendingPathComponent("proxy-port"), atomically: true, encoding: .utf8)
        let path = "/api/v1/domains/shop.example/transport-security"

        // Nothing is served before the domain has a policy.
        let initial = try await admin(shop, token: Self.token, "GET", path)
        #expect(initial.status == 200 && initial.body.contains(#""mtaStsMode":"none""#) && initial.body.contains(#""mtaStsPolicy":null"#), "\(initial.body)")
        func served(_ host: String) async throws -> (status: Int, body: String) {
            try await curl(["-H", "Host: \(host)", "http://127.0.0.1:\(shop.ports["admin"] ?? 0)/.well-known/mta-sts.txt"])
        }
        #expect(try await served("mta-sts.shop.example").status == 404)
        for bad in [
            #"{"mtaStsMode":"strict"}"#, #"{"mtaStsMaxAgeSeconds":0}"#, #"{"mtaStsMaxAgeSeconds":31557601}"#,
            #"{"mtaStsMx":["mx .shop.example"]}"#, #"{"mtaStsMx":"mx.shop.example"}"#, #"{"tlsReportAddresses":["ftp://x.example"]}"#,
            #"{"tlsReportAddresses":["mailto:a@x.example,mailto:b@x.example"]}"#, #"{"mtaStsPolicy":"x"}"#,
        ] {
            let refused = try await admin(shop, token: Self.token, "PATCH", path, bad)
            #expect(refused.status == 400, "\(bad): \(refused.body)")
        }
        #expect(try await admin(shop, token: Self.token, "PATCH", "/api/v1/domains/nowhere.example/transport-security", "{}").status == 404)

        let set = try await admin(
            shop, token: Self.token, "PATCH", path, #"{"mtaStsMode":"enforce","tlsReportAddresses":["mailto:tlsrpt@shop.example"]}"#)
        #expect(set.status == 200, "\(set.body)")
        let enforced = try JSONDecoder().decode(TransportSecurity.self, from: Data(set.body.utf8))
        let policyText = "version: STSv1\r\nmode: enforce\r\nmx: mx.shop.example\r\nmax_age: 604800\r\n"
        #expect(enforced.mtaStsPolicy == policyText && enforced.tlsReportAddresses == ["mailto:tlsrpt@shop.example"])
        let id = try #require(enforced.mtaStsId)
        #expect((1...32).contains(id.count) && id.allSatisfy { $0.isLetter || $0.isNumber })
        let fetched = try await served("mta-sts.shop.example")
        #expect(fetched.status == 200 && fetched.body == policyText, "\(fetched.body)")
        #expect(try await served("mta-sts.nowhere.example").status == 404)
        #expect(try await served("shop.example").status == 404)
        let audit = try await admin(shop, token: Self.token, "GET", "/api/v1/audit")
        #expect(audit.body.contains(#""action":"domain.transport-policy""#), "\(audit.body)")

        // The DNS check: the policy is already served through the front end, the records are not published yet.
        let hosts = [
            "--mx-host=shop.example,mx.shop.example,10", "--host-record=mx.shop.example,127.0.0.1",
            "--host-record=mta-sts.shop.example,127.0.0.1",
        ]
        var dns = try await self.startDNS(hosts, directory: work, port: dnsPort).pidFile
        func check() async throws -> [String: DNSCheck.Record] {
            let answer = try await admin(shop, token: Self.token, "GET", "/api/v1/domains/shop.example/dns")
            #expect(answer.status == 200, "\(answer.body)")
            let records = try JSONDecoder().decode(DNSCheck.self, from: Data(answer.body.utf8)).records
            return Dictionary(records.map { ($0.purpose, $0) }) { first, _ in first }
        }
        var records = try await check()
        #expect(records["mta-sts"]?.status == "missing" && records["mta-sts"]?.expected == "v=STSv1; id=\(id)", "\(records)")
        #expect(records["mta-sts"]?.name == "_mta-sts.shop.example" && records["mta-sts"]?.type == "TXT")
        #expect(records["mta-sts-policy"]?.status == "ok" && records["mta-sts-policy"]?.type == "HTTPS", "\(records)")
        #expect(records["mta-sts-policy"]?.name == "https://mta-sts.shop.example/.well-known/mta-sts.txt")
        #expect(records["mta-sts-policy"]?.found == ["version: STSv1", "mode: enforce", "mx: mx.shop.example", "max_age: 604800"])
        #expect(records["tls-rpt"]?.status == "missing" && records["tls-rpt"]?.expected == "v=TLSRPTv1; rua=mailto:tlsrpt@shop.example")

        // Published as the check says: every record is found and right.
        let published = hosts + [
            "--txt-record=_mta-sts.shop.example,v=STSv1; id=\(id)", "--txt-record=_smtp._tls.shop.example,v=TLSRPTv1; rua=mailto:tlsrpt@shop.example",
        ]
        self.stopDNS(dns)
        dns = try await self.startDNS(published, directory: work, port: dnsPort).pidFile
        defer { self.stopDNS(dns) }
        // At once: each check asks afresh, with nothing kept from the first one's "no such name".
        records = try await check()
        for purpose in ["mx", "mta-sts", "mta-sts-policy", "tls-rpt"] {
            #expect(records[purpose]?.status == "ok", "\(purpose): \(String(describing: records[purpose]))")
        }
        #expect(records["mta-sts"]?.found == ["v=STSv1; id=\(id)"], "\(records)")

        // Another suite sends to shop.example: it fetches the policy through the front end and delivers
        // over TLS it verified against the policy's MX name.
        let sender = try await self.suite(
            "mx.example.org", domain: "example.org", account: "alice@example.org",
            options: trusted + ["--relay-mx-port", String(shop.ports["smtp"] ?? 0)])
        defer { sender.removeDirectory() }
        let shopStore = try MailStore.open(settings: MailStoreSettings(path: shop.databasePath), logger: Logger(label: "shop"))
        try await self.submit(sender, from: "alice@example.org", to: ["bob@shop.example"], subject: "under the policy")
        try await eventually("bob receives the mail", timeout: .seconds(60)) {
            try await inboxContents(shopStore, "bob@shop.example").contains { $0.contains("Subject: under the policy") }
        }
        let fetches = (try? String(contentsOf: work.appendingPathComponent("fetches.log"), encoding: .utf8)) ?? ""
        #expect(fetches.contains("mta-sts.shop.example /.well-known/mta-sts.txt"), "\(fetches)")

        // A changed policy gets a new id; once it is published the sender fetches it again, and as it lists
        // another MX host, the mail waits (4.7.5) rather than going to mx.shop.example.
        let moved = try await admin(shop, token: Self.token, "PATCH", path, #"{"mtaStsMx":["mx2.shop.example"]}"#)
        let movedPolicy = try JSONDecoder().decode(TransportSecurity.self, from: Data(moved.body.utf8))
        let newID = try #require(movedPolicy.mtaStsId)
        #expect(newID != id && movedPolicy.mtaStsMode == "enforce" && movedPolicy.mtaStsPolicy?.contains("mx: mx2.shop.example\r\n") == true)
        records = try await check()
        #expect(records["mta-sts"]?.status == "wrong" && records["mta-sts"]?.detail?.contains("id") == true, "\(records)")
        self.stopDNS(dns)
        dns = try await self.startDNS(
            hosts + ["--txt-record=_mta-sts.shop.example,v=STSv1; id=\(newID)"], directory: work, port: dnsPort).pidFile
        try await self.submit(sender, from: "alice@example.org", to: ["bob@shop.example"], subject: "after the move")
        var deferred = ""
        try await eventually("the mail is deferred for the policy", timeout: .seconds(60)) {
            deferred = try await admin(sender, token: Self.token, "GET", "/api/v1/queue?state=deferred").body
            return deferred.contains("MTA-STS")
        }
        #expect(deferred.contains("4.7.5") && deferred.contains("mx.shop.example"), "\(deferred)")
        #expect(try await !inboxContents(shopStore, "bob@shop.example").contains { $0.contains("Subject: after the move") })
        #expect(try await sender.stop().status == 0)
        #expect(try await shop.stop().status == 0)
    }
}
