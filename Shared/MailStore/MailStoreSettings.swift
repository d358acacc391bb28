/// How the store opens its SQLite file.
public struct MailStoreSettings: Sendable, Equatable {
    /// The database file. Every process of one installation opens the same file.
    public var path: String
    /// How long a write waits for another process that holds the write lock before failing.
    public var busyTimeout: Duration
    /// Connections kept for concurrent reads in this process.
    public var maximumReaderCount: Int
    /// Below this much free space on the database's filesystem the store reports `spaceIsLow`, and the
    /// services refuse new mail with temporary errors instead of filling the disk.
    public var minimumFreeBytes: Int64
    /// `PRAGMA quick_check` when the file is opened; a damaged file is refused.
    public var quickCheckAtOpen: Bool

    public init(
        path: String, busyTimeout: Duration = .seconds(10), maximumReaderCount: Int = 8, minimumFreeBytes: Int64 = 0,
        quickCheckAtOpen: Bool = true
    ) {
        self.path = path
        self.busyTimeout = busyTimeout
        self.maximumReaderCount = maximumReaderCount
        self.minimumFreeBytes = minimumFreeBytes
        self.quickCheckAtOpen = quickCheckAtOpen
    }
}
