import Foundation
import Logging
import MailStore
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
