import Foundation

/// Copies a whole store to an empty one on another backend (`estafeta migrate-store`) and proves the copy:
/// the same rows in every table (ids, UIDVALIDITY, UIDs, modseqs, flags, dates, queue states, tokens, the
/// audit log as they were), usage and STATUS counts counted again by the target from the copied messages
/// and equal to the source's, and every content's SHA-256 the same on both sides. Run it with the services
/// stopped: what the source takes in meanwhile is not copied.
public enum StoreCopy {
    public struct Report: Sendable {
        /// Rows copied, by table (the SQLite file's table names).
        public var rows: [String: Int] = [:]
        /// Contents whose digests were compared.
        public var contentsVerified = 0
    }

    /// Rows read and written at once: few for tables whose rows may be a whole message.
    static func batchSize(_ table: StoreTable) -> Int {
        switch table.name {
        case "messageBlob": 4
        case "messageChunk": 16
        case "messageHeader", "mailboxMessage": 200
        default: 500
        }
    }

    public static func copy(
        from source: MailStore, to target: MailStore, progress: @Sendable (String) -> Void = { _ in }
    ) async throws(MailStoreError) -> Report {
        guard try await target.copying.isEmpty() else {
            throw .invalidArgument("the target database already holds mail, accounts or tokens; copy into an empty one")
        }
        var report = Report()
        for table in StoreTable.all {
            var after: Int64 = 0
            var copied = 0
            while true {
                let (rows, last) = try await source.copying.exportRows(of: table, after: after, limit: Self.batchSize(table))
                guard let last else { break }
                try await target.copying.importRows(rows, into: table)
                copied += rows.count
                after = last
            }
            report.rows[table.name] = copied
            progress("\(table.name): \(copied) rows")
        }
        try await target.copying.finishImport()
        report.contentsVerified = try await Self.verify(source, target, report: report)
        progress("verified: row counts, usage and STATUS counts, \(report.contentsVerified) contents by SHA-256")
        return report
    }

    /// Compares what was copied; `unavailable` naming the first difference. Returns the contents compared.
    static func verify(_ source: MailStore, _ target: MailStore, report: Report) async throws(MailStoreError) -> Int {
        for table in StoreTable.all {
            let (from, to) = (try await source.copying.rowCount(of: table), try await target.copying.rowCount(of: table))
            guard from == to, to == report.rows[table.name] else {
                throw .unavailable("the copy of \(table.name) has \(to) rows, the source \(from)")
            }
            guard table.columns.contains(where: \.recounted) else { continue }
            let expected = try await source.copying.recountedValues(of: table)
            let counted = try await target.copying.recountedValues(of: table)
            guard expected == counted else {
                let id = expected.keys.sorted().first { expected[$0] != counted[$0] } ?? 0
                throw .unavailable("\(table.name) \(id): counted \(counted[id] ?? []) in the copy, \(expected[id] ?? []) in the source")
            }
        }
        var compared = 0
        var after: Int64 = 0
        while true {
            let expected = try await source.copying.contentDigests(after: after, limit: 64)
            guard let last = expected.last else { break }
            let copied = try await target.copying.contentDigests(after: after, limit: 64)
            guard copied.map(\.id) == expected.map(\.id), copied.map(\.digest) == expected.map(\.digest) else {
                throw .unavailable("the contents after id \(after) differ between the copy and the source")
            }
            compared += expected.count
            after = last.id
        }
        return compared
    }
}
