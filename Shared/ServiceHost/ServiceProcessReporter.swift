import Foundation
import Logging
import MailStore
import ServiceLifecycle

/// Tells the store, every `ServiceProcess.reportInterval`, that this process runs its services, and
/// that they stopped when it shuts down gracefully: the admin API then lists every service's processes
/// on every host, and which went silent.
struct ServiceProcessReporter: Service {
    let store: MailStore
    let services: [String]
    let logger: Logger
    let host = ServiceProcess.thisHost
    let pid = Int(getpid())
    let startedAt = Date()

    func run() async throws {
        // Cancelled at graceful shutdown: the sleep ends at once, then the stop is reported.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do throws(MailStoreError) {
                    try await self.store.reportServicesRunning(self.services, host: self.host, pid: self.pid, startedAt: self.startedAt)
                } catch {
                    // Only the report is lost (the database is away, say): the services themselves go on.
                    self.logger.warning("could not report the services as running", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: ServiceProcess.reportInterval)
            }
        }
        // Not when the process is failing (the group cancels it): it ends at once, and the rows go silent.
        guard !Task.isCancelled else { return }
        do throws(MailStoreError) {
            try await self.store.reportServicesStopped(self.services, host: self.host, pid: self.pid)
        } catch {
            self.logger.warning("could not report the services as stopped", metadata: ["error": "\(error)"])
        }
    }
}
