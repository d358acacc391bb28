import ArgumentParser
import Foundation
import MailFormat
import MailMigration
import MailStore
import ServiceHost

/// `estafeta export`: an account's mail written out for another server, while the services run.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an account's mail out as a Dovecot Maildir or as mbox files.", subcommands: [Dovecot.self, Mbox.self])

    struct Dovecot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a Maildir (Maildir++) with dovecot-uidlist and dovecot-keywords that Dovecot reads as it is.",
            discussion: "UIDVALIDITY, UIDs, flags, keywords, received times and subscriptions are kept. DIR must not exist yet.")

        @Option(help: "The Estafeta account to export.") var account: String
        @Option(help: "The Maildir to write (a new directory).") var to: String
        @OptionGroup var options: CommonOptions

        func run() async throws {
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta export")
            let account = await Import.account(self.account, in: store)
            let exporter = MaildirExport(store: store, account: account)
            await ProgressPrinter.run(
                "estafeta export dovecot", recordedAs: .init(store: store, kind: "export dovecot", account: account.address.description, source: self.to)
            ) { (show) async throws(MigrationError) in try await exporter.run(to: URL(fileURLWithPath: self.to), progress: show) }
        }
    }

    struct Mbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write each mailbox to an mbox file (mboxrd) under a new directory, flags in Status and X-Status fields.")

        @Option(help: "The Estafeta account to export.") var account: String
        @Option(help: "The directory to write (a new one).") var to: String
        @OptionGroup var options: CommonOptions

        func run() async throws {
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta export")
            let account = await Import.account(self.account, in: store)
            let exporter = MboxExport(store: store, account: account)
            await ProgressPrinter.run(
                "estafeta export mbox", recordedAs: .init(store: store, kind: "export mbox", account: account.address.description, source: self.to)
            ) { (show) async throws(MigrationError) in try await exporter.run(to: URL(fileURLWithPath: self.to), progress: show) }
        }
    }
}
