import ArgumentParser
import POP3Gateway
import ServiceHost

/// `estafeta-pop3`: Estafeta POP3 gateway: POP3 and POP3S.
@main
struct POP3GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estafeta-pop3",
        abstract: "Estafeta POP3 gateway: POP3 and POP3S.",
        discussion: "Settings come from flags (--key value), ESTAFETA_* environment variables, the --config file, then defaults.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta-pop3", defaultOpsPort: 9093)
        try await ServiceHost.run([POP3GatewayService.make(environment)], environment: environment)
    }
}
