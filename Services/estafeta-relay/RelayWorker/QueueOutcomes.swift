import Foundation
import Logging
import MailStore

/// What became of one leased recipient in one pass.
enum DeliveryResult: Equatable, Sendable {
    case delivered, expanded, deferred, bounced, skipped
}

/// Records outcomes the same way for local delivery and the relay: bounces, and deferrals that turn
/// into bounces once the message has been queued for its lifetime.
struct QueueOutcomes: Sendable {
    let store: MailStore
    let schedule: RetrySchedule
    let logger: Logger

    func delivered(
        _ lease: QueueLease, _ note: String, now: Date, noticeHandedOn: Bool = false
    ) async throws(MailStoreError) -> DeliveryResult {
        try await self.store.recordOutcome(.delivered, for: lease, now: now, noticeHandedOn: noticeHandedOn)
        self.logger.info(
            "delivered", metadata: ["queue.id": "\(lease.messageID)", "recipient": "\(lease.recipient)", "reply": "\(note)"])
        return .delivered
    }

    func bounce(_ lease: QueueLease, _ reason: String, now: Date) async throws(MailStoreError) -> DeliveryResult {
        try await self.store.recordOutcome(.bounced(reason: reason), for: lease, now: now)
        self.logger.notice(
            "bounced", metadata: ["queue.id": "\(lease.messageID)", "recipient": "\(lease.recipient)", "reason": "\(reason)"])
        return .bounced
    }

    func deferOrExpire(_ lease: QueueLease, _ reason: String, now: Date) async throws(MailStoreError) -> DeliveryResult {
        if self.schedule.expired(firstQueuedAt: lease.firstQueuedAt, now: now) {
            // RFC 3463 X.4.7: delivery time expired; the last temporary reason says why.
            return try await self.bounce(lease, "\(reason); 4.4.7 delivery time expired", now: now)
        }
        let delay = self.schedule.delay(afterAttempts: lease.attempts + 1)
        let until = now.addingTimeInterval(Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        try await self.store.recordOutcome(.deferred(until: until, reason: reason), for: lease, now: now)
        self.logger.info(
            "deferred", metadata: ["queue.id": "\(lease.messageID)", "recipient": "\(lease.recipient)", "reason": "\(reason)"])
        return .deferred
    }
}
