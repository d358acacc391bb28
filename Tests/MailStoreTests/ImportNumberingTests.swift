import Foundation
import MailStore
import Testing
import TestSupport

@Suite("Imports that keep another server's numbering: UIDVALIDITY, UIDs and the next UID")
struct ImportNumberingTests {
    static func message(_ subject: String, uid: UInt32?, flags: Set<String> = [], date: Date = Date(timeIntervalSince1970: 1_700_000_000))
        -> NewMessage
    {
        NewMessage(content: .whole(Data("Subject: \(subject)\r\n\r\nbody\r\n".utf8)), flags: flags, internalDate: date, uid: uid)
    }

    @Test("messages keep their UIDs, the next UID is raised, a run again continues, conflicts are refused whole", arguments: StoreBackendKind.allCases)
    func numbering(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            // The new account's INBOX never held a message: it takes the other server's UIDVALIDITY.
            let inbox = try await store.prepareImportedMailbox(named: "inbox", of: alice.id, uidValidity: 1_275_660_208)
            #expect(inbox.name == "INBOX" && inbox.uidValidity == 1_275_660_208)
            let filed = try await store.appendMessages(
                [
                    Self.message("one", uid: 1, flags: ["\\Seen"]), Self.message("five", uid: 5, flags: ["\\Answered", "work"]),
                    Self.message("twenty-four", uid: 24, date: Date(timeIntervalSince1970: 1_600_000_000)),
                ], to: inbox.id)
            #expect(filed.map(\.uid) == [1, 5, 24])
            let listed = try await store.messages(in: inbox.id)
            #expect(listed.map(\.uid) == [1, 5, 24] && listed[1].flags == ["\\Answered", "work"])
            #expect(listed[2].internalDate == Date(timeIntervalSince1970: 1_600_000_000))
            try await store.raiseUIDNext(of: inbox.id, to: 25_022)
            try await store.raiseUIDNext(of: inbox.id, to: 10)
            #expect(try await store.mailbox(named: "INBOX", of: alice.id).uidNext == 25_022)

            // A UID already passed: refused, and nothing of the batch is filed.
            await #expect(throws: MailStoreError.self) {
                _ = try await store.appendMessages([Self.message("late", uid: 30_000), Self.message("early", uid: 24)], to: inbox.id)
            }
            #expect(try await store.messages(in: inbox.id).map(\.uid) == [1, 5, 24])
            #expect(try await store.mailbox(named: "INBOX", of: alice.id).uidNext == 25_022)

            // Run again: the same mailbox; with mail under another UIDVALIDITY, refused.
            #expect(try await store.prepareImportedMailbox(named: "INBOX", of: alice.id, uidValidity: 1_275_660_208).id == inbox.id)
            await #expect(throws: MailStoreError.self) {
                _ = try await store.prepareImportedMailbox(named: "INBOX", of: alice.id, uidValidity: 42)
            }

            // A new mailbox, unsubscribed, with its own number; mailboxes made later get a higher one.
            let archive = try await store.prepareImportedMailbox(
                named: "Archive/2025", of: alice.id, uidValidity: 1_800_000_000, specialUse: .archive)
            #expect(archive.uidValidity == 1_800_000_000 && !archive.subscribed && archive.specialUse == .archive)
            let fresh = try await store.createMailbox(named: "Fresh", of: alice.id)
            #expect(fresh.uidValidity > 1_800_000_000)

            // Mail arriving after the import goes on from the kept next UID.
            let later = try await store.appendMessage(Data("Subject: later\r\n\r\nx\r\n".utf8), to: inbox.id)
            #expect(later.uid == 25_022)
            await #expect(throws: MailStoreError.self) { try await store.raiseUIDNext(of: MailboxID(999_999), to: 5) }
            await #expect(throws: MailStoreError.self) {
                _ = try await store.prepareImportedMailbox(named: "bad\u{0}name", of: alice.id, uidValidity: 7)
            }
        }
    }

    @Test("an import files past the account's quota unless asked to respect it; other appends never do", arguments: StoreBackendKind.allCases)
    func quota(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)  // a quota of 1,000,000 octets
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let big = NewMessage(content: .whole(Data(("Subject: big\r\n\r\n" + String(repeating: "x", count: 1_200_000)).utf8)))
            await #expect(throws: MailStoreError.self) { _ = try await store.appendMessages([big], to: inbox.id) }
            #expect(try await store.messages(in: inbox.id).isEmpty)
            let filed = try await store.appendMessages([big], to: inbox.id, enforcingQuota: false)
            #expect(filed.count == 1)
            // Over the quota now: an ordinary append is refused.
            await #expect(throws: MailStoreError.self) {
                _ = try await store.appendMessage(Data("Subject: small\r\n\r\nx\r\n".utf8), to: inbox.id)
            }
        }
    }
}
