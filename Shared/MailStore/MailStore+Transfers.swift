import Foundation

/// One import or export of mail (`estafeta import …`, `estafeta export …`, the admin API's export), as
/// the process that runs it reports it: what it moves, where it runs, how far it has got and how it
/// ended. Kept in the store so that the admin API of any host shows a run on any other.
public struct MailTransfer: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case running, finished, failed
    }

    /// Counts so far.
    public struct Counts: Sendable, Equatable {
        public var folders: Int
        public var messages: Int
        public var bytes: Int64
        /// Messages an earlier run of an import brought in already.
        public var alreadyThere: Int
        /// Problems passed over (`--continue-on-error`, or what an export could not write).
        public var problems: Int

        public init(folders: Int = 0, messages: Int = 0, bytes: Int64 = 0, alreadyThere: Int = 0, problems: Int = 0) {
            self.folders = folders
            self.messages = messages
            self.bytes = bytes
            self.alreadyThere = alreadyThere
            self.problems = problems
        }
    }

    public let id: Int64
    /// What runs: `import dovecot`, `import mbox`, `export dovecot`, `export tar`.
    public let kind: String
    /// The account's address; nil for a run over many accounts.
    public let account: String?
    /// The path read or written (or `admin API`).
    public let source: String
    /// The host name and process id of the process that runs it.
    public let host: String
    public var state: State
    public var counts: Counts
    /// The folder at work while running; the error that stopped a failed run; the first problem passed over.
    public var detail: String?
    public let startedAt: Date
    /// The last report: a running transfer reports at least every `TransferRecorder.heartbeat`.
    public var updatedAt: Date

    public init(
        id: Int64, kind: String, account: String?, source: String, host: String, state: State, counts: Counts,
        detail: String?, startedAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.kind = kind
        self.account = account
        self.source = source
        self.host = host
        self.state = state
        self.counts = counts
        self.detail = detail
        self.startedAt = startedAt
        self.updatedAt = updatedAt
    }
}

extension MailStore {
    /// Records the start of a transfer; its id is what later reports name.
    public func startTransfer(kind: String, account: String?, source: String, host: String, now: Date = Date())
        async throws(MailStoreError) -> MailTransfer
    {
        try await self.directory.insertTransfer(kind: kind, account: account, source: source, host: host, now: now)
    }

    /// A report of a transfer's progress, or of its end (state `finished` or `failed`). A transfer that
    /// has ended takes no more reports.
    public func reportTransfer(
        _ id: Int64, state: MailTransfer.State, counts: MailTransfer.Counts, detail: String?, now: Date = Date()
    ) async throws(MailStoreError) {
        try await self.directory.updateTransfer(id, state: state, counts: counts, detail: detail, now: now)
    }

    /// Transfers in the order they started, after `after` (an id).
    public func transfers(after: Int64? = nil, limit: Int = 100) async throws(MailStoreError) -> [MailTransfer] {
        try await self.directory.transfers(after: after ?? 0, limit: limit)
    }

    public func transfer(_ id: Int64) async throws(MailStoreError) -> MailTransfer? {
        try await self.directory.transfers(after: id - 1, limit: 1).first { $0.id == id }
    }
}
