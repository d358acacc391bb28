import Foundation
import Logging
import MailStore
import Metrics
import ServerSupport
import ServiceHost
import ServiceLifecycle

/// `estafeta-relay`: the delivery and relay queue worker.
///
/// Foundation stage: the worker watches the queue and publishes its depth per state as metrics; leasing
/// and delivering (local and remote) is the delivery worker issue.
public enum RelayWorkerService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        ServiceBundle(
            name: "relay",
            services: [QueueMetricsReporter(store: environment.store, interval: .seconds(5), logger: environment.logger)],
            listeners: [])
    }
}

/// Publishes `estafeta_queue_recipients{state=…}` and the age of the oldest pending message.
struct QueueMetricsReporter: Service {
    let store: MailStore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let gauges = Dictionary(
            uniqueKeysWithValues: QueueState.allCases.map {
                ($0, Gauge(label: "estafeta_queue_recipients", dimensions: [("state", $0.rawValue)]))
            })
        let oldest = Gauge(label: "estafeta_queue_oldest_pending_age_seconds")
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let stats = try await self.store.queueStats()
                for (state, gauge) in gauges { gauge.record(stats.counts[state] ?? 0) }
                oldest.record(stats.oldestPendingSince.map { -$0.timeIntervalSinceNow } ?? 0)
            } catch {
                self.logger.warning("cannot read queue statistics", metadata: ["error": "\(error)"])
            }
            // Returns early (by throwing) on shutdown; the loop condition then ends the service.
            let interval = self.interval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
