import Logging
import MailStore
import ServiceLifecycle

/// The store's housekeeping (`MailStore.purge`), run by every relay worker at an interval: finished
/// queue entries, the change feed and the audit log past their retention, and the freed pages given
/// back. Several workers may run it at once; each batch is its own small transaction, so they only
/// share the work.
struct StoreMaintenance: Service {
    let store: MailStore
    let policy: RetentionPolicy
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let report = try await self.store.purge(self.policy)
                if report != PurgeReport() {
                    self.logger.info(
                        "store purged",
                        metadata: [
                            "queueMessages": "\(report.queueMessages)", "contents": "\(report.messageContents)",
                            "changes": "\(report.changes)", "auditEntries": "\(report.auditEntries)",
                            "abandonedUploads": "\(report.abandonedUploads)",
                            "freedPages": "\(report.freedPages)",
                        ])
                }
            } catch {
                self.logger.warning("store purge failed, trying again later", metadata: ["error": "\(error)"])
            }
            let interval = self.interval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
