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

    func suite(
        _ hostname: String, domain: String, account: String, options: [String] = [], environment: [String: String] = [:]
    ) async throws -> RunningServer {
        let server = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", hostname, "--relay-poll-interval-ms", "100"] + options
                + RunningServer.loopbackListeners.dropLast(options.contains("--smtp-verify-inbound") ? 2 : 0),
            environment: environment.merging(["ESTAFETA_ADMIN_TOKEN": Self.token]) { $1 }, name: hostname)
        try await server.waitUntilReady()
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/domains", #"{"name":"\#(domain)"}"#).status == 201)
        let created = try await admin(server, token: Self.token, "POST", "/api/v1/accounts", #"{"address":"\#(account)","password":"correct horse battery"}"#)
        #expect(created.status == 201, "\(created.body)")
        return server
    }

    /// The body `submit` adds with `largeBodyLines`.
    static func largeBody(lines: Int) -> String {
        (0..<lines).map { ".\($0) " + String(repeating: "x", count: $0 % 90) + "\r\n" }.joined()
    }

    func submit(
        _ server: RunningServer, from sender: String, to recipients: [String], subject: String, body: String = "hello",
        recipientOptions: String = "", largeBodyLines: Int = 0
    ) async throws {
        let sent = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import smtplib, sys
                client = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
                client.starttls()
                client.login(sys.argv[2], "correct horse battery")
                # A large body: lines that start with a dot (stuffed on the wire) crossing every piece boundary.
                large = "".join(".%d %s\\r\\n" % (n, "x" * (n % 90)) for n in range(int(sys.argv[6])))
                refused = client.sendmail(sys.argv[2], sys.argv[7:], "From: %s\\r\\nSubject: %s\\r\\n\\r\\n%s\\r\\n%s" % (sys.argv[2], sys.argv[3], sys.argv[4], large),
                                          rcpt_options=sys.argv[5].split())
                client.quit()
                print("sent", refused)
                """, String(server.ports["submission"] ?? 0), sender, subject, body, recipientOptions, String(largeBodyLines),
            ] + recipients
        ).finish()
        #expect(sent.output.hasPrefix("sent {}"), "\(sent.output)\(sent.errors)")
    }

    /// dnsmasq on a free loopback port, answering for `.example` only (libunbound keeps `.test` to itself, RFC 6761), as a daemon with a pid file (a
    /// long-lived child with pipes made Foundation's later `Process.run` calls hang here).
    func startDNS(_ records: [String], directory: URL, port fixedPort: Int? = nil) async throws -> (pidFile: URL, port: Int) {
        let pidFile = directory.appendingPathComponent("dnsmasq-\(UUID().uuidString.prefix(8)).pid")
        for _ in 0..<(fixedPort == nil ? 10 : 1) {
            let port = fixedPort ?? Int.random(in: 20_000...60_000)
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

    func stopDNS(_ pidFile: URL) {
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
                // An upstream that does not answer: dnsmasq says SERVFAIL/REFUSED for this zone.
                "--server=/servfail.example/127.0.0.1#1",
            ],
            directory: b.directory)
        defer { self.stopDNS(dnsPidFile) }
        let a = try await self.suite(
            "mx.example.test", domain: "example.org", account: "alice@example.org",
            options: ["--relay-dns-server", "127.0.0.1:\(dnsPort)", "--relay-mx-port", String(b.ports["smtp"] ?? 0)])
        defer { a.removeDirectory() }

        // Lines starting with dots: B must store them as sent, whether A used BDAT (not stuffed) or DATA.
        try await self.submit(
            a, from: "alice@example.org", to: ["bob@remote.example"], subject: "across suites",
            body: ".one dot\r\n..two dots\r\n.\r\nafter a lone dot", recipientOptions: "NOTIFY=SUCCESS,FAILURE")
        // About 3 MB: stored in pieces, sent with BDAT chunks as it is read.
        try await self.submit(a, from: "alice@example.org", to: ["bob@remote.example"], subject: "large", largeBodyLines: 60_000)
        try await self.submit(a, from: "alice@example.org", to: ["x@missing.example", "y@nullmx.example"], subject: "nowhere")
        try await self.submit(a, from: "alice@example.org", to: ["z@servfail.example"], subject: "dns trouble")

        let bStore = try MailStore.open(settings: MailStoreSettings(path: b.databasePath), logger: Logger(label: "b"))
        try await eventually("bob has the relayed messages") { try await inboxContents(bStore, "bob@remote.example").count == 2 }
        let bobs = try await inboxContents(bStore, "bob@remote.example")
        let relayed = bobs.first { $0.contains("Subject: across suites") } ?? ""
        let large = bobs.first { $0.contains("Subject: large") } ?? ""
        #expect(large.hasSuffix("\r\n\r\nhello\r\n" + Self.largeBody(lines: 60_000)), "\(large.count)")
        #expect(relayed.contains("Subject: across suites"))
        // B's trace header: from A's EHLO name, over TLS (STARTTLS was offered and used).
        #expect(relayed.contains("Received: from mx.example.test") && relayed.contains("with ESMTPS"), "\(relayed)")
        #expect(relayed.contains("Return-Path: <alice@example.org>"))
        #expect(relayed.contains("\r\n\r\n.one dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n"), "\(relayed)")
        // B offers DSN, so A handed the NOTIFY=SUCCESS request on (RFC 3461 §5.2.2): B, having delivered,
        // queued the success notice to alice itself (from <>, waiting for a route back to A here).
        try await eventually("B queued the success notice") {
            let queued = try await admin(b, token: Self.token, "GET", "/api/v1/queue?recipientDomain=example.org").body
            return queued.contains(#""sender":"""#) && queued.contains(#""address":"alice@example.org""#)
        }
        // B offers CHUNKING (RFC 3030), so A sent the message with BDAT.
        #expect(a.log.split(separator: "\n").contains { $0.contains("relayed") && $0.contains("BDAT") }, "\(a.log)")

        let aStore = try MailStore.open(settings: MailStoreSettings(path: a.databasePath), logger: Logger(label: "a"))
        // The two domains fail at their own pace (an NXDOMAIN lookup, a null MX), so their failures may
        // come in one report or in two: what matters is that each is reported, once, with its status.
        var report = ""
        try await eventually("alice has the bounce reports") {
            report = try await inboxContents(aStore, "alice@example.org").joined(separator: "\n----\n")
            return report.contains("Final-Recipient: rfc822; x@missing.example") && report.contains("Final-Recipient: rfc822; y@nullmx.example")
        }
        #expect(try await inboxContents(aStore, "alice@example.org").count <= 2)
        #expect(report.components(separatedBy: "Final-Recipient: rfc822; x@missing.example").count == 2, "\(report)")
        #expect(report.contains("Final-Recipient: rfc822; x@missing.example\r\nAction: failed\r\nStatus: 5.1.2"), "\(report)")
        #expect(report.contains("Final-Recipient: rfc822; y@nullmx.example\r\nAction: failed\r\nStatus: 5.1.10"), "\(report)")
        // A DNS failure is temporary: the recipient waits for a retry, no bounce.
        try await eventually("the servfail recipient is deferred") {
            let deferred = try await admin(a, token: Self.token, "GET", "/api/v1/queue?state=deferred").body
            return deferred.contains(#""address":"z@servfail.example""#) && deferred.contains("DNS lookup of MX for servfail.example failed")
        }
        #expect(!report.contains("servfail.example"))
        #expect(try await a.stop().status == 0)
        #expect(try await b.stop().status == 0)
    }

    @Test("scripted peer (aiosmtpd): 4xx retried, 5xx bounced, too many recipients retried, a lost reply after the dot retried (a duplicate), unreachable, 421 greeting, silent and slow peers deferred until the lifetime ends, broken TLS retried in plaintext, smarthost with AUTH")
    func scriptedPeer() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-mx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let (peer, ports, maildir) = try await startScriptedMX(in: work)
        defer { peer.process.kill() }
        let routes = ["scripted", "greet421", "silent", "slow", "badtls"].map { "\($0).test=127.0.0.1:\(ports[$0] ?? 1)" }
        let a = try await self.suite(
            "mx.example.test", domain: "example.org", account: "alice@example.org",
            options: [
                "--relay-routes", (routes + ["dead.test=127.0.0.1:1"]).joined(separator: ","),
                // Everything else goes to the smarthost, which wants a login (the password from the environment).
                "--relay-smarthost", "127.0.0.1:\(ports["auth"] ?? 1)", "--relay-smarthost-user", "relay@smarthost.test",
                "--relay-retry-initial-seconds", "1", "--relay-retry-maximum-seconds", "1",
                "--relay-queue-lifetime-seconds", "4", "--relay-command-timeout-seconds", "2",
                "--relay-delay-warning-seconds", "2",
            ],
            environment: ["ESTAFETA_RELAY_SMARTHOST_PASSWORD": "smarthost secret"])
        defer { a.removeDirectory() }
        try await self.submit(
            a, from: "alice@example.org", to: ["tempfail@scripted.test", "reject@scripted.test", "ok@scripted.test"],
            subject: "scripted")
        try await self.submit(a, from: "alice@example.org", to: ["someone@dead.test"], subject: "unreachable")
        // The peer takes two recipients per transaction; the third is retried in another.
        try await self.submit(
            a, from: "alice@example.org", to: ["r1@scripted.test", "r2@scripted.test", "r3@scripted.test"], subject: "three")
        // 552 at end of DATA bounces; a connection lost after the dot is retried.
        try await self.submit(a, from: "alice@example.org", to: ["bigdata@scripted.test"], subject: "too big")
        try await self.submit(a, from: "alice@example.org", to: ["dropafterdot@scripted.test"], subject: "dropped")
        // 421 at the greeting, a peer that never answers, one whose greeting trickles in too slowly
        // for the 2 s reply deadline: deferred each time, bounced when the 4 s lifetime ends.
        try await self.submit(
            a, from: "alice@example.org", to: ["g@greet421.test", "s@silent.test", "t@slow.test"], subject: "stuck")
        // A failed TLS handshake after STARTTLS: the same host again in plaintext.
        try await self.submit(a, from: "alice@example.org", to: ["tls@badtls.test"], subject: "broken tls")
        // NOTIFY=SUCCESS to a peer without DSN: A owes the sender a "relayed" notice.
        try await self.submit(
            a, from: "alice@example.org", to: ["notice@scripted.test"], subject: "tell me", recipientOptions: "NOTIFY=SUCCESS")
        // No route of its own: the smarthost, over STARTTLS with AUTH.
        try await self.submit(a, from: "alice@example.org", to: ["friend@elsewhere.example"], subject: "via smarthost")
        // About 3 MB: stored in pieces, sent with DATA (the peer has no CHUNKING) as it is read.
        try await self.submit(a, from: "alice@example.org", to: ["large@scripted.test"], subject: "large", largeBodyLines: 60_000)
        // A UTF-8 address needs SMTPUTF8, which this peer does not offer: 5.6.7 bounce, nothing sent.
        let utf8 = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import smtplib, sys
                client = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
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
        // (the first reply was lost, so the retry is a duplicate, as RFC 5321 §3.8 accepts); tls@ in
        // plaintext; friend@ through the smarthost.
        func delivered() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: maildir.path)) ?? []).map {
                (try? String(contentsOf: maildir.appendingPathComponent($0), encoding: .utf8)) ?? ""
            }
        }
        try await eventually("the peer has every delivery") { delivered().count == 10 }
        let envelopes = delivered().compactMap { $0.split(separator: "\r\n").first { $0.hasPrefix("X-Envelope-To: ") } }
            .map { String($0.dropFirst("X-Envelope-To: ".count)) }.sorted()
        #expect(envelopes == [
            "dropafterdot@scripted.test", "dropafterdot@scripted.test", "friend@elsewhere.example", "large@scripted.test",
            "notice@scripted.test", "ok@scripted.test", "r1@scripted.test,r2@scripted.test", "r3@scripted.test",
            "tempfail@scripted.test", "tls@badtls.test",
        ], "\(envelopes)")
        let large = delivered().filter { $0.contains("X-Envelope-To: large@scripted.test") }
        #expect(large.count == 1 && large[0].hasSuffix("\r\n\r\nhello\r\n" + Self.largeBody(lines: 60_000)), "\(large.first?.count ?? 0)")
        #expect(delivered().allSatisfy { $0.contains("X-Envelope-From: alice@example.org") })
        let viaSmarthost = delivered().filter { $0.contains("X-Auth-Login:") }
        #expect(viaSmarthost.count == 1 && viaSmarthost[0].contains("X-Auth-Login: relay@smarthost.test")
                && viaSmarthost[0].contains("X-Envelope-To: friend@elsewhere.example"), "\(viaSmarthost)")
        #expect(a.log.contains("TLS handshake failed; trying the same host in plaintext"))

        // reject@, bigdata@ and jürgen@ bounced at once; the unreachable and stuck ones after the 4 s lifetime.
        let bounced = ["reject@scripted.test", "someone@dead.test", "bigdata@scripted.test", "jürgen@scripted.test",
                       "g@greet421.test", "s@silent.test", "t@slow.test"]
        var reports = ""
        try await eventually("alice has a bounce report for each", timeout: .seconds(40)) {
            reports = try await inboxContents(aStore, "alice@example.org").joined(separator: "\n----\n")
            return bounced.allSatisfy { reports.contains("Final-Recipient: rfc822; \($0)\r\nAction: failed") }
        }
        #expect(reports.contains("Final-Recipient: rfc822; reject@scripted.test") && reports.contains("Status: 5.1.1"), "\(reports)")
        #expect(reports.contains("Final-Recipient: rfc822; someone@dead.test") && reports.contains("4.4.7 delivery time expired"), "\(reports)")
        #expect(reports.contains("Final-Recipient: rfc822; bigdata@scripted.test") && reports.contains("Status: 5.3.4"), "\(reports)")
        #expect(reports.contains("Final-Recipient: rfc822; jürgen@scripted.test") && reports.contains("Status: 5.6.7"), "\(reports)")
        #expect(reports.contains("greeted with 421 4.3.2"), "\(reports)")
        #expect(reports.contains("no complete reply within 2 s"), "\(reports)")
        // Waiting longer than the 2 s warning time: a delay notice before the final bounce.
        #expect(reports.contains("Final-Recipient: rfc822; someone@dead.test\r\nAction: delayed\r\nStatus: 4.4.1"), "\(reports)")
        // The peer offers no DSN, so the success notice comes from A, as "relayed".
        try await eventually("alice has the relayed notice") {
            try await inboxContents(aStore, "alice@example.org").joined().contains(
                "Final-Recipient: rfc822; notice@scripted.test\r\nAction: relayed\r\nStatus: 2.0.0")
        }
        for delivered in ["tempfail@scripted.test", "r3@scripted.test", "tls@badtls.test", "friend@elsewhere.example"] {
            #expect(!reports.contains("Final-Recipient: rfc822; \(delivered)\r\nAction: failed"))
        }
        #expect(try await a.stop().status == 0)
    }
}

extension RelayTests {
    @Test("kill -9 of the relay after the remote MX has the message, before the outcome is committed: sent again after a restart (at least once), never lost")
    func killedAfterRemoteAccepted() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-mx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let (peer, ports, maildir) = try await startScriptedMX(in: work)
        defer { peer.process.kill() }
        // A lease of 2 s: the dead process's claim on the recipient lapses soon after the restart.
        let options = ["--relay-lease-seconds", "2", "--relay-routes", "scripted.test=127.0.0.1:\(ports["scripted"] ?? 1)"]
        let a = try await self.suite("mx.example.test", domain: "example.org", account: "alice@example.org", options: options)
        defer { a.removeDirectory() }
        try "\(a.process.processIdentifier)".write(to: work.appendingPathComponent("relay.pid"), atomically: true, encoding: .utf8)
        try await self.submit(a, from: "alice@example.org", to: ["killrelay@scripted.test"], subject: "at least once")
        try await eventually("the peer killed the relay once it had the message") { !a.process.isRunning }
        func copies() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: maildir.path)) ?? []).filter {
                ((try? String(contentsOf: maildir.appendingPathComponent($0), encoding: .utf8)) ?? "").contains("X-Envelope-To: killrelay@")
            }.count
        }
        #expect(copies() == 1)
        let restarted = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", "mx.example.test", "--relay-poll-interval-ms", "100"] + options
                + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token],
            directory: a.directory, name: "restarted")
        try await restarted.waitUntilReady()
        // The outcome was never committed: the recipient is due again once the lease lapses, and goes
        // out a second time (RFC 5321 §6.1: a duplicate rather than a loss).
        try await eventually("sent again after the restart", timeout: .seconds(30)) { copies() == 2 }
        try await eventually("and recorded as delivered this time") {
            let queue = try await admin(restarted, token: Self.token, "GET", "/api/v1/queue?state=delivered").body
            return queue.contains(#""address":"killrelay@scripted.test""#)
        }
        #expect(try await restarted.stop().status == 0)
    }
}
