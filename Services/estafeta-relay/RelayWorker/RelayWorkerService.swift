import Foundation
import Logging
import MailStore
import Metrics
import ServerSupport
import ServiceHost
import ServiceLifecycle

/// `estafeta-relay`: the delivery and relay queue worker.
///
/// So far: local delivery (accounts, aliases and catch-alls, quota, loops), the retry schedule, and
/// bounce reports (RFC 3464); recipients in other domains wait in the queue for the SMTP relay, which is
/// the next part of the delivery issue. Also publishes the queue depth per state as metrics.
public enum RelayWorkerService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        let settings = environment.settings
        var logger = environment.logger
        logger[metadataKey: "service"] = "relay"
        let schedule = RetrySchedule(
            initial: settings.relayRetryInitial, maximum: settings.relayRetryMaximum, lifetime: settings.relayQueueLifetime)
        let worker = DeliveryWorker(
            store: environment.store,
            owner: "\(settings.hostname)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8))",
            hostname: settings.hostname, pollInterval: settings.relayPollInterval, batchSize: settings.relayBatchSize,
            leaseDuration: settings.relayLeaseDuration, concurrency: settings.relayConcurrency,
            local: LocalDelivery(store: environment.store, schedule: schedule, logger: logger),
            reports: BounceReporter(store: environment.store, hostname: settings.hostname, logger: logger),
            logger: logger)
        return ServiceBundle(
            name: "relay",
            services: [worker, QueueMetricsReporter(store: environment.store, interval: .seconds(5), logger: environment.logger)],
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
