import Foundation
import HTTPTypes
import HummingbirdTesting
import MailFormat
import MailStore
import NIOCore
import Testing

@Suite("Admin API: queue monitoring and control, audit log")
struct QueueRoutesTests {
    /// One message with a recipient in every state, written through the store API as a worker would:
    /// queued, deferred (remote 451), delivered, bounced, and one currently leased.
    static func populate(_ store: MailStore) async throws -> (message: QueueMessageID, leased: QueueLease) {
        let sender = try EmailAddress(parsing: "sender@example.org")
        let recipients = ["q@one.example", "d@two.example", "ok@three.example", "b@four.example", "l@five.example"]
        let accepted = try await store.acceptMessage(
            Data("Subject: queued\r\n\r\nbody\r\n".utf8),
            envelope: Envelope(
                sender: sender, recipients: try recipients.map { .init(address: try EmailAddress(parsing: $0)) },
                envelopeID: "ENV1", returnContent: "HDRS"))
        let leases = try await store.leaseQueueItems(owner: "worker-1", limit: 10, leaseDuration: .seconds(600))
        func lease(_ address: String) throws -> QueueLease {
            try #require(leases.first { $0.recipient.description == address })
        }
        try await store.recordOutcome(.deferred(until: Date().addingTimeInterval(3600), reason: "451 4.7.1 greylisted"), for: try lease("d@two.example"))
        try await store.recordOutcome(.delivered, for: try lease("ok@three.example"))
        try await store.recordOutcome(.bounced(reason: "550 5.1.1 no such user"), for: try lease("b@four.example"))
        try await store.recordOutcome(.deferred(until: Date(), reason: "421 try later"), for: try lease("q@one.example"))
        return (accepted.id, try lease("l@five.example"))
    }

    @Test("list and filter by state, sender and recipient domain; detail shows every recipient")
    func listAndDetail() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.readToken
            let (id, _) = try await Self.populate(fixture.store)
            let other = try await fixture.store.acceptMessage(
                Data("x\r\n".utf8),
                envelope: Envelope(sender: nil, recipients: [.init(address: try EmailAddress(parsing: "z@six.example"))]))
            #expect(try await client.call(.get, "/api/v1/queue", token: t).items.count == 2)
            #expect(try await client.call(.get, "/api/v1/queue?state=bounced", token: t).items.compactMap { $0["id"] as? Int } == [Int(id.rawValue)])
            #expect(try await client.call(.get, "/api/v1/queue?recipientDomain=SIX.example", token: t).items.compactMap { $0["id"] as? Int } == [Int(other.id.rawValue)])
            #expect(try await client.call(.get, "/api/v1/queue?sender=sender@example.org", token: t).items.count == 1)
            #expect(try await client.call(.get, "/api/v1/queue?recipientDomain=%25", token: t).items.isEmpty, "LIKE wildcards are data")
            #expect(try await client.call(.get, "/api/v1/queue?state=stuck", token: t).status == .badRequest)
            // A recipient under an unexpired lease is reported as delivering, not queued.
            #expect(try await client.call(.get, "/api/v1/queue?state=delivering", token: t).items.compactMap { $0["id"] as? Int } == [Int(id.rawValue)])
            #expect(try await client.call(.get, "/api/v1/queue?state=queued", token: t).items.compactMap { $0["id"] as? Int } == [Int(other.id.rawValue)])
            #expect(try await client.call(.get, "/api/v1/queue?limit=1", token: t).json?["nextCursor"] is String)

            let detail = try await client.call(.get, "/api/v1/queue/\(id.rawValue)", token: t)
            #expect(detail.status == .ok)
            #expect(detail.json?["envelopeId"] as? String == "ENV1" && detail.json?["ret"] as? String == "HDRS")
            let recipients = detail.json?["recipients"] as? [[String: any Sendable]] ?? []
            let states = Dictionary(uniqueKeysWithValues: recipients.map { ($0["address"] as? String ?? "", $0["state"] as? String ?? "") })
            #expect(states == ["q@one.example": "deferred", "d@two.example": "deferred", "ok@three.example": "delivered",
                               "b@four.example": "bounced", "l@five.example": "delivering"])
            let bounced = recipients.first { $0["address"] as? String == "b@four.example" }
            #expect(bounced?["lastReply"] as? String == "550 5.1.1 no such user" && bounced?["attempts"] as? Int == 1)
            #expect(recipients.first { $0["address"] as? String == "l@five.example" }?["leasedBy"] as? String == "worker-1")
            #expect(try await client.call(.get, "/api/v1/queue/999", token: t).problem == "unknown-queue-message")
            #expect(try await client.call(.get, "/api/v1/queue/abc", token: t).status == .badRequest)

            let stats = try await client.call(.get, "/api/v1/queue/stats", token: t)
            #expect(stats.json?["counts"] as? [String: Int] == ["queued": 1, "deferred": 2, "delivering": 1, "delivered": 1, "bounced": 1])
            let deferrals = stats.json?["deferralsByDomain"] as? [[String: any Sendable]] ?? []
            #expect(Set(deferrals.compactMap { $0["domain"] as? String }) == ["one.example", "two.example"])
            #expect(stats.json?["oldestPendingAgeSeconds"] as? Int != nil)
        }
    }

    @Test("retry, flush, bounce and delete respect the lease of a worker in mid-delivery")
    func control() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            let (id, lease) = try await Self.populate(fixture.store)
            #expect(try await client.call(.post, "/api/v1/queue/\(id.rawValue)/retry", token: t).json?["affectedRecipients"] as? Int == 3)
            #expect(try await client.call(.post, "/api/v1/queue/flush", token: t).status == .ok)
            let busy = try await client.call(.post, "/api/v1/queue/\(id.rawValue)/bounce", token: t)
            #expect(busy.status == .conflict && busy.problem == "queue-message-busy")
            #expect(try await client.call(.delete, "/api/v1/queue/\(id.rawValue)", token: t).problem == "queue-message-busy")
            // The worker finishes; now the operator may bounce what is left.
            try await fixture.store.recordOutcome(.delivered, for: lease)
            let injected = try await client.call(
                .post, "/api/v1/queue/\(id.rawValue)/bounce", token: t, json: #"{"reason":"x\r\nBcc: evil@example.net"}"#)
            #expect(injected.status == .badRequest && injected.json?["field"] as? String == "reason")
            let bounced = try await client.call(
                .post, "/api/v1/queue/\(id.rawValue)/bounce", token: t, json: #"{"reason":"cancelled by the operator"}"#)
            #expect(bounced.json?["affectedRecipients"] as? Int == 2)
            #expect(try await fixture.store.queueStats().counts[.bounced] == 3)
            #expect(try await client.call(.delete, "/api/v1/queue/\(id.rawValue)", token: t).status == .noContent)
            #expect(try await fixture.store.queueMessage(id) == nil)

            let audit = try await client.call(.get, "/api/v1/audit", token: t)
            let actions = audit.items.compactMap { $0["action"] as? String }
            #expect(actions == ["queue.retry", "queue.flush", "queue.bounce", "queue.delete"])
            let tokenID = String(fixture.writeToken.split(separator: "_")[1])
            #expect(audit.items.allSatisfy { $0["token"] as? String == tokenID })
            // Newest first, paged back with the cursor.
            let newest = try await client.call(.get, "/api/v1/audit?order=newest&limit=3", token: t)
            #expect(newest.items.compactMap { $0["action"] as? String } == ["queue.delete", "queue.bounce", "queue.flush"])
            let cursor = try #require(newest.json?["nextCursor"] as? String)
            let older = try await client.call(.get, "/api/v1/audit?order=newest&cursor=\(cursor)", token: t)
            #expect(older.items.compactMap { $0["action"] as? String } == ["queue.retry"] && older.json?["nextCursor"] is NSNull)
            #expect(try await client.call(.get, "/api/v1/audit?order=sideways", token: t).status == .badRequest)
        }
    }
}
