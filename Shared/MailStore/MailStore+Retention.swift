import Foundation

/// How long what the store keeps only for a while is kept.
public struct RetentionPolicy: Sendable, Equatable {
    /// Queue entries all of whose recipients are delivered or bounced (and reported), counted from
    /// their last change; their content is freed once no mailbox holds it.
    public var finishedQueueEntries: Duration
    /// Entries of the mailbox change feed. IMAP sessions read the feed after every command and while
    /// idling, so they are never far behind; one that is behind the horizon ends its selection.
    public var changeFeed: Duration
    /// The admin API's audit log.
    public var auditLog: Duration
    /// Content uploads nobody has written to for this long: their session is gone (a living one writes
    /// a piece at least every few minutes, even at the slowest data rate the listeners allow).
    public var abandonedUploads: Duration

    public init(finishedQueueEntries: Duration, changeFeed: Duration, auditLog: Duration, abandonedUploads: Duration = .seconds(3600)) {
        self.finishedQueueEntries = finishedQueueEntries
        self.changeFeed = changeFeed
        self.auditLog = auditLog
        self.abandonedUploads = abandonedUploads
    }
}

/// What one purge removed.
public struct PurgeReport: Sendable, Equatable {
    public var queueMessages = 0
    public var messageContents = 0
    public var changes = 0
    public var auditEntries = 0
    public var abandonedUploads = 0
    /// Database pages given back to the filesystem (incremental vacuum).
    public var freedPages = 0

    public init() {}
}

/// The store's housekeeping: what is kept only for a while is deleted in small transactions (a few
/// hundred rows each, so the write lock is never held for long and deliveries go on meanwhile), and
/// the pages freed are given back to the filesystem, so that a steady flow of mail keeps the file at
/// a steady size.
extension MailStore {
    /// Rows one purge transaction looks at.
    static let purgeBatch = 256

    public func purge(_ policy: RetentionPolicy, now: Date = Date()) async throws(MailStoreError) -> PurgeReport {
        var report = PurgeReport()
        let queueCutoff = now.addingTimeInterval(-Self.seconds(policy.finishedQueueEntries))
        var after: Int64 = 0
        while true {
            let batch = try await self.retention.purgeFinishedQueueEntries(after: after, finishedBefore: queueCutoff, batch: Self.purgeBatch)
            report.queueMessages += batch.messages
            report.messageContents += batch.contents
            // Entries come in id order, which is arrival order: past the cut-off none can be due.
            guard let last = batch.lastSeen, !batch.reachedCutoff else { break }
            after = last
            await Task.yield()
        }
        let feedCutoff = now.addingTimeInterval(-Self.seconds(policy.changeFeed))
        while true {
            let pruned = try await self.retention.pruneChangeFeed(before: feedCutoff, batch: Self.purgeBatch)
            report.changes += pruned
            guard pruned == Self.purgeBatch else { break }
            await Task.yield()
        }
        let auditCutoff = now.addingTimeInterval(-Self.seconds(policy.auditLog))
        while true {
            let deleted = try await self.retention.purgeAuditLog(before: auditCutoff, batch: Self.purgeBatch)
            report.auditEntries += deleted
            guard deleted == Self.purgeBatch else { break }
            await Task.yield()
        }
        let uploadCutoff = now.addingTimeInterval(-Self.seconds(policy.abandonedUploads))
        while true {
            let deleted = try await self.retention.purgeAbandonedUploads(before: uploadCutoff)
            report.abandonedUploads += deleted
            guard deleted > 0 else { break }
            await Task.yield()
        }
        report.freedPages = try await self.retention.releaseFreeSpace()
        return report
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }
}
