import ArgumentParser
import IMAPGateway
import ServiceHost

/// `estafeta-imap`: Estafeta IMAP gateway: IMAP and IMAPS.
@main
struct IMAPGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estafeta-imap",
        abstract: "Estafeta IMAP gateway: IMAP and IMAPS.",
        discussion: "Settings come from flags (--key value), ESTAFETA_* environment variables, the --config file, then defaults.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta-imap", defaultOpsPort: 9094)
        try await ServiceHost.run([IMAPGatewayService.make(environment)], environment: environment)
    }
}
