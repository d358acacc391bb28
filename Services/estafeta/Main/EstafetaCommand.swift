import AdminAPI
import ArgumentParser
import Foundation
import IMAPGateway
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
        subcommands: [Serve.self, Migrate.self, CheckConfig.self],
        defaultSubcommand: nil)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run SMTP ingress, the relay worker, POP3, IMAP and the admin API in one process.",
        discussion: "Settings come from flags (--key value), ESTAFETA_* environment variables, the --config file, then defaults.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta", defaultOpsPort: 9090)
        try await ServiceHost.run(
            [
                AdminAPIService.make(environment),
                SMTPIngressService.make(environment),
                RelayWorkerService.make(environment),
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
