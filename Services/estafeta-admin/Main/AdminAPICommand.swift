import ArgumentParser
import AdminAPI
import ServiceHost

/// `estafeta-admin`: Estafeta admin HTTP API (serves its own /healthz and /metrics).
@main
struct AdminAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estafeta-admin",
        abstract: "Estafeta admin HTTP API (serves its own /healthz and /metrics).",
        discussion: "Settings come from flags (--key value), ESTAFETA_* environment variables, the --config file, then defaults.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta-admin", defaultOpsPort: 9095)
        let admin = try await AdminAPIService.make(environment)
        try await ServiceHost.run([admin], environment: environment, includeOps: false)
    }
}
