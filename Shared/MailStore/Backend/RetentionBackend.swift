import Foundation

/// The batches a purge is made of (`MailStore.purge` runs them in turn). Each is one short transaction,
/// so deliveries and sessions go on between them.
public protocol RetentionBackend: Sendable {
    /// Looks at the `batch` queue entries after id `after`, oldest first, and deletes those whose
    /// recipients are all delivered or bounced, reported, and unchanged since `cutoff`, with the
    /// contents nothing else holds. `lastSeen` is nil past the end; `reachedCutoff` says the window
    /// ended with an entry that arrived after the cut-off.
    func purgeFinishedQueueEntries(after: Int64, finishedBefore cutoff: Date, batch: Int) async throws(MailStoreError)
        -> (lastSeen: Int64?, reachedCutoff: Bool, messages: Int, contents: Int)
    /// Deletes up to `batch` feed entries older than `cutoff`, raising each mailbox's change floor to
    /// the highest modseq deleted (see `MailStoreError.changeFeedPruned`); how many.
    func pruneChangeFeed(before cutoff: Date, batch: Int) async throws(MailStoreError) -> Int
    /// Deletes up to `batch` audit entries older than `cutoff`; how many.
    func purgeAuditLog(before cutoff: Date, batch: Int) async throws(MailStoreError) -> Int
    /// Deletes a few uploads nobody has written to since `cutoff`; how many.
    func purgeAbandonedUploads(before cutoff: Date) async throws(MailStoreError) -> Int
    /// Gives space freed by the purge back to the filesystem where the store does that itself; how many
    /// pages. A database server that manages its own files (PostgreSQL's autovacuum) gives 0.
    func releaseFreeSpace() async throws(MailStoreError) -> Int
}
