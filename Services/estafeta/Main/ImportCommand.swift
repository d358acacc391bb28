import ArgumentParser
import Foundation
import MailFormat
import MailMigration
import MailStore
import MailboxFormats
import ServiceHost

/// `estafeta import`: mail from another server into accounts of this one, while the services run.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import mail from another server (Dovecot Maildir, mbox) into an account.",
        subcommands: [Dovecot.self, DovecotUsers.self, Mbox.self])

    struct Dovecot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a Dovecot Maildir keeping UIDVALIDITY, UIDs, flags, keywords and received times.",
            discussion: """
                IMAP clients that synchronised against Dovecot go on without downloading anything again. Run again, \
                it continues where it stopped. It stops at the first file it cannot read, naming it, unless \
                --continue-on-error.
                """)

        @Option(help: "The account's Maildir (its INBOX; folders beside it).") var maildir: String
        @Option(help: "The Estafeta account to import into (it must exist).") var account: String
        @Option(help: "Folder layout: maildir++ (.Sent, .Archive.2025) or fs (Sent/, Archive/2025/).") var layout: String = "maildir++"
        @Flag(help: "Report unreadable files and go on instead of stopping.") var continueOnError = false
        @Flag(help: "Stop at the account's quota instead of filing past it.") var respectQuota = false
        @Flag(help: "Run again: change flags changed in the Maildir since the earlier run, expunge what was expunged there.")
        var update = false
        @OptionGroup var options: CommonOptions

        func run() async throws {
            guard let layout = DovecotMaildirImport.Layout(rawValue: self.layout) else {
                ServiceHost.fail("estafeta import dovecot: --layout is maildir++ or fs", exitCode: ServiceHost.configurationExitCode)
            }
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta import")
            let account = await Import.account(self.account, in: store)
            let importer = DovecotMaildirImport(
                store: store, account: account, options: .init(
                    layout: layout, continueOnError: self.continueOnError, respectQuota: self.respectQuota, update: self.update))
            await ProgressPrinter.run(
                "estafeta import dovecot", recordedAs: .init(store: store, kind: "import dovecot", account: account.address.description, source: self.maildir)
            ) { (show) async throws(MigrationError) in try await importer.run(root: URL(fileURLWithPath: self.maildir), progress: show) }
        }
    }

    struct DovecotUsers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dovecot-users",
            abstract: "Make an account for each user of a Dovecot passwd-file, keeping the password hash and the storage quota.",
            discussion: "Existing accounts are left as they are. The users' domains must exist here.")

        @Option(help: "The passwd-file.") var passwdFile: String
        @Option(help: "The domain of users written without one.") var domain: String?
        @OptionGroup var options: CommonOptions

        func run() async throws {
            let (settings, store) = await ServiceHost.openStore(self.options, label: "estafeta import")
            do {
                let result = try await DovecotUsersImport(
                    store: store, domain: self.domain?.lowercased(), mailboxes: settings.newAccountMailboxes
                ).run(passwdFile: URL(fileURLWithPath: self.passwdFile))
                print("done: \(result.created.count) accounts made, \(result.existing.count) there already")
                if !result.problems.isEmpty {
                    ServiceHost.fail(
                        "estafeta import dovecot-users: \(result.problems.count) problems:\n"
                            + result.problems.map { "  \($0)" }.joined(separator: "\n"), exitCode: 1)
                }
            } catch {
                ServiceHost.fail("estafeta import dovecot-users: stopped: \(error)", exitCode: 1)
            }
        }
    }

    struct Mbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import an mbox file into a mailbox of an account (made if missing); received times from the From lines.")

        @Option(help: "The mbox file.") var file: String
        @Option(help: "The Estafeta account to import into (it must exist).") var account: String
        @Option(help: "The mailbox to file the messages in.") var mailbox: String
        @Option(help: "How the writer quoted From lines in bodies: mboxrd or mboxo.") var quoting: String = "mboxrd"
        @Flag(help: "Stop at the account's quota instead of filing past it.") var respectQuota = false
        @OptionGroup var options: CommonOptions

        func run() async throws {
            guard let quoting = MboxReader.Quoting(rawValue: self.quoting) else {
                ServiceHost.fail("estafeta import mbox: --quoting is mboxrd or mboxo", exitCode: ServiceHost.configurationExitCode)
            }
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta import")
            let account = await Import.account(self.account, in: store)
            let importer = MboxImport(store: store, account: account, mailbox: self.mailbox, quoting: quoting, respectQuota: self.respectQuota)
            await ProgressPrinter.run(
                "estafeta import mbox", recordedAs: .init(store: store, kind: "import mbox", account: account.address.description, source: self.file)
            ) { (show) async throws(MigrationError) in try await importer.run(file: URL(fileURLWithPath: self.file), progress: show) }
        }
    }

    static func account(_ address: String, in store: MailStore) async -> Account {
        do {
            return try await store.account(try EmailAddress(parsing: address))
        } catch {
            ServiceHost.fail("estafeta import: account \(address): \(error)", exitCode: 1)
        }
    }
}

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
    }

    static func line(_ progress: MigrationProgress, elapsed: Duration) -> String {
        let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
        let megabytes = Double(progress.bytes) / 1_048_576
        return String(
            format: "%@: %d messages, %.1f MB, %.0f messages/s, %.1f MB/s", progress.folder, progress.messages, megabytes,
            Double(progress.messages) / seconds, megabytes / seconds)
    }
}
