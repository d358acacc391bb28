import Foundation
import MailStore
import Testing
import TestSupport

@Suite("Store: imports' and exports' reports")
struct TransferStoreTests {
    @Test("a transfer starts running, takes reports until it ends, keeps how it ended; listed in order with a cursor", arguments: StoreBackendKind.allCases)
    func transfers(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let started = Date(timeIntervalSince1970: 1_800_000_000)
            let first = try await store.startTransfer(
                kind: "import dovecot", account: "bob@example.org", source: "/srv/mail/bob/Maildir", host: "mx1 pid 7", now: started)
            #expect(first.state == .running && first.counts == MailTransfer.Counts() && first.startedAt == started)
            let second = try await store.startTransfer(kind: "export tar", account: nil, source: "admin API", host: "mx2 pid 9", now: started)
            #expect(second.id > first.id)

            let halfway = MailTransfer.Counts(folders: 2, messages: 1_500, bytes: 9_000_000_000, alreadyThere: 10, problems: 1)
            try await store.reportTransfer(first.id, state: .running, counts: halfway, detail: "Archive", now: started + 5)
            var read = try #require(try await store.transfer(first.id))
            #expect(read.state == .running && read.counts == halfway && read.detail == "Archive" && read.updatedAt == started + 5)
            #expect(read.account == "bob@example.org" && read.source == "/srv/mail/bob/Maildir" && read.host == "mx1 pid 7")

            let end = MailTransfer.Counts(folders: 3, messages: 2_000, bytes: 9_100_000_000, alreadyThere: 10, problems: 1)
            try await store.reportTransfer(first.id, state: .failed, counts: end, detail: "cur/x: cannot read", now: started + 9)
            // A late progress report from the same run does not bring it back to life.
            try await store.reportTransfer(first.id, state: .running, counts: halfway, detail: "Archive", now: started + 10)
            read = try #require(try await store.transfer(first.id))
            #expect(read.state == .failed && read.counts == end && read.detail == "cur/x: cannot read" && read.updatedAt == started + 9)

            let all = try await store.transfers()
            #expect(all.map(\.id) == [first.id, second.id] && all[1].account == nil)
            #expect(try await store.transfers(after: first.id, limit: 10).map(\.id) == [second.id])
            #expect(try await store.transfers(limit: 1).map(\.id) == [first.id])
            #expect(try await store.transfer(second.id + 1) == nil)
        }
    }
}
