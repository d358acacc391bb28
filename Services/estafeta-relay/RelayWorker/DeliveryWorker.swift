import Foundation
import Logging
import MailStore
import ServiceLifecycle

/// The queue loop: lease due recipients in local domains, deliver them (several at a time), then
/// queue the reports for whatever bounced. Runs in every `estafeta-relay` process (and in
/// `estafeta serve`); several processes share one queue through leases.
struct DeliveryWorker: Service {
    let store: MailStore
    let owner: String
    let hostname: String
    let pollInterval: Duration
    let batchSize: Int
    let leaseDuration: Duration
    let concurrency: Int
    let local: LocalDelivery
    let reports: BounceReporter
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var worked = false
            do {
                let leases = try await self.store.leaseQueueItems(
                    owner: self.owner, limit: self.batchSize, leaseDuration: self.leaseDuration, scope: .localDomains)
                worked = !leases.isEmpty
                await withTaskGroup(of: Void.self) { group in
                    var next = leases.makeIterator()
                    for _ in 0..<self.concurrency {
                        guard let lease = next.next() else { break }
                        group.addTask { await self.local.deliver(lease) }
                    }
                    while await group.next() != nil {
                        guard let lease = next.next() else { continue }
                        group.addTask { await self.local.deliver(lease) }
                    }
                }
                worked = try await self.reports.reportPending() || worked
            } catch {
                self.logger.error("queue pass failed", metadata: ["error": "\(error)"])
            }
            // A full pass goes round again at once; an idle queue is looked at every poll interval.
            if worked { continue }
            let interval = self.pollInterval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
