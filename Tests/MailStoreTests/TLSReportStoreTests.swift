import Foundation
import MailStore
import Testing
import TestSupport

@Suite("Transport security: MTA-STS policies kept, TLS session tallies for TLS reporting (RFC 8460)")
struct TLSReportStoreTests {
    @Test("a policy is kept per domain until it expires; a newer one replaces it; saving removes the expired", arguments: StoreBackendKind.allCases)
    func policies(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let first = StoredMTASTSPolicy(domain: "a.example", id: "1", policy: "version: STSv1\nmode: testing", expiresAt: now.addingTimeInterval(60))
            try await store.saveMTASTSPolicy(first, now: now)
            #expect(try await store.mtaSTSPolicy(for: "A.example", now: now) == first)
            #expect(try await store.mtaSTSPolicy(for: "a.example", now: now.addingTimeInterval(61)) == nil, "expired")
            let second = StoredMTASTSPolicy(domain: "a.example", id: "2", policy: "version: STSv1\nmode: enforce", expiresAt: now.addingTimeInterval(600))
            try await store.saveMTASTSPolicy(second, now: now)
            #expect(try await store.mtaSTSPolicy(for: "a.example", now: now) == second)
            let other = StoredMTASTSPolicy(domain: "b.example", id: "x", policy: "version: STSv1", expiresAt: now.addingTimeInterval(10))
            try await store.saveMTASTSPolicy(other, now: now)
            // A save after b.example's expiry removes it; a.example's stays.
            try await store.saveMTASTSPolicy(second, now: now.addingTimeInterval(20))
            #expect(try await store.mtaSTSPolicy(for: "b.example", now: .distantPast) == nil)
            #expect(try await store.mtaSTSPolicy(for: "a.example", now: now.addingTimeInterval(20)) == second)
        }
    }

    @Test("sessions add up per kind; reports are due per domain and period once the period has begun before the cut-off; taking is per report and once", arguments: StoreBackendKind.allCases)
    func tallies(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let day = Date(timeIntervalSince1970: 1_800_000_000)
            let next = day.addingTimeInterval(86_400)
            func tally(_ domain: String, _ start: Date, result: String = "", mx: String = "", sessions: Int = 1, policy: String = "version: STSv1")
                -> TLSSessionTally
            {
                TLSSessionTally(
                    periodStart: start, policyDomain: domain, policyType: "sts", policy: policy, mxHost: mx, resultType: result,
                    receivingIP: mx.isEmpty ? "" : "192.0.2.1", sessions: sessions)
            }
            try await store.addTLSSessions(tally("a.example", day))
            try await store.addTLSSessions(tally("a.example", day, sessions: 2, policy: "version: STSv1\nmode: enforce"))
            try await store.addTLSSessions(tally("a.example", day, result: "certificate-not-trusted", mx: "mx.a.example"))
            try await store.addTLSSessions(tally("b.example", day))
            try await store.addTLSSessions(tally("a.example", next))

            #expect(try await store.tlsReportsDue(periodsStartedBefore: day).isEmpty)
            let due = try await store.tlsReportsDue(periodsStartedBefore: next)
            #expect(due == [TLSReportKey(policyDomain: "a.example", periodStart: day), TLSReportKey(policyDomain: "b.example", periodStart: day)])
            let a = try await store.tlsSessionTallies(TLSReportKey(policyDomain: "a.example", periodStart: day))
            #expect(a == [
                tally("a.example", day, sessions: 3, policy: "version: STSv1\nmode: enforce"),
                tally("a.example", day, result: "certificate-not-trusted", mx: "mx.a.example"),
            ])
            #expect(try await store.takeTLSSessionTallies(TLSReportKey(policyDomain: "a.example", periodStart: day)) == a)
            #expect(try await store.takeTLSSessionTallies(TLSReportKey(policyDomain: "a.example", periodStart: day)).isEmpty, "taken once")
            #expect(try await store.tlsReportsDue(periodsStartedBefore: next.addingTimeInterval(1)) == [
                TLSReportKey(policyDomain: "b.example", periodStart: day), TLSReportKey(policyDomain: "a.example", periodStart: next),
            ])
        }
    }
}

@Suite("Transport security: local domains' MTA-STS policies and TLS report addresses")
struct DomainTransportPolicyStoreTests {
    @Test("a domain has none until set; set replaces, is audited, and goes with the domain; bad values are refused", arguments: StoreBackendKind.allCases)
    func domainPolicy(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let actor = AuditActor(tokenID: "admin")
            _ = try await store.createDomain("shop.example")
            let none = try await store.domainTransportPolicy(domain: "Shop.example")
            #expect(none == DomainTransportPolicy() && none.updatedAt == nil)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let wanted = DomainTransportPolicy(
                mtaSTSMode: .enforce, mtaSTSMaxAge: 86_400, mtaSTSMX: ["MX1.shop.example", "*.mx.shop.example"],
                tlsReportAddresses: ["mailto:tls@shop.example", "https://reports.example/tlsrpt"])
            let stored = try await store.setDomainTransportPolicy(domain: "shop.example", wanted, now: now, audit: actor)
            #expect(stored.mtaSTSMX == ["mx1.shop.example", "*.mx.shop.example"] && stored.updatedAt == now)
            #expect(try await store.domainTransportPolicy(domain: "shop.example") == stored)
            var changed = stored
            changed.mtaSTSMode = .none
            changed.tlsReportAddresses = []
            _ = try await store.setDomainTransportPolicy(domain: "shop.example", changed, now: now, audit: actor)
            let read = try await store.domainTransportPolicy(domain: "shop.example")
            #expect(read.mtaSTSMode == .none && read.tlsReportAddresses.isEmpty && read.mtaSTSMaxAge == 86_400)
            let audit = try await store.auditEntries(limit: 10).filter { $0.action == "domain.transport-policy" }
            #expect(audit.count == 2 && audit.allSatisfy { $0.target == "shop.example" })

            for bad in [
                DomainTransportPolicy(mtaSTSMaxAge: 0), DomainTransportPolicy(mtaSTSMaxAge: 31_557_601),
                DomainTransportPolicy(mtaSTSMX: ["a b"]), DomainTransportPolicy(tlsReportAddresses: ["mailto:a@x,mailto:b@x"]),
            ] {
                await #expect(throws: MailStoreError.self) { _ = try await store.setDomainTransportPolicy(domain: "shop.example", bad) }
            }
            await #expect(throws: MailStoreError.self) { _ = try await store.domainTransportPolicy(domain: "nowhere.example") }
            await #expect(throws: MailStoreError.self) {
                _ = try await store.setDomainTransportPolicy(domain: "nowhere.example", DomainTransportPolicy())
            }
            // A domain made again under the same name starts without the old one's policy.
            try await store.deleteDomain("shop.example", force: true)
            _ = try await store.createDomain("shop.example")
            #expect(try await store.domainTransportPolicy(domain: "shop.example").updatedAt == nil)
        }
    }
}
