import Foundation
import Logging
import MailFormat
import MailStore
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The SMTP relay with real peers on loopback: a second Estafeta found through a real DNS server
/// (dnsmasq), and aiosmtpd with scripted answers.
@Suite("SMTP relay end to end", .serialized)
struct RelayTests {
    static let token = "relay-e2e-token-" + String(repeating: "r", count: 32)

    private func suite(_ hostname: String, domain: String, account: String, options: [String] = []) async throws -> RunningServer {
        let server = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", hostname, "--relay-poll-interval-ms", "100"] + options
                + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token], name: hostname)
        try await server.waitUntilReady()
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/domains", #"{"name":"\#(domain)"}"#).status == 201)
        let created = try await admin(server, token: Self.token, "POST", "/api/v1/accounts", #"{"address":"\#(account)","password":"correct horse battery"}"#)
        #expect(created.status == 201, "\(created.body)")
        return server
    }

    private func submit(_ server: RunningServer, from sender: String, to recipients: [String], subject: String) async throws {
        let sent = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import smtplib, sys
                client = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
                client.starttls()
                client.login(sys.argv[2], "correct horse battery")
                refused = client.sendmail(sys.argv[2], sys.argv[4:], "From: %s\\r\\nSubject: %s\\r\\n\\r\\nhello\\r\\n" % (sys.argv[2], sys.argv[3]))
                client.quit()
                print("sent", refused)
                """, String(server.ports["submission"] ?? 0), sender, subject,
            ] + recipients
        ).finish()
        #expect(sent.output.hasPrefix("sent {}"), "\(sent.output)\(sent.errors)")
    }

    /// dnsmasq on a free loopback port, answering for `.example` only (libunbound keeps `.test` to itself, RFC 6761), as a daemon with a pid file (a
    /// long-lived child with pipes made Foundation's later `Process.run` calls hang here).
    private func startDNS(_ records: [String], directory: URL) async throws -> (pidFile: URL, port: Int) {
        let pidFile = directory.appendingPathComponent("dnsmasq.pid")
        for _ in 0..<10 {
            let port = Int.random(in: 20_000...60_000)
            let started = try await ChildProcess.start(
                URL(fileURLWithPath: "/usr/sbin/dnsmasq"),
                ["--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                 "--pid-file=\(pidFile.path)", "--local=/example/", "--log-facility=/dev/null",
                 // Stay root: this sandbox may not signal a process that changed to another user.
                 "--user=root"] + records
            ).finish(timeout: .seconds(10))
            if started.status == 0 { return (pidFile, port) }
        }
        throw ChildProcessError.timedOut
    }

    private func stopDNS(_ pidFile: URL) {
        if let text = try? String(contentsOf: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)  // nothing to flush; SIGTERM was seen to be ignored here
        }
    }

    @Test("A relays to B found through MX records in DNS, over STARTTLS; NXDOMAIN and null MX bounce back to the sender")
    func relayThroughDNS() async throws {
        let b = try await self.suite("mx.remote.example", domain: "remote.example", account: "bob@remote.example")
        defer { b.removeDirectory() }
        let (dnsPidFile, dnsPort) = try await self.startDNS(
            [
                "--mx-host=remote.example,mx.remote.example,10", "--host-record=mx.remote.example,127.0.0.1",
                "--mx-host=nullmx.example,.,0",
                // An upstream that does not answer: dnsmasq says SERVFAIL/REFUSED for this zone (D16).
                "--server=/servfail.example/127.0.0.1#1",
            ],
            directory: b.directory)
        defer { self.stopDNS(dnsPidFile) }
        let a = try await self.suite(
            "mx.example.test", domain: "example.org", account: "alice@example.org",
            options: ["--relay-dns-server", "127.0.0.1:\(dnsPort)", "--relay-mx-port", String(b.ports["smtp"] ?? 0)])
        defer { a.removeDirectory() }

        try await self.submit(a, from: "alice@example.org", to: ["bob@remote.example"], subject: "across suites")
        try await self.submit(a, from: "alice@example.org", to: ["x@missing.example", "y@nullmx.example"], subject: "nowhere")
        try await self.submit(a, from: "alice@example.org", to: ["z@servfail.example"], subject: "dns trouble")

        let bStore = try MailStore.open(settings: MailStoreSettings(path: b.databasePath), logger: Logger(label: "b"))
        try await eventually("bob has the relayed message") { try await inboxContents(bStore, "bob@remote.example").count == 1 }
        let relayed = try await inboxContents(bStore, "bob@remote.example").first ?? ""
        #expect(relayed.contains("Subject: across suites"))
        // B's trace header: from A's EHLO name, over TLS (STARTTLS was offered and used).
        #expect(relayed.contains("Received: from mx.example.test") && relayed.contains("with ESMTPS"), "\(relayed)")
        #expect(relayed.contains("Return-Path: <alice@example.org>"))

        let aStore = try MailStore.open(settings: MailStoreSettings(path: a.databasePath), logger: Logger(label: "a"))
        try await eventually("alice has the bounce report") { try await inboxContents(aStore, "alice@example.org").count == 1 }
        let report = try await inboxContents(aStore, "alice@example.org").first ?? ""
        #expect(report.contains("Final-Recipient: rfc822; x@missing.example") && report.contains("Status: 5.1.2"), "\(report)")
        #expect(report.contains("Final-Recipient: rfc822; y@nullmx.example") && report.contains("Status: 5.1.10"), "\(report)")
        // A DNS failure is temporary: the recipient waits for a retry, no bounce.
        try await eventually("the servfail recipient is deferred") {
            let deferred = try await admin(a, token: Self.token, "GET", "/api/v1/queue?state=deferred").body
            return deferred.contains(#""address":"z@servfail.example""#) && deferred.contains("DNS lookup of MX for servfail.example failed")
        }
        #expect(!report.contains("servfail.example"))
        #expect(try await a.stop().status == 0)
        #expect(try await b.stop().status == 0)
    }

    @Test("scripted peer (aiosmtpd): 4xx retried, 5xx bounced, too many recipients retried, a lost reply after the dot retried (a duplicate), unreachable deferred until the lifetime ends")
    func scriptedPeer() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-mx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let portFile = work.appendingPathComponent("port")
        let maildir = work.appendingPathComponent("mail")
        let peer = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", PythonClient.clientsDirectory.appendingPathComponent("scripted_mx.py").path, portFile.path, maildir.path])
        defer { peer.process.terminate() }
        var peerPort = 0
        try await eventually("the scripted MX listens") {
            peerPort = Int((try? String(contentsOf: portFile, encoding: .utf8)) ?? "") ?? 0
            return peerPort > 0
        }
        let a = try await self.suite(
            "mx.example.test", domain: "example.org", account: "alice@example.org",
            options: [
                "--relay-routes", "scripted.test=127.0.0.1:\(peerPort),dead.test=127.0.0.1:1",
                "--relay-retry-initial-seconds", "1", "--relay-retry-maximum-seconds", "1",
                "--relay-queue-lifetime-seconds", "4",
            ])
        defer { a.removeDirectory() }
        try await self.submit(
            a, from: "alice@example.org", to: ["tempfail@scripted.test", "reject@scripted.test", "ok@scripted.test"],
            subject: "scripted")
        try await self.submit(a, from: "alice@example.org", to: ["someone@dead.test"], subject: "unreachable")
        // D15: the peer takes two recipients per transaction; the third is retried in another.
        try await self.submit(
            a, from: "alice@example.org", to: ["r1@scripted.test", "r2@scripted.test", "r3@scripted.test"], subject: "three")
        // D14: 552 at end of DATA bounces; a connection lost after the dot is retried.
        try await self.submit(a, from: "alice@example.org", to: ["bigdata@scripted.test"], subject: "too big")
        try await self.submit(a, from: "alice@example.org", to: ["dropafterdot@scripted.test"], subject: "dropped")
        // A UTF-8 address needs SMTPUTF8, which this peer does not offer: 5.6.7 bounce, nothing sent.
        let utf8 = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import smtplib, sys
                client = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
                client.starttls()
                client.login("alice@example.org", "correct horse battery")
                print("sent", client.sendmail("alice@example.org", ["jürgen@scripted.test"],
                      "From: alice@example.org\\r\\nSubject: utf8\\r\\n\\r\\nhallo\\r\\n".encode(), mail_options=["SMTPUTF8"]))
                """, String(a.ports["submission"] ?? 0),
            ]
        ).finish()
        #expect(utf8.output.hasPrefix("sent {}"), "\(utf8.output)\(utf8.errors)")

        let aStore = try MailStore.open(settings: MailStoreSettings(path: a.databasePath), logger: Logger(label: "a"))
        // Stored by the peer: ok@; tempfail@ on the retry; r1+r2, then r3 alone; dropafterdot@ twice
        // (the first reply was lost, so the retry is a duplicate, as RFC 5321 §3.8 accepts).
        func delivered() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: maildir.path)) ?? []).map {
                (try? String(contentsOf: maildir.appendingPathComponent($0), encoding: .utf8)) ?? ""
            }
        }
        try await eventually("the peer has every delivery") { delivered().count == 6 }
        let envelopes = delivered().compactMap { $0.split(separator: "\r\n").first { $0.hasPrefix("X-Envelope-To: ") } }
            .map { String($0.dropFirst("X-Envelope-To: ".count)) }.sorted()
        #expect(envelopes == [
            "dropafterdot@scripted.test", "dropafterdot@scripted.test", "ok@scripted.test", "r1@scripted.test,r2@scripted.test",
            "r3@scripted.test", "tempfail@scripted.test",
        ], "\(envelopes)")
        #expect(delivered().allSatisfy { $0.contains("X-Envelope-From: alice@example.org") })

        // reject@, bigdata@ and jürgen@ bounced at once; someone@dead.test after the 4 s lifetime.
        try await eventually("alice has the four bounce reports", timeout: .seconds(30)) {
            try await inboxContents(aStore, "alice@example.org").count == 4
        }
        let reports = try await inboxContents(aStore, "alice@example.org").joined(separator: "\n----\n")
        #expect(reports.contains("Final-Recipient: rfc822; reject@scripted.test") && reports.contains("Status: 5.1.1"), "\(reports)")
        #expect(reports.contains("Final-Recipient: rfc822; someone@dead.test") && reports.contains("4.4.7 delivery time expired"), "\(reports)")
        #expect(reports.contains("Final-Recipient: rfc822; bigdata@scripted.test") && reports.contains("Status: 5.3.4"), "\(reports)")
        #expect(reports.contains("Final-Recipient: rfc822; jürgen@scripted.test") && reports.contains("Status: 5.6.7"), "\(reports)")
        #expect(!reports.contains("Final-Recipient: rfc822; tempfail@scripted.test"))
        #expect(!reports.contains("Final-Recipient: rfc822; r3@scripted.test"))
        #expect(try await a.stop().status == 0)
    }
}
