import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// A listener whose bound address goes into the ready file.
public struct AnnouncedListener: Sendable {
    public let name: String
    public let address: @Sendable () async throws -> SocketAddress
    public init(name: String, address: @escaping @Sendable () async throws -> SocketAddress) {
        self.name = name
        self.address = address
    }
}

/// Once every listener is bound, writes `{"smtp": 40123, …}` (name → port) to the ready file, then
/// stays until shutdown. Tests and supervisors learn the ports (port 0 in tests) and that the process
/// is ready from it, instead of guessing with sleeps.
public struct ReadinessAnnouncer: Service {
    let path: String?
    let listeners: [AnnouncedListener]
    let logger: Logger

    public init(path: String?, listeners: [AnnouncedListener], logger: Logger) {
        self.path = path
        self.listeners = listeners
        self.logger = logger
    }

    public func run() async throws {
        var ports: [String: Int] = [:]
        for listener in self.listeners {
            ports[listener.name] = try await listener.address().port ?? 0
        }
        self.logger.notice("ready", metadata: ["ports": "\(ports.sorted { $0.key < $1.key })"])
        if let path = self.path {
            let data = try JSONSerialization.data(withJSONObject: ports, options: [.sortedKeys])
            let temporary = path + ".tmp"
            try data.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        }
        try? await gracefulShutdown()
    }
}

/// Runs the services of one process in one `ServiceGroup` until SIGTERM or SIGINT.
public enum ServiceRunner {
    public static func run(_ services: [any Service], settings: EstafetaSettings, logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            logger: logger)
        configuration.gracefulShutdownSignals = [.sigterm, .sigint]
        // Sessions get the grace period to finish their command; then they are cancelled, so that a
        // stop never takes much longer than the grace period (containers kill after 10 s).
        configuration.maximumGracefulShutdownDuration = settings.shutdownGracePeriod
        configuration.maximumCancellationDuration = .seconds(1)
        try await ServiceGroup(configuration: configuration).run()
    }
}
