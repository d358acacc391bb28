import Foundation
import Logging
import MailStore
import PostgresNIO

/// PostgreSQL's side of a copy between backends: rows written with their ids as given (`OVERRIDING
/// SYSTEM VALUE`), each batch one statement in one transaction.
struct PostgresCopy: StoreCopyBackend {
    let access: PostgresAccess
    var logger: Logger { self.access.logger }

    /// Tables whose `id` PostgreSQL hands out itself (an identity column).
    static func hasIdentity(_ table: StoreTable) -> Bool {
        table.hasID && table.columns.first?.kind == .integer
    }

    func exportRows(of table: StoreTable, after: Int64, limit: Int) async throws(MailStoreError)
        -> (rows: [[StoreValue]], last: Int64?)
    {
        // Read by id where the table has an integer one, else by the row's place in a stable order.
        let logger = self.logger
        let columns = table.columns.map(\.snakeName).joined(separator: ", ")
        let order = Self.hasIdentity(table) ? "id" : "ctid"
        return try await self.access.transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            let rows = try await connection.rows(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT * FROM (SELECT row_number() OVER (ORDER BY \(order)) AS position, \(columns) FROM \(table.snakeName)) AS numbered
                        WHERE position > $1 ORDER BY position LIMIT $2
                        """, binds: Self.bindings(after, Int64(limit))), logger)
            var values: [[StoreValue]] = []
            var last: Int64?
            for row in rows {
                let cells = row.makeRandomAccess()
                last = try cells[0].decode(Int64.self)
                values.append(try table.columns.enumerated().map { index, column in try Self.value(cells[index + 1], column.kind) })
            }
            return (values, last)
        }
    }

    static func value(_ cell: PostgresCell, _ kind: StoreTable.Kind) throws -> StoreValue {
        switch kind {
        case .integer:
            if cell.dataType == .int4 { return try cell.decode(Int32?.self).map { .integer(Int64($0)) } ?? .null }
            return try cell.decode(Int64?.self).map { .integer($0) } ?? .null
        case .text: return try cell.decode(String?.self).map { .text($0) } ?? .null
        case .bytes: return try cell.decode(Data?.self).map { .bytes($0) } ?? .null
        case .date: return try cell.decode(Date?.self).map { .date($0) } ?? .null
        case .boolean: return try cell.decode(Bool?.self).map { .boolean($0) } ?? .null
        }
    }

    static func bindings(_ values: Int64...) -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        return bindings
    }

    func importRows(_ rows: [[StoreValue]], into table: StoreTable) async throws(MailStoreError) {
        guard !rows.isEmpty else { return }
        let logger = self.logger
        let (bindings, tuples): (PostgresBindings, [String])
        do {
            (bindings, tuples) = try Self.bindings(of: rows, in: table)
        } catch {
            throw .invalidArgument("a row of \(table.name) cannot be written: \(error)")
        }
        let columns = table.columns.map(\.snakeName).joined(separator: ", ")
        let overriding = Self.hasIdentity(table) ? "OVERRIDING SYSTEM VALUE" : ""
        // The UIDVALIDITY counter may exist already: the larger value wins, so it never goes back.
        let conflict = table.name == "counter" ? "ON CONFLICT (name) DO UPDATE SET value = greatest(counter.value, excluded.value)" : ""
        let statement = PostgresQuery(
            unsafeSQL: "INSERT INTO \(table.snakeName) (\(columns)) \(overriding) VALUES \(tuples.joined(separator: ", ")) \(conflict)",
            binds: bindings)
        try await self.access.transaction { connection in
            try await connection.query(statement, logger: logger)
        }
    }

    /// Each row's values as binds (`recounted` columns as 0), and each row's placeholders.
    static func bindings(of rows: [[StoreValue]], in table: StoreTable) throws -> (PostgresBindings, [String]) {
        var bindings = PostgresBindings(capacity: rows.count * table.columns.count)
        var tuples: [String] = []
        var number = 0
        for row in rows {
            var placeholders: [String] = []
            for (column, value) in zip(table.columns, row) {
                number += 1
                placeholders.append("$\(number)")
                // Integer columns of PostgreSQL's smaller type (seq, attempts, depth) take 4-byte binds.
                let small = ["seq", "attempts", "expansionDepth"].contains(column.name)
                switch column.recounted ? .integer(0) : value {
                case .null: bindings.appendNull()
                case .integer(let integer):
                    if small { bindings.append(Int32(clamping: integer)) } else { bindings.append(integer) }
                case .text(let text): bindings.append(text)
                case .bytes(let bytes): try bindings.append(bytes)
                case .date(let date): bindings.append(date)
                case .boolean(let boolean): bindings.append(boolean)
                }
            }
            tuples.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        return (bindings, tuples)
    }

    func isEmpty() async throws(MailStoreError) -> Bool {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT (SELECT count(*) FROM domain) + (SELECT count(*) FROM message_blob) + (SELECT count(*) FROM queue_message)
                    + (SELECT count(*) FROM admin_token)
                """, logger
            ).first?.decode(Int64.self) == 0
        }
    }

    func finishImport() async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            for table in StoreTable.all where Self.hasIdentity(table) {
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT setval(pg_get_serial_sequence('\(table.snakeName)', 'id'),
                                          coalesce((SELECT max(id) FROM \(table.snakeName)), 1),
                                          (SELECT max(id) FROM \(table.snakeName)) IS NOT NULL)
                            """), logger: logger)
            }
        }
    }

    func rowCount(of table: StoreTable) async throws(MailStoreError) -> Int {
        let logger = self.logger
        return try await self.access.read { connection in
            Int(try await connection.rows(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.snakeName)"), logger)
                .first?.decode(Int64.self) ?? 0)
        }
    }

    func recountedValues(of table: StoreTable) async throws(MailStoreError) -> [Int64: [Int64]] {
        let recounted = table.columns.filter(\.recounted).map(\.snakeName)
        guard !recounted.isEmpty else { return [:] }
        let logger = self.logger
        return try await self.access.read { connection in
            var values: [Int64: [Int64]] = [:]
            for row in try await connection.rows(
                PostgresQuery(unsafeSQL: "SELECT id, \(recounted.joined(separator: ", ")) FROM \(table.snakeName)"), logger)
            {
                let cells = row.makeRandomAccess()
                values[try cells[0].decode(Int64.self)] = try (1...recounted.count).map { try cells[$0].decode(Int64.self) }
            }
            return values
        }
    }

    func contentDigests(after: Int64, limit: Int) async throws(MailStoreError) -> [(id: Int64, digest: Data)] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT b.id, sha256(b.content || coalesce(
                    (SELECT string_agg(c.data, ''::bytea ORDER BY c.seq) FROM message_chunk c WHERE c.message_blob_id = b.id),
                    ''::bytea))
                FROM message_blob b WHERE b.id > \(after) ORDER BY b.id LIMIT \(Int64(limit))
                """, logger
            ).map { row in
                let (id, digest) = try row.decode((Int64, Data).self)
                return (id, digest)
            }
        }
    }
}
