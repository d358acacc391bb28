import GRDB
import Logging

/// The SQLite file's migrations (GRDB's `grdb_migrations` table).
struct SQLiteSchema: SchemaBackend {
    let access: SQLiteAccess

    func appliedMigrations() async throws(MailStoreError) -> [String] {
        try await self.access.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }
    }

    func isReady() async -> Bool {
        do {
            return try await self.access.read { db in try MailStoreMigrator.make().hasCompletedMigrations(db) }
        } catch {
            self.access.logger.warning("store readiness check failed", metadata: ["error": "\(error)"])
            return false
        }
    }
}
