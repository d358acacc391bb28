import Foundation
import MailStore
import Synchronization

/// Reports a running import or export to the store, where the admin API shows it (`/api/v1/transfers`):
/// the latest counts once a second while they change and at least every `heartbeat` while they do not,
/// so that a run whose process died can be told from a slow one, then how it ended.
public final class TransferRecorder: Sendable {
    /// How often a running transfer reports when nothing changes; silent for much longer, it has stopped.
    public static let heartbeat: Duration = .seconds(10)

    let store: MailStore
    public let id: Int64
    private let latest = Mutex<(progress: MigrationProgress, written: Bool)>((MigrationProgress(), true))

    private init(store: MailStore, id: Int64) {
        self.store = store
        self.id = id
    }

    /// Records the start. `host` defaults to this machine's name and the process id.
    public static func start(
        store: MailStore, kind: String, account: String?, source: String,
        host: String = TransferRecorder.thisProcess
    ) async throws(MailStoreError) -> TransferRecorder {
        let transfer = try await store.startTransfer(kind: kind, account: account, source: source, host: host)
        return TransferRecorder(store: store, id: transfer.id)
    }

    /// This machine's name (as the services' own reports give it) and the process id.
    public static var thisProcess: String {
        "\(ServiceProcess.thisHost) pid \(getpid())"
    }

    /// The latest counts; cheap, for an importer's progress callback. `keepReporting` writes them.
    public func note(_ progress: MigrationProgress) {
        self.latest.withLock { $0 = (progress, false) }
    }

    /// Writes what `note` was given, until the task is cancelled. A store that cannot take a report
    /// does not stop the transfer (its own writes fail if the store is gone); the first such failure is
    /// handed to `failed`.
    public func keepReporting(failed: @Sendable (MailStoreError) -> Void = { _ in }) async {
        var lastWrite = ContinuousClock.now
        var reportedFailure = false
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
            let (progress, written) = self.latest.withLock { latest in
                defer { latest.written = true }
                return latest
            }
            guard !written || ContinuousClock.now - lastWrite >= Self.heartbeat else { continue }
            do throws(MailStoreError) {
                try await self.store.reportTransfer(self.id, state: .running, counts: Self.counts(progress), detail: progress.folder)
                lastWrite = ContinuousClock.now
            } catch {
                if !reportedFailure { failed(error) }
                reportedFailure = true
            }
        }
    }

    /// The end: finished with `progress` (its first problem as the detail), or failed with `error`.
    public func finish(_ progress: MigrationProgress, error: String? = nil) async throws(MailStoreError) {
        try await self.store.reportTransfer(
            self.id, state: error == nil ? .finished : .failed, counts: Self.counts(progress), detail: error ?? progress.problems.first)
    }

    /// The counts of the last `note`, for a run that ends with an error.
    public var lastProgress: MigrationProgress { self.latest.withLock { $0.progress } }

    static func counts(_ progress: MigrationProgress) -> MailTransfer.Counts {
        MailTransfer.Counts(
            folders: progress.folders, messages: progress.messages, bytes: progress.bytes, alreadyThere: progress.alreadyThere,
            problems: progress.problems.count)
    }
}
