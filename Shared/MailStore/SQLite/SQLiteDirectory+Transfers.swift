import Foundation
import GRDB

/// Imports' and exports' reports in the SQLite file.
extension SQLiteDirectory {
    func insertTransfer(kind: String, account: String?, source: String, host: String, now: Date)
        async throws(MailStoreError) -> MailTransfer
    {
        try await self.access.write { db in
            try db.execute(
                sql: """
                    INSERT INTO mailTransfer(kind, account, source, host, state, folders, messages, bytes, alreadyThere, problems,
                        startedAt, updatedAt)
                    VALUES (?, ?, ?, ?, 'running', 0, 0, 0, 0, 0, ?, ?)
                    """, arguments: [kind, account, source, host, now, now])
            return MailTransfer(
                id: db.lastInsertedRowID, kind: kind, account: account, source: source, host: host, state: .running,
                counts: MailTransfer.Counts(), detail: nil, startedAt: now, updatedAt: now)
        }
    }

    func updateTransfer(_ id: Int64, state: MailTransfer.State, counts: MailTransfer.Counts, detail: String?, now: Date)
        async throws(MailStoreError)
    {
        // Progress reports need not survive a power cut: the last one is at most a few seconds old.
        try await self.access.writeWithoutSync { db in
            try db.execute(
                sql: """
                    UPDATE mailTransfer SET state = ?, folders = ?, messages = ?, bytes = ?, alreadyThere = ?, problems = ?,
                        detail = ?, updatedAt = ?
                    WHERE id = ? AND state = 'running'
                    """,
                arguments: [
                    state.rawValue, counts.folders, counts.messages, counts.bytes, counts.alreadyThere, counts.problems, detail,
                    now, id,
                ])
        }
    }

    func transfers(after: Int64, limit: Int) async throws(MailStoreError) -> [MailTransfer] {
        try await self.access.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM mailTransfer WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit])
                .map { row in
                    MailTransfer(
                        id: row["id"], kind: row["kind"], account: row["account"], source: row["source"], host: row["host"],
                        state: MailTransfer.State(rawValue: row["state"]) ?? .failed,
                        counts: MailTransfer.Counts(
                            folders: row["folders"], messages: row["messages"], bytes: row["bytes"],
                            alreadyThere: row["alreadyThere"], problems: row["problems"]),
                        detail: row["detail"], startedAt: row["startedAt"], updatedAt: row["updatedAt"])
                }
        }
    }
}
