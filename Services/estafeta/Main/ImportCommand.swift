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
        @Option(help: "The escape character of Dovecot's listescape plugin in folder directory names (.v1\\2e2 is v1.2), or none.")
        var escapeChar: String = "\\"
        @Flag(help: "Report unreadable files and go on instead of stopping.") var continueOnError = false
        @Flag(help: "Stop at the account's quota instead of filing past it.") var respectQuota = false
        @Flag(help: "Run again: change flags changed in the Maildir since the earlier run, expunge what was expunged there.")
        var update = false
        @OptionGroup var options: CommonOptions

        func run() async throws {
            guard let layout = DovecotMaildirImport.Layout(rawValue: self.layout) else {
                ServiceHost.fail("estafeta import dovecot: --layout is maildir++ or fs", exitCode: ServiceHost.configurationExitCode)
            }
            let escape: UInt8?
            switch Array(self.escapeChar.utf8) {
            case Array("none".utf8): escape = nil
            case let bytes where bytes.count == 1 && bytes[0] > 0x20 && bytes[0] < 0x7F: escape = bytes[0]
            default: ServiceHost.fail("estafeta import dovecot: --escape-char is one ASCII character or none", exitCode: ServiceHost.configurationExitCode)
            }
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta import")
            let account = await Import.account(self.account, in: store)
            let importer = DovecotMaildirImport(
                store: store, account: account, options: .init(
                    layout: layout, continueOnError: self.continueOnError, respectQuota: self.respectQuota, update: self.update,
                    escapeCharacter: escape))
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
