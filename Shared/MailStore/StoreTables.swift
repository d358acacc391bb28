import Foundation

/// One value of a stored row, as it moves from one backend to another (`estafeta migrate-store`).
public enum StoreValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case bytes(Data)
    case date(Date)
    case boolean(Bool)
}

/// A table of the store as both backends have it, for copying a store from one backend to another: the
/// SQLite file's names (camelCase) and PostgreSQL's (snake_case) name the same columns. `recounted`
/// columns are what the backends count themselves as messages come and go (usage, STATUS): a copy
/// starts them at 0, lets the copied messages count them again, and compares the result with the source.
public struct StoreTable: Sendable {
    public enum Kind: Sendable { case integer, text, bytes, date, boolean }

    public struct Column: Sendable {
        public let name: String
        public let kind: Kind
        public let recounted: Bool

        /// The PostgreSQL name: `createdAt` is `created_at`.
        public var snakeName: String { StoreTable.snakeCase(self.name) }
    }

    public let name: String
    public let columns: [Column]
    /// Whether rows have an `id` column of their own (else they are read in the file's row order).
    public var hasID: Bool { self.columns.first?.name == "id" }
    public var snakeName: String { Self.snakeCase(self.name) }

    init(_ name: String, _ columns: [(String, Kind)], recounted: Set<String> = []) {
        self.name = name
        self.columns = columns.map { Column(name: $0.0, kind: $0.1, recounted: recounted.contains($0.0)) }
    }

    static func snakeCase(_ name: String) -> String {
        var snake = ""
        for character in name {
            if character.isUppercase {
                snake += "_" + character.lowercased()
            } else {
                snake.append(character)
            }
        }
        return snake
    }

    /// Every table that holds what the store keeps, parents before children. Left out: POP3 maildrop
    /// leases, failed-login counts and the services' process reports, which last minutes and belong to
    /// the installation being left.
    public static let all: [StoreTable] = [
        StoreTable("counter", [("name", .text), ("value", .integer)]),
        StoreTable("domain", [("id", .integer), ("name", .text), ("createdAt", .date)]),
        StoreTable(
            "account",
            [
                ("id", .integer), ("domainId", .integer), ("address", .text), ("localPart", .text), ("displayName", .text),
                ("passwordHash", .text), ("quotaBytes", .integer), ("usedBytes", .integer), ("messageCount", .integer),
                ("enabled", .boolean), ("createdAt", .date), ("updatedAt", .date),
            ], recounted: ["usedBytes", "messageCount"]),
        StoreTable(
            "dkimKey",
            [
                ("id", .integer), ("domainId", .integer), ("selector", .text), ("algorithm", .text), ("privateKey", .bytes),
                ("publicKey", .bytes), ("state", .text), ("createdAt", .date), ("activatedAt", .date), ("retiredAt", .date),
            ]),
        StoreTable(
            "domainTransportPolicy",
            [
                ("domainId", .integer), ("mtaStsMode", .text), ("mtaStsMaxAge", .integer), ("mtaStsMx", .text),
                ("tlsReportAddresses", .text), ("updatedAt", .date),
            ]),
        StoreTable("alias", [("id", .integer), ("domainId", .integer), ("source", .text), ("createdAt", .date)]),
        StoreTable("aliasTarget", [("aliasId", .integer), ("target", .text)]),
        StoreTable(
            "mailbox",
            [
                ("id", .integer), ("accountId", .integer), ("name", .text), ("specialUse", .text), ("uidValidity", .integer), ("uidNext", .integer), ("highestModSeq", .integer), ("recentFloor", .integer),
                ("changeFloor", .integer), ("messageCount", .integer), ("unseenCount", .integer), ("deletedCount", .integer),
                ("sizeBytes", .integer), ("createdAt", .date),
            ], recounted: ["messageCount", "unseenCount", "deletedCount", "sizeBytes"]),
        StoreTable("mailboxSubscription", [("accountId", .integer), ("name", .text)]),
        StoreTable("serverMetadata", [("accountId", .integer), ("name", .text), ("value", .bytes)]),
        StoreTable("mailboxMetadata", [("mailboxId", .integer), ("name", .text), ("value", .bytes)]),
        StoreTable(
            "messageBlob", [("id", .integer), ("layout", .text), ("content", .bytes), ("size", .integer), ("createdAt", .date)]),
        StoreTable("messageHeader", [("messageBlobId", .integer), ("header", .bytes)]),
        StoreTable("messageChunk", [("messageBlobId", .integer), ("seq", .integer), ("data", .bytes)]),
        StoreTable(
            "mailboxMessage",
            [
                ("id", .integer), ("mailboxId", .integer), ("uid", .integer), ("messageBlobId", .integer), ("headerPrefix", .bytes),
                ("size", .integer), ("internalDate", .date), ("flags", .text), ("modSeq", .integer), ("savedAt", .date),
            ]),
        StoreTable(
            "mailboxChange",
            [
                ("id", .integer), ("mailboxId", .integer), ("modSeq", .integer), ("uid", .integer), ("kind", .text),
                ("createdAt", .date), ("accountId", .integer),
            ]),
        StoreTable(
            "queueMessage",
            [
                ("id", .integer), ("messageBlobId", .integer), ("sender", .text), ("envelopeId", .text), ("returnContent", .text),
                ("authenticatedAs", .text), ("receivedAt", .date), ("quarantined", .boolean),
            ]),
        StoreTable(
            "queueRecipient",
            [
                ("id", .integer), ("queueMessageId", .integer), ("recipient", .text), ("originalRecipient", .text),
                ("notify", .text), ("domain", .text), ("expansionDepth", .integer), ("state", .text), ("attempts", .integer),
                ("nextAttemptAt", .date), ("lastError", .text), ("leaseOwner", .text), ("leaseExpiresAt", .date),
                ("reportedAt", .date), ("delayReportedAt", .date), ("updatedAt", .date),
            ]),
        StoreTable(
            "adminToken",
            [
                ("id", .text), ("secretHash", .bytes), ("scope", .text), ("description", .text), ("createdAt", .date),
                ("revokedAt", .date),
            ]),
        StoreTable(
            "auditLog",
            [("id", .integer), ("tokenId", .text), ("action", .text), ("target", .text), ("detail", .text), ("createdAt", .date)]),
        StoreTable(
            "mailTransfer",
            [
                ("id", .integer), ("kind", .text), ("account", .text), ("source", .text), ("host", .text), ("state", .text),
                ("folders", .integer), ("messages", .integer), ("bytes", .integer), ("alreadyThere", .integer),
                ("problems", .integer), ("detail", .text), ("startedAt", .date), ("updatedAt", .date),
            ]),
    ]
}

/// A store's side of a copy between backends: rows read out of it, or written into an empty one.
public protocol StoreCopyBackend: Sendable {
    /// Up to `limit` rows of `table` after position `after` (0: from the start), in a stable order, and
    /// the position of the last one (nil when there were none).
    func exportRows(of table: StoreTable, after: Int64, limit: Int) async throws(MailStoreError)
        -> (rows: [[StoreValue]], last: Int64?)
    /// Writes rows as given (ids included; `recounted` columns as 0).
    func importRows(_ rows: [[StoreValue]], into table: StoreTable) async throws(MailStoreError)
    /// Whether the store holds nothing yet (no domain, account, message, queue entry or token).
    func isEmpty() async throws(MailStoreError) -> Bool
    /// After an import: id counters moved past the ids written.
    func finishImport() async throws(MailStoreError)
    func rowCount(of table: StoreTable) async throws(MailStoreError) -> Int
    /// The `recounted` columns of every row of `table`, by id.
    func recountedValues(of table: StoreTable) async throws(MailStoreError) -> [Int64: [Int64]]
    /// A SHA-256 digest of each stored content (inline bytes, then its pieces in order), by id, for
    /// contents with ids after `after`, at most `limit`.
    func contentDigests(after: Int64, limit: Int) async throws(MailStoreError) -> [(id: Int64, digest: Data)]
}
