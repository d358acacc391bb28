import Foundation
import GRDB

extension MailStore {
    /// What `backup(to:)` wrote.
    public struct BackupSummary: Sendable {
        public let path: String
        public let bytes: Int64
        public let migration: String?
    }

    /// Copies the database to a new file at `path` with SQLite's online backup API, while every service
    /// keeps running: the copy is one consistent snapshot (one read transaction on a WAL reader), writers
    /// go on meanwhile, and the copy is checked (`PRAGMA integrity_check`) before it takes its name, so a
    /// file at `path` is always a whole, valid database. An existing file is never overwritten.
    public func backup(to path: String) throws(MailStoreError) -> BackupSummary {
        let fileManager = FileManager.default
        guard !fileManager.fileExists(atPath: path) else {
            throw .cannotOpen(path: path, reason: "a file already exists there; choose a new name")
        }
        let partial = path + ".partial"
        try? fileManager.removeItem(atPath: partial)
        do {
            let migration: String?
            do {
                let destination = try DatabaseQueue(path: partial)
                try self.sqliteAccess().pool.backup(to: destination)
                migration = try destination.read { db in
                    let check = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                    guard check == ["ok"] else {
                        throw MailStoreError.unavailable("the copy failed its integrity check: \(check.prefix(5).joined(separator: "; "))")
                    }
                    return try String.fetchOne(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid DESC LIMIT 1")
                }
                try destination.close()
            }
            try fileManager.moveItem(atPath: partial, toPath: path)
            let bytes = (try? fileManager.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            return BackupSummary(path: path, bytes: bytes, migration: migration)
        } catch {
            try? fileManager.removeItem(atPath: partial)
            throw self.mapped(error)
        }
    }
}
