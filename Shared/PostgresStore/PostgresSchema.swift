import Logging
import MailStore
import PostgresNIO

/// The PostgreSQL schema's migrations (`schema_migration`, see `PostgresMigrator`).
struct PostgresSchema: SchemaBackend {
    let access: PostgresAccess

    func appliedMigrations() async throws(MailStoreError) -> [String] {
        let logger = self.access.logger
        return try await self.access.read { connection in
            try await connection.rows("SELECT identifier FROM schema_migration ORDER BY applied_at, identifier", logger)
                .map { try $0.decode(String.self) }
        }
    }

    /// Answered within 3 s at most: a readiness probe waits on it.
    func isReady() async -> Bool {
        var access = self.access
        access.deadline = min(access.deadline, .seconds(3))
        do {
            let applied = Set(try await PostgresSchema(access: access).appliedMigrations())
            return PostgresMigrator.migrations.allSatisfy { applied.contains($0.identifier) }
        } catch {
            self.access.logger.warning("store readiness check failed", metadata: ["error": "\(error)"])
            return false
        }
    }
}
