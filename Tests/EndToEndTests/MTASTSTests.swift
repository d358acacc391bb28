import Foundation
import Testing
import TestSupport

/// MTA-STS (RFC 8461) on the relay's side: policies found through DNS (dnsmasq), fetched over HTTPS
/// from a policy server with a certificate from a test CA, and applied to delivery through MX hosts
/// on a test MX (`Tests/Clients/mta_sts_peers.py`) that shows a CA-signed or a self-signed certificate.
extension RelayTests {
    @Test("MTA-STS: an enforced policy needs a listed MX with a valid certificate (else deferred, 4.7.5, reason in the queue API); testing, unreachable and redirected policies do not stop delivery; a policy is fetched once while its id stays, across restarts; TLS reports (RFC 8460) go by mail and HTTPS")
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
        let peers = try await TLSPeers.start(in: work, setup: setup)
        defer { peers.stop() }
        let ports = peers.ports

        let domains = ["enforce", "badcert", "mismatch", "testing", "wildcard", "rogue", "redirect", "none"]
        var records: [String] = []
        for name in domains {
            let domain = "\(name).example"
            let mx = name == "wildcard" ? "mx1.wildcard.example" : "mx.\(domain)"
            records += ["--mx-host=\(domain),\(mx),10", "--host-record=\(mx),127.0.0.1", "--host-record=mta-sts.\(domain),127.0.0.1"]
            if name != "none" { records.append("--txt-record=_mta-sts.\(domain),v=STSv1; id=20261204T1;") }
        }
        // TLS reports (RFC 8460): by mail to a mailbox at the test MX, or posted to the HTTPS peer.
        records += [
            "--mx-host=reports.example,mx.reports.example,10", "--host-record=mx.reports.example,127.0.0.1",
            "--txt-record=_smtp._tls.badcert.example,v=TLSRPTv1; rua=mailto:tlsrpt@reports.example",
            "--txt-record=_smtp._tls.enforce.example,v=TLSRPTv1; rua=mailto:tlsrpt@reports.example",
            "--txt-record=_smtp._tls.testing.example,v=TLSRPTv1; rua=https://mta-sts.enforce.example:\(ports["https"] ?? 0)/tlsrpt",
        ]
        let (dnsPidFile, dnsPort) = try await self.startDNS(records, directory: work)
        defer { self.stopDNS(dnsPidFile) }
        let options = [
            "--relay-dns-server", "127.0.0.1:\(dnsPort)", "--relay-mx-port", String(ports["smtp"] ?? 0),
            "--relay-mta-sts-port", String(ports["https"] ?? 0), "--relay-trusted-ca-file", work.appendingPathComponent("ca.pem").path,
            "--relay-tls-report-period-seconds", "5",
        ]
        let a = try await self.suite("mx.example.org", domain: "example.org", account: "alice@example.org", options: options)
        defer { a.removeDirectory() }

        try await self.submit(a, from: "alice@example.org", to: domains.map { "user@\($0).example" }, subject: "first")
        let delivered = ["enforce", "testing", "wildcard", "rogue", "redirect", "none"]
        let maildir = peers.maildir
        let received = peers.received
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

        // The TLS reports of the (5 s) periods the sessions fell in, read back by Python's email and gzip.
        struct Reports {
            var mail: [[String: Any]] = []
            var posted: [[String: Any]] = []
            /// The report entries of one domain's policy, across reports: (successes, failures, failure details).
            func totals(_ domain: String, in reports: [[String: Any]]) -> (Int, Int, [[String: Any]]) {
                var totals = (0, 0, [[String: Any]]())
                for entry in reports {
                    let report = entry["report"] as? [String: Any] ?? [:]
                    for policy in report["policies"] as? [[String: Any]] ?? [] {
                        guard (policy["policy"] as? [String: Any])?["policy-domain"] as? String == domain else { continue }
                        let summary = policy["summary"] as? [String: Int] ?? [:]
                        totals.0 += summary["total-successful-session-count"] ?? 0
                        totals.1 += summary["total-failure-session-count"] ?? 0
                        totals.2 += policy["failure-details"] as? [[String: Any]] ?? []
                    }
                }
                return totals
            }
        }
        var reports = Reports()
        try await eventually("the TLS reports arrive", timeout: .seconds(60)) {
            let read = try await PythonClient.run("tlsrpt_reports.py", [maildir.path, work.appendingPathComponent("posts").path])
            let entries = read.output.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            reports = Reports(mail: entries.filter { $0["via"] as? String == "mail" }, posted: entries.filter { $0["via"] as? String == "https" })
            return reports.totals("enforce.example", in: reports.mail).0 == 2 && reports.totals("badcert.example", in: reports.mail).1 >= 1
                && reports.totals("testing.example", in: reports.posted).1 >= 1
        }
        let badcert = reports.totals("badcert.example", in: reports.mail)
        #expect(badcert.0 == 0 && badcert.1 == 1, "\(reports.mail)")
        let detail = badcert.2.first ?? [:]
        #expect(detail["result-type"] as? String == "validation-failure" && detail["receiving-mx-hostname"] as? String == "mx.badcert.example"
            && detail["receiving-ip"] as? String == "127.0.0.1" && detail["failed-session-count"] as? Int == 1, "\(detail)")
        let testing = reports.totals("testing.example", in: reports.posted)
        #expect(testing.0 == 0 && (testing.2.first?["receiving-mx-hostname"] as? String) == "mx.testing.example", "\(reports.posted)")
        #expect(reports.posted.allSatisfy { $0["content-type"] as? String == "application/tlsrpt+gzip" })
        for entry in reports.mail {
            #expect(entry["to"] as? String == "tlsrpt@reports.example" && entry["submitter"] as? String == "mx.example.org", "\(entry)")
            #expect(entry["content-type"] as? String == "multipart/report" && entry["report-type"] as? String == "tlsrpt", "\(entry)")
            #expect((entry["filename"] as? String)?.hasPrefix("mx.example.org!\(entry["domain"] as? String ?? "")!") == true, "\(entry)")
            let report = entry["report"] as? [String: Any] ?? [:]
            let policy = ((report["policies"] as? [[String: Any]])?.first?["policy"] as? [String: Any]) ?? [:]
            #expect(policy["policy-type"] as? String == "sts" && (policy["policy-string"] as? [String])?.contains("mode: enforce") == true, "\(report)")
            #expect((policy["mx-host"] as? [String])?.count == 1 && report["organization-name"] as? String == "mx.example.org", "\(report)")
        }
        #expect(reports.totals("mismatch.example", in: reports.mail + reports.posted).1 == 0, "no session, no record: no report")
        #expect(try await a.stop().status == 0)

        // After a restart the kept policy still applies, and is not fetched again while its id stays.
        let restarted = try RunningServer(
            "estafeta", arguments: ["serve", "--hostname", "mx.example.org", "--relay-poll-interval-ms", "100"] + options
                + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token], directory: a.directory, name: "restarted")
        defer { restarted.removeDirectory() }
        try await restarted.waitUntilReady()
        try await self.submit(restarted, from: "alice@example.org", to: ["again@badcert.example"], subject: "after the restart")
        try await eventually("the message to badcert.example is deferred again", timeout: .seconds(60)) {
            let queue = try await admin(restarted, token: Self.token, "GET", "/api/v1/queue?state=deferred").body
            return queue.contains(#""address":"again@badcert.example""#) && queue.contains("the MTA-STS policy of badcert.example requires")
        }
        let refetched = (try? String(contentsOf: work.appendingPathComponent("fetches.log"), encoding: .utf8)) ?? ""
        #expect(refetched.components(separatedBy: "mta-sts.badcert.example /.well-known/mta-sts.txt").count == 2, "\(refetched)")
        #expect(!received().contains { $0.contains("again@badcert.example") })
        #expect(try await restarted.stop().status == 0)
    }
}
