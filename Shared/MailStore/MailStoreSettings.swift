/// How the store opens its SQLite file.
public struct MailStoreSettings: Sendable, Equatable {
    /// The database file. Every process of one installation opens the same file.
    public var path: String
    /// How long a write waits for another process that holds the write lock before failing.
    public var busyTimeout: Duration
    /// Connections kept for concurrent reads in this process.
    public var maximumReaderCount: Int

    public init(path: String, busyTimeout: Duration = .seconds(10), maximumReaderCount: Int = 8) {
        self.path = path
        self.busyTimeout = busyTimeout
        self.maximumReaderCount = maximumReaderCount
    }
}
