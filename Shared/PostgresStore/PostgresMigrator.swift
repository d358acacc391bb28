import Logging
import PostgresNIO

/// The PostgreSQL schema, as versioned migrations like the SQLite one's: never edited once landed, each
/// in its own transaction. All of them run holding a session advisory lock, so that processes starting
/// together on several hosts migrate once; PostgreSQL releases the lock itself if the connection drops.
enum PostgresMigrator {
    /// `pg_advisory_lock`'s key for migrations: any fixed number the store uses for nothing else.
    static let lockKey: Int64 = 0x4573_7461_6665_7461  // "Estafeta"

    static let migrations: [(identifier: String, statements: [String])] = [
        (
            "2026-12-03 domains, accounts, aliases",
            [
                """
                CREATE TABLE domain (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name text NOT NULL,
                    created_at timestamptz NOT NULL
                )
                """,
                // Domains and addresses compare case-insensitively, as SQLite's NOCASE does for ASCII.
                "CREATE UNIQUE INDEX domain_name ON domain (lower(name))",
                """
                CREATE TABLE account (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    domain_id bigint NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                    address text NOT NULL,
                    local_part text NOT NULL,
                    display_name text,
                    password_hash text NOT NULL,
                    quota_bytes bigint CHECK (quota_bytes IS NULL OR quota_bytes >= 0),
                    used_bytes bigint NOT NULL DEFAULT 0,
                    message_count bigint NOT NULL DEFAULT 0,
                    enabled boolean NOT NULL DEFAULT true,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX account_address ON account (lower(address))",
                "CREATE INDEX account_domain ON account (domain_id)",
                // source is local@domain, or @domain for the domain's catch-all.
                """
                CREATE TABLE alias (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    domain_id bigint NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                    source text NOT NULL,
                    created_at timestamptz NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX alias_source ON alias (lower(source))",
                "CREATE INDEX alias_domain ON alias (domain_id)",
                """
                CREATE TABLE alias_target (
                    alias_id bigint NOT NULL REFERENCES alias(id) ON DELETE CASCADE,
                    target text NOT NULL,
                    UNIQUE (alias_id, target)
                )
                """,
            ]
        )
    ]

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withConnection { connection in
            _ = try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                try await Self.applyMissing(connection, logger: logger)
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
            _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
        }
    }

    private static func applyMissing(_ connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migration (
                identifier text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var applied: Set<String> = []
        for try await (identifier,) in try await connection.query("SELECT identifier FROM schema_migration", logger: logger)
            .decode((String,).self)
        {
            applied.insert(identifier)
        }
        for migration in Self.migrations where !applied.contains(migration.identifier) {
            logger.notice("migrating the PostgreSQL store", metadata: ["migration": "\(migration.identifier)"])
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                _ = try await connection.query(
                    "INSERT INTO schema_migration (identifier) VALUES (\(migration.identifier))", logger: logger)
            }
        }
    }
}
