import Foundation
import GRDB
import Logging
import Synchronization

/// The suite's mailbox-and-queue database, shared by every Estafeta process: the embedded SQLite file
/// by default, or another backend's database that several hosts share.
///
/// Callers get intention-named async methods that take and return domain values; each protocol promise
/// is one transaction that has committed before the method returns. The mail rules (what a valid name
/// is, which mailboxes an account starts with) are here, once; what a backend does is in the
/// `…Backend` protocols. What only the SQLite file has (its backup, integrity check, pragmas, immediate
/// reads) answers `unavailable` or nil on another backend.
public final class MailStore: Sendable {
    /// The SQLite file, for the parts of the store still written against it; nil on other backends.
    let sqlite: SQLiteAccess?
    /// Domains, accounts, aliases, admin tokens, the audit log and failed logins.
    let directory: any DirectoryBackend
    /// Mailboxes, messages and the change feed.
    let mailboxStore: any MailboxBackend
    /// Uploads and piecewise reads of content.
    let contents: any ContentBackend
    /// The delivery queue.
    let queue: any QueueBackend
    /// The purge's batches.
    let retention: any RetentionBackend
    /// Migrations and readiness.
    let schema: any SchemaBackend
    /// Signals of changes as they commit; nil where processes only poll (SQLite).
    let signals: (any SignalBackend)?
    /// Rows out and in, for copying a store to another backend (`estafeta migrate-store`).
    public let copying: any StoreCopyBackend
    let logger: Logger
    public let settings: MailStoreSettings
    /// The read-only connections of `immediate` reads, one per thread that makes them (SQLite only).
    let threadReaders: ThreadReaders?
    /// The last answer of `spaceIsLow` and when it was read.
    let spaceCheck = Mutex<(at: ContinuousClock.Instant, low: Bool)?>(nil)

    private init(pool: DatabasePool, settings: MailStoreSettings, logger: Logger) {
        let access = SQLiteAccess(pool: pool, logger: logger)
        self.sqlite = access
        self.directory = SQLiteDirectory(access: access)
        let appends = SQLiteMailboxes.makeAppends()
        self.mailboxStore = SQLiteMailboxes(access: access, appends: appends)
        self.contents = SQLiteContents(access: access, appends: appends)
        self.queue = SQLiteQueue(access: access)
        self.retention = SQLiteRetention(access: access)
        self.schema = SQLiteSchema(access: access)
        self.signals = nil
        self.copying = SQLiteCopy(access: access)
        self.settings = settings
        self.logger = logger
        self.threadReaders = ThreadReaders(path: settings.path, busyTimeout: settings.busyTimeout)
    }

    /// A store on another backend than the SQLite file (PostgreSQL: the `PostgresStore` module makes
    /// its backends). There is no local file: `spaceIsLow` is the database server's concern.
    public init(
        directory: any DirectoryBackend, mailboxes: any MailboxBackend, contents: any ContentBackend, queue: any QueueBackend,
        retention: any RetentionBackend, schema: any SchemaBackend, signals: (any SignalBackend)?,
        copying: any StoreCopyBackend, logger: Logger
    ) {
        self.sqlite = nil
        self.directory = directory
        self.mailboxStore = mailboxes
        self.contents = contents
        self.queue = queue
        self.retention = retention
        self.schema = schema
        self.signals = signals
        self.copying = copying
        self.settings = MailStoreSettings(path: "", minimumFreeBytes: 0, quickCheckAtOpen: false)
        self.logger = logger
        self.threadReaders = nil
    }

    /// The wait between polls for `signal`'s changes: cut short by the backend's signals where it has
    /// them. One per polling loop.
    public func doorbell(for signal: StoreSignal) -> StoreDoorbell {
        StoreDoorbell(signal: signal, backend: self.signals)
    }

    /// The SQLite file, or `unavailable` on another backend.
    func sqliteAccess() throws(MailStoreError) -> SQLiteAccess {
        guard let sqlite = self.sqlite else {
            throw .unavailable("this part of the store is not available on PostgreSQL in this version")
        }
        return sqlite
    }

    /// The writer reads pages through a memory map of the file rather than a `pread` copy per page (the
    /// map is a window onto the OS cache; pages not touched cost nothing). Readers do not: SQLite drops
    /// a connection's whole map when a read starts after another connection's commit, so under IMAP's
    /// steady flag changes and appends each read paid munmap, TLB shootdowns and page faults to map
    /// the file again, which cost IMAP more than the maps saved POP3 RETR of unchanging mailboxes (the
    /// README's benchmark section has the figures).
    static func prepare(_ db: Database) throws {
        if !db.configuration.readonly { try db.execute(sql: "PRAGMA mmap_size = 268435456") }
    }

    /// Opens (creating if needed) and migrates the database. Blocking: call it at startup, before the
    /// services run. Several processes may call it at the same moment.
    public static func open(settings: MailStoreSettings, logger: Logger) throws(MailStoreError) -> MailStore {
        let directory = (settings.path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .cannotOpen(path: settings.path, reason: "cannot create \(directory): \(error)")
            }
        }
        var configuration = Configuration()
        configuration.label = "estafeta.store"
        // Another process holding the write lock makes us wait, not fail (SQLITE_BUSY never reaches
        // a client unless the wait exceeds the timeout). Write transactions are IMMEDIATE in GRDB 7,
        // so a transaction never has to upgrade a read lock, the case a busy timeout cannot help.
        configuration.busyMode = .timeout(TimeInterval(settings.busyTimeout.components.seconds)
            + TimeInterval(settings.busyTimeout.components.attoseconds) / 1e18)
        configuration.maximumReaderCount = max(1, settings.maximumReaderCount)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in try MailStore.prepare(db) }
        do {
            let pool = try MigrationLock.withExclusiveLock(besides: settings.path) { () throws -> DatabasePool in
                let pool = try DatabasePool(path: settings.path, configuration: configuration)
                // GRDB's WAL setup sets synchronous=NORMAL on the writer after prepareDatabase has run.
                // NORMAL may lose the last commits on power loss; a message we answered 250 for must not
                // be lost, so the writer goes back to FULL: every commit syncs the WAL.
                try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
                try Self.useIncrementalVacuum(pool, logger: logger)
                try MailStoreMigrator.make().migrate(pool)
                return pool
            }
            let store = MailStore(pool: pool, settings: settings, logger: logger)
            try store.verifyDurabilitySettings()
            if settings.quickCheckAtOpen {
                let findings = try pool.read { db in try Self.check(db, pragma: "quick_check") }
                guard findings.isEmpty else { throw MailStoreError.corrupt(path: settings.path, findings: findings) }
            }
            return store
        } catch let error as MailStoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
            throw .corrupt(path: settings.path, findings: [error.message ?? "\(error)"])
        } catch {
            throw .cannotOpen(path: settings.path, reason: "\(error)")
        }
    }

    /// Puts the file in incremental auto-vacuum mode, so that the pages a purge frees can be given back
    /// to the filesystem (`SQLiteRetention.releaseFreeSpace`) instead of only being reused. SQLite takes the new mode
    /// with a VACUUM, which rewrites the file once (a WAL file has its first page written before any
    /// table exists, so even a new file needs it): a file made before this is rewritten on its first
    /// start, under the migration lock, so by one process only.
    static func useIncrementalVacuum(_ pool: DatabasePool, logger: Logger) throws {
        try pool.writeWithoutTransaction { db in
            guard try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") != 2 else { return }
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0 > 0 {
                logger.notice("rewriting the database once for incremental vacuum (VACUUM)")
            }
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "VACUUM")
        }
    }

    /// The startup self-check: refuse to run on a connection that would
    /// not keep the durability promise.
    func verifyDurabilitySettings() throws {
        let (journalMode, synchronous) = try self.sqliteAccess().pool.writeWithoutTransaction { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
        guard journalMode.lowercased() == "wal" else {
            throw MailStoreError.unsafeConfiguration("journal_mode is \(journalMode), expected wal")
        }
        // 2 is FULL, 3 is EXTRA: both sync the WAL on every commit.
        guard synchronous >= 2 else {
            throw MailStoreError.unsafeConfiguration("synchronous is \(synchronous), expected FULL (2)")
        }
    }

    /// The writer connection's `PRAGMA synchronous` and `PRAGMA journal_mode`, for tests and `/readyz`.
    public func writerPragmas() async throws(MailStoreError) -> (synchronous: Int, journalMode: String) {
        try await self.writeWithoutTransaction { db in
            (
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? ""
            )
        }
    }

    /// Names of the migrations applied to the database, in order.
    public func appliedMigrations() async throws(MailStoreError) -> [String] {
        try await self.schema.appliedMigrations()
    }

    /// True when the database answers, every migration this build knows is applied and there is room
    /// for new mail (`/readyz`).
    public func isReady() async -> Bool {
        guard !self.spaceIsLow else { return false }
        return await self.schema.isReady()
    }

    /// Bytes an unprivileged writer may still use on the database's filesystem; nil when it cannot be
    /// read.
    public var freeBytes: Int64? {
        guard !self.settings.path.isEmpty else { return nil }
        var directory = (self.settings.path as NSString).deletingLastPathComponent
        if directory.isEmpty { directory = "." }
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Whether the database's filesystem has less free space than `minimumFreeBytes`: new mail is then
    /// refused with temporary errors (SMTP at MAIL, IMAP APPEND and COPY, local delivery deferred) while
    /// everything already accepted stays readable. Asked per message, so the filesystem's answer is
    /// kept for a second rather than asked with a statvfs call each time.
    public var spaceIsLow: Bool {
        guard self.settings.minimumFreeBytes > 0 else { return false }
        let now = ContinuousClock.now
        if let known = self.spaceCheck.withLock({ $0 }), now - known.at < .seconds(1) { return known.low }
        let low = self.freeBytes.map { $0 < self.settings.minimumFreeBytes } ?? false
        self.spaceCheck.withLock { $0 = (now, low) }
        return low
    }

    // MARK: Access with error mapping (SQLite)

    func write<T: Sendable>(_ updates: @Sendable @escaping (Database) throws -> T) async throws(MailStoreError) -> T {
        try await self.sqliteAccess().write(updates)
    }

    func writeWithoutSync<T: Sendable>(_ updates: @Sendable @escaping (Database) throws -> T) async throws(MailStoreError)
        -> T
    {
        try await self.sqliteAccess().writeWithoutSync(updates)
    }

    func writeWithoutTransaction<T: Sendable>(_ updates: @Sendable @escaping (Database) throws -> T)
        async throws(MailStoreError) -> T
    {
        try await self.sqliteAccess().writeWithoutTransaction(updates)
    }

    func read<T: Sendable>(_ value: @Sendable @escaping (Database) throws -> T) async throws(MailStoreError) -> T {
        try await self.sqliteAccess().read(value)
    }

    func mapped(_ error: any Error) -> MailStoreError {
        if let error = error as? MailStoreError { return error }
        self.logger.error("database error", metadata: ["error": "\(error)"])
        return SQLiteAccess.classified(error)
    }
}

extension Database {
    /// Hands out the next value of a named counter (UIDVALIDITY) in the current transaction.
    func nextCounterValue(_ name: String, atLeast minimum: Int64) throws -> Int64 {
        let current = try Int64.fetchOne(self, sql: "SELECT value FROM counter WHERE name = ?", arguments: [name])
        let next = max(minimum, (current ?? 0) + 1)
        try self.execute(
            sql: "INSERT INTO counter(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            arguments: [name, next])
        return next
    }
}

extension MailStore {
    /// How many message contents the store holds (each once, however many mailbox and queue messages
    /// share it) and their bytes: what expunging gives back.
    public func storedContents() async throws(MailStoreError) -> (count: Int, bytes: Int64) {
        try await self.mailboxStore.storedContents()
    }

    /// `PRAGMA integrity_check`: an empty array when the file is sound, else SQLite's findings.
    public func integrityCheck() async throws(MailStoreError) -> [String] {
        try await self.read { db in try Self.check(db, pragma: "integrity_check") }
    }

    /// A check pragma's findings; a file too damaged for the check to finish is one finding, SQLite's error.
    static func check(_ db: Database, pragma: String) throws -> [String] {
        do {
            return try String.fetchAll(db, sql: "PRAGMA \(pragma)").filter { $0 != "ok" }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
            return [error.message ?? "\(error)"]
        }
    }
}

extension MailStore {
    /// Takes SQLite's write lock and keeps it for `seconds`, for fault tests of other processes
    ///. Not used by any service.
    public func holdWriteLockForTesting(seconds: Double, whenLocked: @Sendable @escaping () -> Void)
        async throws(MailStoreError)
    {
        try await self.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO counter(name, value) VALUES ('lock-test', 0)")
            whenLocked()
            Thread.sleep(forTimeInterval: seconds)
        }
    }
}
