import Foundation
import MailDNS
import MailFormat
import Logging
import MailStore
import Metrics
import ServerSupport
import ServiceHost
import NIOCore
import NIOSSL
import ServiceLifecycle

/// `estafeta-relay`: the delivery and relay queue worker.
///
/// Two loops over the shared queue: local delivery (accounts, aliases and catch-alls, quota, loops,
/// and the bounce reports, RFC 3464) and the SMTP relay for other domains (static routes, smarthost or
/// MX via DNS; opportunistic STARTTLS). Both retry on the same schedule. Also publishes the queue depth
/// per state as metrics, and keeps the store from growing for ever (`StoreMaintenance`).
public enum RelayWorkerService {
    public static func make(_ environment: ServiceEnvironment) throws -> ServiceBundle {
        let settings = environment.settings
        let store = environment.store
        var logger = environment.logger
        logger[metadataKey: "service"] = "relay"
        let schedule = RetrySchedule(
            initial: settings.relayRetryInitial, maximum: settings.relayRetryMaximum, lifetime: settings.relayQueueLifetime)
        let outcomes = QueueOutcomes(store: store, schedule: schedule, logger: logger)
        let owner = "\(settings.hostname)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8))"
        let local = LocalDelivery(store: store, outcomes: outcomes)
        let signer = DKIMDomainSigner(store: store, signatureLifetime: settings.dkimSignatureLifetime)
        let reports = BounceReporter(
            store: store, hostname: settings.hostname, delayWarning: settings.relayDelayWarning, schedule: schedule,
            signer: signer, logger: logger)
        let localWorker = DeliveryWorker(
            name: "local", store: store, owner: owner, scope: .localDomains, pollInterval: settings.relayPollInterval,
            batchSize: settings.relayBatchSize, leaseDuration: settings.relayLeaseDuration,
            concurrency: settings.relayLocalConcurrency, concurrencyPerDomain: settings.relayLocalConcurrency,
            units: { leases in leases.map { DeliveryWorker.Unit(domain: $0.recipient.domain, leases: [$0]) } },
            deliver: { unit in for lease in unit.leases { await local.deliver(lease) } },
            afterPass: { try await reports.reportPending() }, logger: logger)

        var tls = TLSConfiguration.makeClientConfiguration()
        // RFC 7435 opportunistic TLS: encrypt when offered, whatever the certificate (MX certificates
        // are rarely verifiable by name; DANE and MTA-STS are the later way to authenticate them).
        tls.certificateVerification = .none
        // Authenticated TLS, where a destination's MTA-STS policy asks for it (RFC 8461 §4.2).
        let verified = ResolvedHTTPS.verifiedConfiguration(trustedCAFile: settings.relayTrustedCAFile)
        let resolver = try DNSResolver(
            server: settings.relayDNSServer.isEmpty ? nil : settings.relayDNSServer,
            trustAnchorFile: settings.relayDNSSECTrustAnchorFile.isEmpty ? nil : settings.relayDNSSECTrustAnchorFile)
        let router = RelayRouter(
            staticRoutes: RelayRouter.parseRoutes(settings.relayRoutes),
            smarthost: RelayRouter.parseHostPort(settings.relaySmarthost),
            smarthostCredentials: settings.relaySmarthostUser.isEmpty
                ? nil : RelayCredentials(user: settings.relaySmarthostUser, password: settings.relaySmarthostPassword),
            mxPort: settings.relayMXPort, resolver: resolver,
            mtaSTS: settings.relayMTASTS
                ? MTASTSPolicies(
                    resolver: resolver, tlsConfiguration: verified, port: settings.relayMTASTSPort, store: store, logger: logger)
                : nil,
            dane: !settings.relayDNSSECTrustAnchorFile.isEmpty)
        let tlsContext = try NIOSSLContext(configuration: tls)
        let client = SMTPClientSession(
            hostname: settings.hostname, tlsContext: tlsContext, verifiedTLSContext: try NIOSSLContext(configuration: verified),
            requireTLS: settings.relayRequireTLS,
            tlsSessions: settings.relayTLSReports
                ? TLSSessionRecorder(store: store, period: settings.relayTLSReportPeriod, logger: logger) : nil,
            connectTimeout: .seconds(settings.relayConnectTimeout.components.seconds),
            commandTimeout: .seconds(settings.relayCommandTimeout.components.seconds), logger: logger)
        let remote = RemoteDelivery(store: store, router: router, client: client, outcomes: outcomes)
        let remoteWorker = DeliveryWorker(
            name: "relay", store: store, owner: owner, scope: .remoteDomains, pollInterval: settings.relayPollInterval,
            batchSize: settings.relayBatchSize, leaseDuration: settings.relayLeaseDuration,
            concurrency: settings.relayConcurrency, concurrencyPerDomain: settings.relayConcurrencyPerDomain,
            units: { leases in
                // One transaction per message and destination domain, with all its recipients there.
                var units: [String: DeliveryWorker.Unit] = [:]
                var order: [String] = []
                for lease in leases {
                    let key = "\(lease.messageID.rawValue) \(lease.recipient.domain.lowercased())"
                    if units[key] == nil { order.append(key) }
                    units[key, default: DeliveryWorker.Unit(domain: lease.recipient.domain.lowercased(), leases: [])]
                        .leases.append(lease)
                }
                return order.compactMap { units[$0] }
            },
            deliver: { unit in await remote.deliver(unit.leases) }, afterPass: nil, logger: logger)
        let tlsReporter = TLSReporter(
            store: store, resolver: resolver, https: ResolvedHTTPS(resolver: resolver, tlsConfiguration: verified),
            hostname: settings.hostname, period: settings.relayTLSReportPeriod, signer: signer, logger: logger)
        return ServiceBundle(
            name: "relay",
            services: (settings.relayTLSReports ? [tlsReporter] : []) + [
                localWorker, remoteWorker,
                QueueMetricsReporter(store: store, interval: .seconds(5), logger: environment.logger),
                StoreMaintenance(
                    store: store,
                    policy: RetentionPolicy(
                        finishedQueueEntries: settings.retentionFinishedQueueEntries, changeFeed: settings.retentionChangeFeed,
                        auditLog: settings.retentionAuditLog),
                    interval: settings.maintenanceInterval, logger: logger),
            ],
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
