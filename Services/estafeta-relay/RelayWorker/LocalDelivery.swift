import Foundation
import Logging
import MailFormat
import MailStore

/// Delivers one leased recipient in a local domain: an account gets the message in its INBOX (with
/// `Return-Path:` and `Delivered-To:` in front), an alias or catch-all is expanded into new queue
/// recipients, and what cannot be delivered is deferred or bounced. Every outcome is one store
/// transaction together with the lease, so a crash anywhere delivers exactly once.
struct LocalDelivery: Sendable {
    let store: MailStore
    let outcomes: QueueOutcomes
    var logger: Logger { self.outcomes.logger }

    /// Alias chains longer than this are loops (a → b → a) or mistakes.
    static let maximumExpansionDepth = 10

    /// How long a delivery waits out a store that is unavailable (a database restarting) before it
    /// gives up for now, and how often it tries again meanwhile: nothing was written, the lease is still
    /// the worker's, and a short outage should delay a message by seconds, not by the first retry delay
    /// (or, when the deferral cannot be written either, by the rest of the lease).
    static let outageWait: TimeInterval = 60
    static let outageRetryInterval: TimeInterval = 2
    /// What a try may take (the store's own deadline for an operation is 30 s): no try starts that could
    /// outlast the lease.
    static let attemptAllowance: TimeInterval = 35

    @discardableResult
    func deliver(_ lease: QueueLease, now start: Date = Date()) async -> DeliveryResult {
        let began = Date()
        var now = start
        while true {
            do {
                return try await self.attempt(lease, now: now)
            } catch .overQuota {
                // The store's own check, when another delivery filled the mailbox since the worker's.
                return (try? await self.outcomes.deferOrExpire(lease, Self.mailboxFull, now: now)) ?? .skipped
            } catch .storageFull {
                return (try? await self.outcomes.deferOrExpire(lease, Self.insufficientStorage, now: now)) ?? .skipped
            } catch .leaseLost {
                self.logger.warning("lease lost; another worker has the recipient", metadata: ["queue.id": "\(lease.messageID)"])
                return .skipped
            } catch .unavailable(let reason)
                where now.timeIntervalSince(start) < Self.outageWait
                && now.addingTimeInterval(Self.outageRetryInterval + Self.attemptAllowance) < lease.expiresAt
            {
                self.logger.warning(
                    "store unavailable; trying the delivery again", metadata: ["queue.id": "\(lease.messageID)", "error": "\(reason)"])
                do { try await Task.sleep(for: .seconds(Self.outageRetryInterval)) } catch { return .skipped }
                now = start.addingTimeInterval(Date().timeIntervalSince(began))
            } catch {
                self.logger.error("local delivery failed", metadata: ["queue.id": "\(lease.messageID)", "error": "\(error)"])
                return (try? await self.outcomes.deferOrExpire(lease, "451 4.3.0 temporary local failure", now: now)) ?? .skipped
            }
        }
    }

    /// One try: reads the plan and files, expands, bounces or defers.
    private func attempt(_ lease: QueueLease, now: Date) async throws(MailStoreError) -> DeliveryResult {
        // Below the free space minimum nothing more is filed; the message waits in the queue.
        if self.store.spaceIsLow { return try await self.outcomes.deferOrExpire(lease, Self.insufficientStorage, now: now) }
        guard let plan = try await self.store.localDeliveryPlan(for: lease) else {
            // Deleted by an operator since it was leased: nothing left to deliver.
            return .skipped
        }
        let (header, size) = (plan.header, plan.size)
        switch plan.resolution {
        case .account(_, let enabled, let quotaBytes, let usedBytes):
            guard enabled else { return try await self.outcomes.bounce(lease, "550 5.2.1 mailbox disabled", now: now) }
            if let reason = Self.loopReason(header, recipient: lease.recipient) {
                return try await self.outcomes.bounce(lease, reason, now: now)
            }
            let prefix = Data(
                "Return-Path: <\(lease.sender?.description ?? "")>\r\nDelivered-To: \(lease.recipient)\r\n".utf8)
            if let quotaBytes, usedBytes + size + Int64(prefix.count) > quotaBytes {
                return try await self.outcomes.deferOrExpire(lease, Self.mailboxFull, now: now)
            }
            guard let destination = plan.destination else { throw MailStoreError.unknownMailbox("INBOX") }
            try await self.store.deliverLocally(lease, into: destination, headerPrefix: prefix, now: now)
            self.logger.info(
                "delivered", metadata: ["queue.id": "\(lease.messageID)", "recipient": "\(lease.recipient)"])
            return .delivered
        case .alias(let targets), .catchAll(let targets):
            guard lease.expansionDepth < Self.maximumExpansionDepth else {
                return try await self.outcomes.bounce(lease, "554 5.4.6 alias expansion loop or chain too long", now: now)
            }
            let addresses = targets.compactMap { try? EmailAddress(parsing: $0) }
            guard !addresses.isEmpty else {
                return try await self.outcomes.bounce(lease, "550 5.1.1 alias has no valid target", now: now)
            }
            try await self.store.expandRecipient(lease, into: addresses, now: now)
            return .expanded
        case .unknownLocal:
            // Accepted while the account existed (or through an alias since changed).
            return try await self.outcomes.bounce(lease, "550 5.1.1 no such user here", now: now)
        case .notLocal:
            // The domain stopped being local after the message was queued; the SMTP relay's turn.
            return try await self.outcomes.deferOrExpire(lease, "451 4.3.0 domain no longer local", now: now)
        }
    }

    /// RFC 3463 X.2.2: temporary; the owner may make room before the message expires.
    static let mailboxFull = "452 4.2.2 mailbox full"
    /// RFC 3463 X.3.1: the server's own storage; temporary.
    static let insufficientStorage = "452 4.3.1 insufficient system storage"

    /// A message that already passed this recipient (its `Delivered-To:`), or that has travelled too
    /// far, is a loop: bounce it rather than deliver it again.
    static func loopReason(_ headerSection: Data, recipient: EmailAddress) -> String? {
        let header = MessageHeader(parsing: headerSection)
        let target = recipient.description.lowercased()
        if header.values("Delivered-To").contains(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() == target }) {
            return "554 5.4.6 mail loop: already delivered to \(recipient)"
        }
        if header.exceedsHopLimit {
            return "554 5.4.6 too many hops"
        }
        return nil
    }
}
