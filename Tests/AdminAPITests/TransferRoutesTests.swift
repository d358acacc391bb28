import Foundation
import HTTPTypes
import HummingbirdTesting
import MailStore
import Testing

@Suite("Admin API: imports' and exports' progress")
struct TransferRoutesTests {
    @Test("transfers show counts and rates; one that stopped reporting is interrupted; unknown ids are 404")
    func transfers() async throws {
        try await AdminFixture.with { fixture, client in
            let now = Date()
            let running = try await fixture.store.startTransfer(
                kind: "import dovecot", account: "bob@example.org", source: "/srv/bob", host: "mx1 pid 3", now: now - 20)
            // Its last report carries a time a little ahead (another host's clock), so that however slowly this
            // test runs, the transfer has not been silent when the list is asked for.
            try await fixture.store.reportTransfer(
                running.id, state: .running, counts: MailTransfer.Counts(folders: 1, messages: 400, bytes: 8_000_000), detail: "Sent",
                now: now + 600)
            // Started ten minutes ago, silent for the last five: its process is gone.
            let silent = try await fixture.store.startTransfer(
                kind: "import mbox", account: "bob@example.org", source: "/srv/bob.mbox", host: "mx2 pid 4", now: now - 600)
            try await fixture.store.reportTransfer(
                silent.id, state: .running, counts: MailTransfer.Counts(messages: 10), detail: "INBOX", now: now - 300)
            let done = try await fixture.store.startTransfer(kind: "export dovecot", account: "bob@example.org", source: "/tmp/x", host: "mx1 pid 5", now: now - 10)
            try await fixture.store.reportTransfer(
                done.id, state: .finished, counts: MailTransfer.Counts(folders: 4, messages: 1_000, bytes: 50_000_000), detail: nil, now: now - 5)

            let list = try await client.call(.get, "/api/v1/transfers", token: fixture.readToken)
            #expect(list.status == .ok)
            #expect(list.items.map { $0["state"] as? String } == ["running", "interrupted", "finished"])
            let first = list.items.first ?? [:]
            #expect(first["messages"] as? Int == 400 && first["detail"] as? String == "Sent" && first["kind"] as? String == "import dovecot")
            // 400 messages in the 20 seconds or more since it started (counted to now while it runs, not to its
            // last report: that would be 620 s, 0.6 a second).
            let rate = first["messagesPerSecond"] as? Double ?? 0
            #expect((1...20).contains(rate), "\(rate)")
            let finished = try await client.call(.get, "/api/v1/transfers/\(done.id)", token: fixture.readToken)
            #expect(finished.json?["messagesPerSecond"] as? Double == 200 && finished.json?["bytesPerSecond"] as? Double == 10_000_000)
            #expect(finished.json?["detail"] is NSNull)
            let page = try await client.call(.get, "/api/v1/transfers?limit=1", token: fixture.readToken)
            #expect(page.items.count == 1 && page.json?["nextCursor"] is String)
            #expect(try await client.call(.get, "/api/v1/transfers/\(done.id + 1)", token: fixture.readToken).problem == "unknown-transfer")
            #expect(try await client.call(.get, "/api/v1/transfers/x", token: fixture.readToken).status == .badRequest)
        }
    }
}
