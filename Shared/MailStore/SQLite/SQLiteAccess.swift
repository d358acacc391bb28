import Foundation
import GRDB
import Logging

/// The SQLite file's connection pool with the store's error mapping: what every part of the SQLite
/// backend reads and writes through.
struct SQLiteAccess: Sendable {
    let pool: DatabasePool
    let logger: Logger

    /// Runs `updates` in one IMMEDIATE transaction. Database failures become `.unavailable`; the
    /// store's own errors pass through unchanged.
    func write<T: Sendable>(_ updates: @Sendable @escaping (Database) throws -> T) async throws(MailStoreError) -> T {
        do {
            return try await self.pool.write(updates)
        } catch {
            throw self.mapped(error)
        }
    }

    /// Runs `updates` in one IMMEDIATE transaction whose commit does not wait for the disk: the writer
    /// is at `synchronous=NORMAL` for this transaction only, then back at FULL. For changes a power loss
    /// may undo without breaking a promise (IMAP flags; Dovecot does not sync flag changes either): the
    /// WAL keeps the file consistent, and the next durable commit syncs these frames with its own, while
    /// a STORE answers without waiting for the disk.
    func writeWithoutSync<T: Sendable>(_ updates: @Sendable @escaping (Database) throws -> T) async throws(MailStoreError)
        -> T
    {
        try await self.writeWithoutTransaction { db in
            // Outside a transaction: SQLite refuses to change the level inside one.
            try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute()
            defer {
                // Cannot fail outside a transaction, which inTransaction guarantees on every path.
                try? db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
            }
            var result: T?
            try db.inTransaction(.immediate) {
                result = try updates(db)
                return .commit
            }
            guard let result else { throw MailStoreError.unavailable("no result") }
            return result
        }
    }

    func writeWithoutTransaction<T: Sendable>(_ updates: @Sendable @escaping (Database) throws -> T)
        async throws(MailStoreError) -> T
    {
        do {
            return try await self.pool.writeWithoutTransaction(updates)
        } catch {
            throw self.mapped(error)
        }
    }

    func read<T: Sendable>(_ value: @Sendable @escaping (Database) throws -> T) async throws(MailStoreError) -> T {
        do {
            return try await self.pool.read(value)
        } catch {
            throw self.mapped(error)
        }
    }

    func mapped(_ error: any Error) -> MailStoreError {
        if let error = error as? MailStoreError { return error }
        self.logger.error("database error", metadata: ["error": "\(error)"])
        return Self.classified(error)
    }

    /// A database failure as the store reports it: a full disk is `storageFull` (the protocols answer
    /// with their "insufficient storage" errors), anything else `unavailable`.
    static func classified(_ error: any Error) -> MailStoreError {
        if let error = error as? MailStoreError { return error }
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_FULL { return .storageFull("\(error)") }
        return .unavailable("\(error)")
    }
}
