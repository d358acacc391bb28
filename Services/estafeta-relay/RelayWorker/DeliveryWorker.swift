import Foundation
import Logging
import MailStore
import ServiceLifecycle

/// One queue loop: lease due recipients of its scope, split them into units of work (one recipient
/// for local delivery; one message and destination domain for the relay), run the units with bounded
/// concurrency in total and per destination domain (a slow domain never holds up the others), then
/// run `afterPass` (bounce reports). Several loops, in one process or many, share the queue through
/// leases.
struct DeliveryWorker: Service {
    struct Unit: Sendable {
        var domain: String
        var leases: [QueueLease]
    }

    let name: String
    let store: MailStore
    let owner: String
    let scope: LeaseScope
    let pollInterval: Duration
    let batchSize: Int
    let leaseDuration: Duration
    let concurrency: Int
    let concurrencyPerDomain: Int
    let units: @Sendable ([QueueLease]) -> [Unit]
    let deliver: @Sendable (Unit) async -> Void
    let afterPass: (@Sendable () async throws -> Bool)?
    let logger: Logger

    func run() async throws {
        // Cuts the idle wait short when recipients are queued or made due (PostgreSQL's signals).
        let doorbell = self.store.doorbell(for: .queue)
        defer { doorbell.close() }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var worked = false
            var partialBatch = false
            do {
                let leases = try await self.store.leaseQueueItems(
                    owner: self.owner, limit: self.batchSize, leaseDuration: self.leaseDuration, scope: self.scope)
                worked = !leases.isEmpty
                partialBatch = leases.count < max(1, self.batchSize / 4)
                await self.run(self.units(leases))
                if let afterPass = self.afterPass { worked = try await afterPass() || worked }
            } catch {
                self.logger.error("queue pass failed", metadata: ["worker": "\(self.name)", "error": "\(error)"])
            }
            // A busy queue goes round again at once (after a short pause when the batch was small, so that
            // arrivals collect into fewer, larger transactions); an idle one every poll interval.
            if worked {
                if partialBatch { try? await Task.sleep(for: min(self.pollInterval, .milliseconds(20))) }
                continue
            }
            let interval = self.pollInterval
            await cancelWhenGracefulShutdown { await doorbell.wait(upTo: interval) }
        }
    }

    private func run(_ units: [Unit]) async {
        var waiting = units
        var running: [String: Int] = [:]
        var total = 0
        await withTaskGroup(of: String.self) { group in
            func startEligible() {
                var deferred: [Unit] = []
                while total < self.concurrency, !waiting.isEmpty {
                    let unit = waiting.removeFirst()
                    guard running[unit.domain, default: 0] < self.concurrencyPerDomain else {
                        deferred.append(unit)
                        continue
                    }
                    running[unit.domain, default: 0] += 1
                    total += 1
                    group.addTask {
                        await self.deliver(unit)
                        return unit.domain
                    }
                }
                waiting = deferred + waiting
            }
            startEligible()
            while let domain = await group.next() {
                running[domain, default: 1] -= 1
                total -= 1
                startEligible()
            }
        }
    }
}
