import ArgumentParser
import SMTPIngress
import ServiceHost

/// `estafeta-smtp`: Estafeta SMTP ingress: inbound MX, submission and submissions.
@main
struct SMTPIngressCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estafeta-smtp",
        abstract: "Estafeta SMTP ingress: inbound MX, submission and submissions.",
        discussion: "Settings come from flags (--key value), ESTAFETA_* environment variables, the --config file, then defaults.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta-smtp", defaultOpsPort: 9091)
        try await ServiceHost.run([try SMTPIngressService.make(environment)], environment: environment)
    }
}
