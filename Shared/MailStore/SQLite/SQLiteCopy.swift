import Crypto
import Foundation
import GRDB

/// The SQLite file's side of a copy between backends. Rows are read in row order (`rowid`, which is
/// the id where a table has one), a batch per read transaction.
struct SQLiteCopy: StoreCopyBackend {
    let access: SQLiteAccess

    func exportRows(of table: StoreTable, after: Int64, limit: Int) async throws(MailStoreError)
        -> (rows: [[StoreValue]], last: Int64?)
    {
        let columns = table.columns.map(\.name).joined(separator: ", ")
        return try await self.access.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT rowid, \(columns) FROM \(table.name) WHERE rowid > ? ORDER BY rowid LIMIT ?",
                arguments: [after, limit])
            let values = rows.map { row in
                table.columns.enumerated().map { index, column in Self.value(row, index + 1, column.kind) }
            }
            return (values, rows.last.map { $0[0] as Int64 })
        }
    }

    static func value(_ row: Row, _ index: Int, _ kind: StoreTable.Kind) -> StoreValue {
        if row.hasNull(atIndex: index) { return .null }
        switch kind {
        case .integer: return .integer(row[index])
        case .text: return .text(row[index])
        case .bytes: return .bytes(row[index])
        case .date: return .date(row[index])
        case .boolean: return .boolean(row[index])
        }
    }

    func importRows(_ rows: [[StoreValue]], into table: StoreTable) async throws(MailStoreError) {
        let columns = table.columns.map(\.name).joined(separator: ", ")
        let placeholders = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
        try await self.access.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO \(table.name) (\(columns)) VALUES (\(placeholders))")
            for row in rows {
                let values: [(any DatabaseValueConvertible)?] = zip(table.columns, row).map { column, value in
                    if column.recounted { return Int64(0) }
                    switch value {
                    case .null: return nil
                    case .integer(let integer): return integer
                    case .text(let text): return text
                    case .bytes(let bytes): return bytes
                    case .date(let date): return date
                    case .boolean(let boolean): return boolean
                    }
                }
                try statement.execute(arguments: StatementArguments(values))
            }
        }
    }

    func isEmpty() async throws(MailStoreError) -> Bool {
        try await self.access.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM domain) + (SELECT count(*) FROM messageBlob) + (SELECT count(*) FROM queueMessage)
                        + (SELECT count(*) FROM adminToken)
                    """) == 0
        }
    }

    /// Nothing to do: AUTOINCREMENT remembers the largest id written.
    func finishImport() async throws(MailStoreError) {}

    func rowCount(of table: StoreTable) async throws(MailStoreError) -> Int {
        try await self.access.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.name)") ?? 0 }
    }

    func recountedValues(of table: StoreTable) async throws(MailStoreError) -> [Int64: [Int64]] {
        let recounted = table.columns.filter(\.recounted).map(\.name)
        guard !recounted.isEmpty else { return [:] }
        return try await self.access.read { db in
            var values: [Int64: [Int64]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, \(recounted.joined(separator: ", ")) FROM \(table.name)") {
                values[row[0]] = (1...recounted.count).map { row[$0] }
            }
            return values
        }
    }

    func contentDigests(after: Int64, limit: Int) async throws(MailStoreError) -> [(id: Int64, digest: Data)] {
        try await self.access.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, layout, content FROM messageBlob WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit]
            ).map { row in
                let content = try MailStore.storedContent(db, blobID: row[0], layout: row[1], inline: row[2])
                return (row[0], Data(SHA256.hash(data: content)))
            }
        }
    }
}
