import ArgumentParser
import RelayWorker
import ServiceHost

/// `estafeta-relay`: Estafeta delivery and relay queue worker.
@main
struct RelayWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estafeta-relay",
        abstract: "Estafeta delivery and relay queue worker.",
        discussion: "Settings come from flags (--key value), ESTAFETA_* environment variables, the --config file, then defaults.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let environment = try await ServiceHost.prepare(self.options, label: "estafeta-relay", defaultOpsPort: 9092)
        try await ServiceHost.run([try RelayWorkerService.make(environment)], environment: environment)
    }
}
