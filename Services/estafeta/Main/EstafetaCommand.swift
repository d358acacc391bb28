import AdminAPI
import ArgumentParser
import Credentials
import Foundation
import IMAPGateway
import Logging
import MailStore
import POP3Gateway
import RelayWorker
import SMTPIngress
import ServerSupport
import ServiceHost

/// `estafeta`: the all-in-one command. `estafeta serve` runs every service in one process on one
/// database, the embedded default a new installation starts with.
@main
struct EstafetaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estafeta",
        abstract: "Estafeta mail server suite.",
        subcommands: [Serve.self, Migrate.self, MigrateStore.self, Backup.self, CheckConfig.self, CheckDB.self, Token.self, Import.self, Export.self],
        defaultSubcommand: nil)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run SMTP ingress, the relay worker, POP3, IMAP and the admin API in one process.",
        discussion: "Settings come from flags (--key value), ESTAFETA_* environment variables, the --config file, then defaults.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta", defaultOpsPort: 9090)
        let admin = try await AdminAPIService.make(environment)
        try await ServiceHost.run(
            [
                admin,
                try SMTPIngressService.make(environment),
                try RelayWorkerService.make(environment),
                POP3GatewayService.make(environment),
                IMAPGatewayService.make(environment),
            ], environment: environment)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the database, then exit (services also do this on start).")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta", defaultOpsPort: 9090)
        let applied = try await environment.store.appliedMigrations()
        print("database \(environment.settings.databasePath) is at migration \(applied.last ?? "none")")
    }
}

struct MigrateStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy the whole store to an empty database on another backend, and prove the copy.",
        discussion: """
            Stop the services first: mail taken in during the copy is not copied. Everything is copied as it is \
            (accounts with their password hashes, aliases, mailboxes with UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, \
            messages with UIDs, flags and dates, the queue with its state, tokens, the audit log), so IMAP clients \
            resynchronise nothing. Then the row counts, the usage and STATUS counts and every content's SHA-256 are \
            compared. A PostgreSQL password comes from database.password or database.passwordFile.
            """)

    @Option(help: "The store to copy: sqlite:///path or postgres://user@host:port/database.") var from: String
    @Option(help: "An empty database to copy it into (made and migrated if needed).") var to: String
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let settings: EstafetaSettings
        let locations: (from: DatabaseLocation, to: DatabaseLocation)
        do {
            settings = try await SettingsLoader.load(configFile: self.options.config, arguments: self.options.settings, defaultOpsPort: 9090)
            locations = (try DatabaseLocation(url: self.from), try DatabaseLocation(url: self.to))
        } catch {
            ServiceHost.fail("estafeta migrate-store: \(error)", exitCode: ServiceHost.configurationExitCode)
        }
        Observability.bootstrap(format: settings.logFormat, level: settings.logLevel)
        guard locations.from != locations.to else {
            ServiceHost.fail("estafeta migrate-store: --from and --to name the same database", exitCode: ServiceHost.configurationExitCode)
        }
        do {
            let logger = Logger(label: "estafeta.migrate-store")
            let source = try await ServiceHost.openStore(locations.from, settings: settings, logger: logger)
            let target = try await ServiceHost.openStore(locations.to, settings: settings, logger: logger)
            let report = try await StoreCopy.copy(from: source, to: target) { print($0) }
            print("copied \(locations.from) to \(locations.to): \(report.rows.values.reduce(0, +)) rows, \(report.contentsVerified) contents verified")
        } catch {
            ServiceHost.fail("estafeta migrate-store: \(error)", exitCode: 1)
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database to a new file, safely while the services run (SQLite's online backup).",
        discussion: "The copy is one consistent snapshot and is integrity-checked before it gets its name; an existing file is never overwritten.")

    @Argument(help: "Where to write the copy (a new file).") var path: String
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (settings, store) = await ServiceHost.openStore(self.options, label: "estafeta")
        guard case .sqlite = settings.databaseLocation else {
            ServiceHost.fail("estafeta backup copies the SQLite file; back a PostgreSQL database up with pg_dump", exitCode: 1)
        }
        do {
            let summary = try store.backup(to: self.path)
            print("backed up \(settings.databasePath) to \(summary.path): \(summary.bytes) bytes, migration \(summary.migration ?? "none")")
        } catch {
            ServiceHost.fail("estafeta backup: \(error)", exitCode: 1)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Read and validate the settings, print them, and exit.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        do {
            let settings = try await SettingsLoader.load(
                configFile: self.options.config, arguments: self.options.settings, defaultOpsPort: 9090)
            print(settings.listing.joined(separator: "\n"))
        } catch {
            ServiceHost.fail("estafeta: \(error)", exitCode: ServiceHost.configurationExitCode)
        }
    }
}

struct CheckDB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-db",
        abstract: "Check the whole database file for damage (PRAGMA integrity_check); exit 1 with the findings if any.",
        discussion: "Safe while the services run (it reads one consistent snapshot); it reads every page, so it takes as long as reading the file.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (settings, store) = await ServiceHost.openStore(self.options, label: "estafeta", quickCheck: false)
        guard case .sqlite = settings.databaseLocation else {
            ServiceHost.fail("estafeta check-db checks the SQLite file; PostgreSQL checks its own pages (data checksums, amcheck)", exitCode: 1)
        }
        let findings: [String]
        do {
            findings = try await store.integrityCheck()
        } catch {
            ServiceHost.fail("estafeta check-db: \(error)", exitCode: 1)
        }
        guard findings.isEmpty else {
            ServiceHost.fail(
                "estafeta check-db: \(settings.databasePath) is damaged:\n" + findings.map { "  \($0)" }.joined(separator: "\n"),
                exitCode: 1)
        }
        print("database \(settings.databasePath): ok")
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the bearer tokens of the admin API.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it (it is shown only this once; only its hash is stored).")

        @Flag(help: "The token may only read (GET).") var readOnly = false
        @Option(help: "What the token is for.") var description = ""
        @OptionGroup var options: CommonOptions

        func run() async throws {
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta")
            let token = AdminToken.generate()
            try await store.createAdminToken(
                id: token.id, secretHash: token.secretHash, scope: self.readOnly ? .read : .write,
                description: self.description, audit: AuditActor(tokenID: "cli"))
            print(token.presentable)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (ids and scopes, never secrets).")
        @OptionGroup var options: CommonOptions

        func run() async throws {
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta")
            for token in try await store.adminTokens() {
                let state = token.revokedAt == nil ? "active" : "revoked"
                print("\(token.id)\t\(token.scope.rawValue)\t\(state)\t\(token.description)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by id; it stops working at once.")
        @Argument(help: "The token id (the part after est_).") var id: String
        @OptionGroup var options: CommonOptions

        func run() async throws {
            let (_, store) = await ServiceHost.openStore(self.options, label: "estafeta")
            try await store.revokeAdminToken(id: self.id, audit: AuditActor(tokenID: "cli"))
        }
    }
}
