import Foundation
import Logging
import MailFormat
@testable import MailStore
import TestSupport
import Testing

@Suite("Store setup: durability settings and migrations")
struct StoreSetupTests {
    @Test("the writer connection runs WAL with synchronous=FULL after GRDB's own setup")
    func writerPragmas() async throws {
        try await StoreFixture.with { fixture in
            let store = try fixture.open()
            let pragmas = try await store.writerPragmas()
            #expect(pragmas.synchronous == 2, "2 is FULL; GRDB's WAL setup alone leaves NORMAL (1)")
            #expect(pragmas.journalMode == "wal")
        }
    }

    @Test("migrations are applied once; reopening changes nothing")
    func migrationsOnce() async throws {
        try await StoreFixture.with { fixture in
            let first = try await fixture.open().appliedMigrations()
            #expect(!first.isEmpty)
            let store = try fixture.open()
            #expect(try await store.appliedMigrations() == first)
            #expect(await store.isReady())
        }
    }

    @Test("opening a file from before the header table and the mailbox counts fills both in for what is stored")
    func headerMigration() async throws {
        try await StoreFixture.with { fixture in
            let content = Data("Subject: old\r\nFrom: a@example.net\r\n\r\nstored before\r\n".utf8)
            let hex = content.map { String(format: "%02X", $0) }.joined()
            try MailStoreMigrator.writeEarlierFile(
                at: fixture.path, migratedUpTo: "2026-11-27 IMAP recent floor",
                then: """
                    INSERT INTO domain(name, createdAt) VALUES ('example.org', CURRENT_TIMESTAMP);
                    INSERT INTO account(domainId, address, localPart, passwordHash, createdAt, updatedAt)
                        VALUES (1, 'alice@example.org', 'alice', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
                    INSERT INTO mailbox(accountId, name, uidValidity, uidNext, createdAt) VALUES (1, 'INBOX', 7, 2, CURRENT_TIMESTAMP);
                    INSERT INTO messageBlob(content, size, createdAt) VALUES (X'\(hex)', \(content.count), CURRENT_TIMESTAMP);
                    INSERT INTO mailboxMessage(mailboxId, uid, messageBlobId, size, internalDate, modSeq)
                        VALUES (1, 1, 1, \(content.count), CURRENT_TIMESTAMP, 2);
                    """)

            let store = try fixture.open()
            #expect(await store.isReady())
            let alice = try await store.account(try EmailAddress(parsing: "alice@example.org"))
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let listed = try await store.messagesWithContent(in: inbox.id, uids: 1...1, content: .header)
            #expect(listed.map(\.content) == [Data("Subject: old\r\nFrom: a@example.net\r\n\r\n".utf8)])
            // The mailbox counts are computed for what was there.
            let status = try await store.mailboxStatus(inbox.id)
            #expect([status.messages, status.unseen, status.deleted] == [1, 1, 0] && status.sizeBytes == Int64(content.count))
            try await store.expunge(uids: [1], in: inbox.id)
            #expect(try await store.storedContents() == (0, 0))
        }
    }

    @Test("messages filed before save dates were kept are read with their internal date as their save date; later ones with the time they were filed")
    func saveDateMigration() async throws {
        try await StoreFixture.with { fixture in
            try MailStoreMigrator.writeEarlierFile(
                at: fixture.path, migratedUpTo: "2026-12-05 subscriptions apart from mailboxes",
                then: """
                    INSERT INTO domain(name, createdAt) VALUES ('example.org', CURRENT_TIMESTAMP);
                    INSERT INTO account(domainId, address, localPart, passwordHash, createdAt, updatedAt)
                        VALUES (1, 'alice@example.org', 'alice', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
                    INSERT INTO mailbox(accountId, name, uidValidity, uidNext, createdAt) VALUES (1, 'INBOX', 7, 2, CURRENT_TIMESTAMP);
                    INSERT INTO messageBlob(content, size, createdAt) VALUES (X'41', 1, CURRENT_TIMESTAMP);
                    INSERT INTO messageHeader(messageBlobId, header) VALUES (1, X'');
                    INSERT INTO mailboxMessage(mailboxId, uid, messageBlobId, size, internalDate, modSeq)
                        VALUES (1, 1, 1, 1, '2001-01-01 10:00:00.000', 2);
                    """)
            let store = try fixture.open()
            let alice = try await store.account(try EmailAddress(parsing: "alice@example.org"))
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let old = Date(timeIntervalSince1970: 978_343_200)
            let before = Date()
            let appended = try await store.appendMessage(Data("Subject: new\r\n\r\nnew\r\n".utf8), to: inbox.id, internalDate: old)
            let listed = try await store.messages(in: inbox.id)
            #expect(listed.map(\.internalDate) == [old, old])
            #expect(listed[0].savedDate == old)
            #expect(listed[1].savedDate == appended.savedDate && abs(appended.savedDate.timeIntervalSince(before)) < 60)
        }
    }

    @Test("a file that is not a database is refused with a clear error, not a crash")
    func notADatabase() async throws {
        try await StoreFixture.with { fixture in
            try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: fixture.path))
            #expect(throws: MailStoreError.self) { try fixture.open() }
        }
    }

    @Test("several processes migrating a new file at the same moment all succeed, and migrate once")
    func racingMigrations() async throws {
        // Without the migration lock this fails in about one round of three; five rounds make a
        // regression visible.
        for _ in 0..<5 {
            try await StoreFixture.with { fixture in
                let children = try (0..<6).map { _ in
                    try ChildProcess.start(BuiltProducts.executable("StoreTorture"), ["migrate", fixture.path])
                }
                for child in children {
                    let result = try await child.finish()
                    #expect(result.status == 0, "\(result.errors)")
                    #expect(result.output.contains("migrated"))
                }
                let store = try fixture.open()
                let applied = try await store.appliedMigrations()
                #expect(Set(applied).count == applied.count)
                #expect(await store.isReady())
            }
        }
    }

    @Test("another process also sees synchronous=FULL on its writer")
    func otherProcessPragmas() async throws {
        try await StoreFixture.with { fixture in
            let result = try await ChildProcess.start(
                BuiltProducts.executable("StoreTorture"), ["pragmas", fixture.path]
            ).finish()
            #expect(result.status == 0, "\(result.errors)")
            #expect(result.output.contains("synchronous=2 journal_mode=wal"))
        }
    }
}
