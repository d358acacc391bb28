import Foundation
import MailMigration
import MailStore
import ServiceHost

/// A progress line at most every second (messages, octets, rate), and the totals at the end.
final class ProgressPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private var last: ContinuousClock.Instant
    private let started: ContinuousClock.Instant

    init(started: ContinuousClock.Instant) {
        self.started = started
        self.last = started
    }

    func show(_ progress: MigrationProgress) {
        let now = ContinuousClock.now
        let due = self.lock.withLock { () -> Bool in
            guard now - self.last >= .seconds(1) else { return false }
            self.last = now
            return true
        }
        if due { print(Self.line(progress, elapsed: now - self.started)) }
    }

    /// What a run is recorded as in the store, where the admin API shows it.
    struct Record {
        let store: MailStore
        let kind: String
        let account: String?
        let source: String
    }

    /// Runs an import or export with progress lines, reported to the store as it goes, then prints the
    /// totals; exits 1 with the problems it passed over, or with the error that stopped it.
    static func run(
        _ command: String, recordedAs record: Record,
        _ body: (@escaping @Sendable (MigrationProgress) -> Void) async throws(MigrationError) -> MigrationProgress
    ) async {
        let recorder: TransferRecorder
        do {
            recorder = try await TransferRecorder.start(store: record.store, kind: record.kind, account: record.account, source: record.source)
        } catch {
            ServiceHost.fail("\(command): cannot record the run in the store: \(error)", exitCode: 1)
        }
        print("transfer \(recorder.id) (GET /api/v1/transfers/\(recorder.id))")
        let started = ContinuousClock.now
        let printer = ProgressPrinter(started: started)
        let outcome = await withTaskGroup(of: Void.self) { group -> Result<MigrationProgress, MigrationError> in
            group.addTask {
                await recorder.keepReporting { error in
                    FileHandle.standardError.write(Data("\(command): progress not recorded in the store: \(error)\n".utf8))
                }
            }
            defer { group.cancelAll() }
            do throws(MigrationError) {
                return .success(try await body { progress in
                    printer.show(progress)
                    recorder.note(progress)
                })
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .failure(let error):
            await Self.finish(recorder, recorder.lastProgress, error: "\(error)", command: command)
            ServiceHost.fail("\(command): stopped: \(error)", exitCode: 1)
        case .success(let result):
            await Self.finish(recorder, result, error: nil, command: command)
            printer.finish(result, started: started)
            if !result.problems.isEmpty {
                ServiceHost.fail(
                    "\(command): \(result.problems.count) problems:\n" + result.problems.map { "  \($0)" }.joined(separator: "\n"), exitCode: 1)
            }
        }
    }

    private static func finish(_ recorder: TransferRecorder, _ progress: MigrationProgress, error: String?, command: String) async {
        do throws(MailStoreError) {
            try await recorder.finish(progress, error: error)
        } catch {
            FileHandle.standardError.write(Data("\(command): the end of the run not recorded in the store: \(error)\n".utf8))
        }
    }

    func finish(_ progress: MigrationProgress, started: ContinuousClock.Instant) {
        print("done: " + Self.line(progress, elapsed: ContinuousClock.now - started)
            + ", \(progress.folders) folders, \(progress.alreadyThere) already there, \(progress.listedWithoutFile) listed without a file")
        if progress.changedInSource + progress.removedInSource > 0 {
            print(
                "changed in the source since the earlier run: \(progress.changedInSource) messages' flags, \(progress.removedInSource) "
                    + (progress.sourceChangesApplied ? "messages expunged; made the same here" : "messages expunged; not changed here (--update does)"))
        }
        if progress.escapedNames > 0 {
            print("\(progress.escapedNames) folder names written with escapes (a dot as \\2e): Dovecot reads them with its listescape plugin")
        }
    }

    static func line(_ progress: MigrationProgress, elapsed: Duration) -> String {
        let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
        let megabytes = Double(progress.bytes) / 1_048_576
        return String(
            format: "%@: %d messages, %.1f MB, %.0f messages/s, %.1f MB/s", progress.folder, progress.messages, megabytes,
            Double(progress.messages) / seconds, megabytes / seconds)
    }
}
