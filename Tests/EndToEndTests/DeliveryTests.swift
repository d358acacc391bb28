import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The whole path with real processes: SMTP in, the delivery worker, the INBOX in the shared file
/// (read here through the store, as the POP3 and IMAP gateways will).
@Suite("Local delivery end to end", .serialized)
struct DeliveryTests {
    static let token = "delivery-e2e-token-" + String(repeating: "d", count: 32)

    @Test("estafeta serve: SMTP to an account and an alias lands in the INBOXes; a loop bounces and the report reaches the sender")
    func serveDelivers() async throws {
        let server = try RunningServer(
            "estafeta",
            arguments: ["serve", "--hostname", "mx.estafeta.test", "--relay-poll-interval-ms", "100"]
                + RunningServer.loopbackListeners,
            environment: ["ESTAFETA_ADMIN_TOKEN": Self.token])
        defer { server.removeDirectory() }
        try await server.waitUntilReady()
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/domains", #"{"name":"example.org"}"#).status == 201)
        for name in ["alice", "bob"] {
            let created = try await admin(server, token: Self.token, "POST", "/api/v1/accounts", #"{"address":"\#(name)@example.org","password":"correct horse battery"}"#)
            #expect(created.status == 201, "\(created.body)")
        }
        #expect(try await admin(server, token: Self.token, "POST", "/api/v1/aliases", #"{"address":"team@example.org","targets":["alice@example.org","bob@example.org"]}"#
        ).status == 201)

        let sent = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import smtplib, sys
                mx = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
                mx.sendmail("carol@remote.test", ["alice@example.org"], "Subject: direct\\r\\n\\r\\nhello alice\\r\\n")
                mx.sendmail("carol@remote.test", ["team@example.org"], "Subject: to the team\\r\\n\\r\\nhello team\\r\\n")
                mx.quit()
                # alice sends bob a message that claims to have been delivered to him already: a loop.
                sub = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=10)
                sub.starttls()
                sub.login("alice@example.org", "correct horse battery")
                sub.sendmail("alice@example.org", ["bob@example.org"],
                             "From: alice@example.org\\r\\nDelivered-To: bob@example.org\\r\\nSubject: looping\\r\\n\\r\\nround\\r\\n")
                # And one to a remote domain that cannot be reached here (it waits in the queue).
                sub.sendmail("alice@example.org", ["friend@remote.example"],
                             "From: alice@example.org\\r\\nSubject: held\\r\\n\\r\\nwaiting\\r\\n")
                sub.quit()
                print("sent")
                """, String(server.ports["smtp"] ?? 0), String(server.ports["submission"] ?? 0),
            ]
        ).finish()
        #expect(sent.output.contains("sent"), "\(sent.output)\(sent.errors)")

        let store = try MailStore.open(settings: MailStoreSettings(path: server.databasePath), logger: Logger(label: "test"))
        try await eventually("alice has her two messages and the bounce report") {
            try await inboxContents(store, "alice@example.org").count == 3
        }
        let alice = try await inboxContents(store, "alice@example.org")
        let bob = try await inboxContents(store, "bob@example.org")
        #expect(bob.count == 1 && bob.first?.contains("Subject: to the team") == true, "\(bob)")
        #expect(alice.contains { $0.hasPrefix("Return-Path: <carol@remote.test>\r\nDelivered-To: alice@example.org\r\n") && $0.contains("hello alice") })
        #expect(alice.contains { $0.contains("Delivered-To: alice@example.org") && $0.contains("Subject: to the team") })

        // The report parses as RFC 3464 with Python's email package.
        let report = try #require(alice.first { $0.contains("multipart/report") })
        let file = server.directory.appendingPathComponent("report.eml")
        try Data(report.utf8).write(to: file)
        let parsed = try await ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                """
                import email, sys
                from email import policy
                message = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.default)
                parts = list(message.iter_parts())
                status = parts[1].get_payload()
                print(message.get_content_type(), message.get_param("report-type"), len(parts),
                      parts[1].get_content_type(), status[1].get("Action"), status[1].get("Status"),
                      status[1].get("Final-Recipient"), parts[2].get_content_type(), message["Return-Path"])
                """, file.path,
            ]
        ).finish()
        #expect(
            parsed.output.trimmingCharacters(in: .whitespacesAndNewlines)
                == "multipart/report delivery-status 3 message/delivery-status failed 5.4.6 rfc822; bob@example.org text/rfc822-headers <>",
            "\(parsed.output)\(parsed.errors)")

        // An operator bounce through the admin API is reported to the sender like any other.
        var heldID: Int?
        try await eventually("the remote recipient is deferred") {
            let queue = try await admin(server, token: Self.token, "GET", "/api/v1/queue?state=deferred")
            let items = (try? JSONSerialization.jsonObject(with: Data(queue.body.utf8)) as? [String: Any])?["items"] as? [[String: Any]]
            heldID = items?.first { "\($0["recipients"] ?? "")".contains("friend@remote.example") }?["id"] as? Int
            return heldID != nil
        }
        let bounced = try await admin(
            server, token: Self.token, "POST", "/api/v1/queue/\(heldID ?? 0)/bounce", #"{"reason":"held for review"}"#)
        #expect(bounced.status == 200, "\(bounced.body)")
        try await eventually("alice has the operator's bounce report") {
            try await inboxContents(store, "alice@example.org").contains {
                $0.contains("Final-Recipient: rfc822; friend@remote.example") && $0.contains("held for review")
            }
        }
        #expect(try await server.stop().status == 0)
    }

    @Test("two relay processes on one queue, one killed with -9 mid-run: every message delivered exactly once")
    func racingWorkers() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("data/estafeta.sqlite").path
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let store = try MailStore.open(settings: MailStoreSettings(path: path), logger: Logger(label: "test"))
        try await store.createDomain("example.org")
        let hash = try await PasswordHasher.hash("a long password", scheme: .sha512Crypt)
        _ = try await store.createAccount(try EmailAddress(parsing: "alice@example.org"), passwordHash: hash)
        let count = 400
        for index in 0..<count {
            _ = try await store.acceptMessage(
                Data("Subject: message \(index)\r\n\r\nbody \(index)\r\n".utf8),
                envelope: Envelope(
                    sender: try EmailAddress(parsing: "carol@remote.test"),
                    recipients: [Envelope.Recipient(address: try EmailAddress(parsing: "alice@example.org"))]))
        }
        let options = [
            "--relay-poll-interval-ms", "50", "--relay-batch-size", "10", "--relay-lease-seconds", "2",
            "--relay-concurrency", "2",
        ] + RunningServer.loopbackListeners
        let first = try RunningServer("estafeta-relay", arguments: options, directory: directory, name: "relay-1")
        let second = try RunningServer("estafeta-relay", arguments: options, directory: directory, name: "relay-2")
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        try await first.waitUntilReady()
        try await second.waitUntilReady()
        // Kill the first worker once it is well into the queue.
        try await eventually("some messages are delivered") {
            (try await store.queueStats().counts[.delivered] ?? 0) >= 60
        }
        _ = try await first.stop(signal: SIGKILL)
        try await eventually("the queue is empty", timeout: .seconds(60)) {
            let counts = try await store.queueStats().counts
            return (counts[.queued] ?? 0) + (counts[.deferred] ?? 0) + (counts[.delivering] ?? 0) == 0
        }
        let inbox = try await inboxContents(store, "alice@example.org")
        let subjects = inbox.compactMap { $0.split(separator: "\r\n").first { $0.hasPrefix("Subject: ") } }
        #expect(inbox.count == count, "\(inbox.count) messages in the INBOX")
        #expect(Set(subjects).count == count)
        #expect(try await store.queueStats().counts[.delivered] == count)
        #expect(try await second.stop().status == 0)
    }
}
