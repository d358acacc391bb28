import Foundation
import MailFormat
import Logging
import MailStore

/// Relays leased recipients of one message in one remote domain: routes the domain, then gives the
/// message to the first host that takes the transaction, with every recipient in it (one copy per
/// destination, several RCPTs). Each recipient's reply decides its outcome.
struct RemoteDelivery: Sendable {
    let store: MailStore
    let router: RelayRouter
    let client: SMTPClientSession
    let outcomes: QueueOutcomes
    /// Hosts tried per attempt (MX records can list many).
    static let maximumHostsPerAttempt = 5

    func deliver(_ leases: [QueueLease], now: @Sendable () -> Date = Date.init) async {
        guard let first = leases.first else { return }
        do {
            guard let reader = try await self.store.contentReader(ofQueued: first.messageID) else { return }
            let content = try await RelayContent.reading(reader, from: self.store)
            let domain = first.recipient.domain
            switch await self.router.route(domain) {
            case .bounce(let reason):
                for lease in leases { _ = try await self.outcomes.bounce(lease, reason, now: now()) }
            case .deferral(let reason):
                for lease in leases { _ = try await self.outcomes.deferOrExpire(lease, reason, now: now()) }
            case .hosts(let hosts):
                let envelope = RelayEnvelope(
                    sender: first.sender?.description,
                    recipients: leases.map {
                        .init(address: $0.recipient.description, notify: $0.notify, originalRecipient: $0.originalRecipient)
                    },
                    content: content,
                    needsSMTPUTF8: (first.sender?.requiresSMTPUTF8 ?? false) || leases.contains { $0.recipient.requiresSMTPUTF8 },
                    envelopeID: first.envelopeID, returnContent: first.returnContent)
                var failure = "451 4.4.1 no host to try for \(domain)"
                for host in hosts.prefix(Self.maximumHostsPerAttempt) {
                    switch await self.client.deliver(envelope, to: host) {
                    case .success(let transaction):
                        for (lease, result) in zip(leases, transaction.outcomes) {
                            switch result {
                            case .delivered(let reply):
                                _ = try await self.outcomes.delivered(
                                    lease, reply, now: now(), noticeHandedOn: transaction.dsnHandedOn)
                            case .deferred(let reason): _ = try await self.outcomes.deferOrExpire(lease, reason, now: now())
                            case .bounced(let reason): _ = try await self.outcomes.bounce(lease, reason, now: now())
                            }
                        }
                        return
                    case .failure(let hostFailure):
                        self.outcomes.logger.info("host not usable", metadata: ["host": "\(host)", "reason": "\(hostFailure)"])
                        failure = hostFailure.deferral
                    }
                }
                for lease in leases { _ = try await self.outcomes.deferOrExpire(lease, failure, now: now()) }
            }
        } catch .leaseLost {
            self.outcomes.logger.warning("lease lost during relay; another worker may deliver again (possible duplicate)",
                                         metadata: ["queue.id": "\(first.messageID)"])
        } catch {
            self.outcomes.logger.error("relay failed", metadata: ["queue.id": "\(first.messageID)", "error": "\(error)"])
        }
    }
}
