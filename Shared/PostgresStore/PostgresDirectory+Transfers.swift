import Foundation
import Logging
import MailStore
import PostgresNIO

/// Imports' and exports' reports in PostgreSQL.
extension PostgresDirectory {
    func insertTransfer(kind: String, account: String?, source: String, host: String, now: Date)
        async throws(MailStoreError) -> MailTransfer
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard let row = try await connection.rows(
                """
                INSERT INTO mail_transfer (kind, account, source, host, state, folders, messages, bytes, already_there, problems,
                    started_at, updated_at)
                VALUES (\(kind), \(account), \(source), \(host), 'running', 0, 0, 0, 0, 0, \(now), \(now))
                RETURNING id
                """, logger
            ).first else { throw MailStoreError.invalidArgument("the transfer was not recorded") }
            return MailTransfer(
                id: try row.decode(Int64.self), kind: kind, account: account, source: source, host: host, state: .running,
                counts: MailTransfer.Counts(), detail: nil, startedAt: now, updatedAt: now)
        }
    }

    func updateTransfer(_ id: Int64, state: MailTransfer.State, counts: MailTransfer.Counts, detail: String?, now: Date)
        async throws(MailStoreError)
    {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await connection.query(
                """
                UPDATE mail_transfer SET state = \(state.rawValue), folders = \(Int64(counts.folders)),
                    messages = \(Int64(counts.messages)), bytes = \(counts.bytes), already_there = \(Int64(counts.alreadyThere)),
                    problems = \(Int64(counts.problems)), detail = \(detail), updated_at = \(now)
                WHERE id = \(id) AND state = 'running'
                """, logger: logger)
        }
    }

    func transfers(after: Int64, limit: Int) async throws(MailStoreError) -> [MailTransfer] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT id, kind, account, source, host, state, folders, messages, bytes, already_there, problems, detail,
                    started_at, updated_at
                FROM mail_transfer WHERE id > \(after) ORDER BY id LIMIT \(Int64(limit))
                """, logger
            ).map { row in
                let (id, kind, account, source, host, state, folders, messages, bytes, alreadyThere, problems, detail, startedAt, updatedAt) =
                    try row.decode((Int64, String, String?, String, String, String, Int64, Int64, Int64, Int64, Int64, String?, Date, Date).self)
                return MailTransfer(
                    id: id, kind: kind, account: account, source: source, host: host, state: MailTransfer.State(rawValue: state) ?? .failed,
                    counts: MailTransfer.Counts(
                        folders: Int(folders), messages: Int(messages), bytes: bytes, alreadyThere: Int(alreadyThere), problems: Int(problems)),
                    detail: detail, startedAt: startedAt, updatedAt: updatedAt)
            }
        }
    }
}
