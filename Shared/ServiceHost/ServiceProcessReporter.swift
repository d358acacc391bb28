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
                for service in self.services {
                    do throws(MailStoreError) {
                        try await self.store.reportServiceRunning(service, host: self.host, pid: self.pid, startedAt: self.startedAt)
                    } catch {
                        // Only the report is lost (the database is away, say): the service itself goes on.
                        self.logger.warning("could not report the service as running", metadata: ["service": "\(service)", "error": "\(error)"])
                    }
                }
                try await Task.sleep(for: ServiceProcess.reportInterval)
            }
        }
        for service in self.services {
            do throws(MailStoreError) {
                try await self.store.reportServiceStopped(service, host: self.host, pid: self.pid)
            } catch {
                self.logger.warning("could not report the service as stopped", metadata: ["service": "\(service)", "error": "\(error)"])
            }
        }
    }
}
