import Foundation
import Logging
import MailFormat
import MailStore
import ServiceHost

/// Queues delivery status notifications (RFC 3464) to envelope senders, one per message and kind,
/// honouring the DSN parameters kept by ingress (RFC 3461 §4.1): failures unless NOTIFY excludes
/// FAILURE; delay warnings once a message has waited `delayWarning` unless NOTIFY excludes DELAY;
/// success notices only when NOTIFY asks for SUCCESS (and no next hop took the request over). Never
/// for the null reverse-path (RFC 5321 §6.1). ENVID, ORCPT and RET go into the report.
struct BounceReporter: Sendable {
    let store: MailStore
    let hostname: String
    /// nil: no delay warnings.
    let delayWarning: Duration?
    let schedule: RetrySchedule
    /// Reports are signed as the reporting host's domain when it has DKIM keys.
    let signer: DKIMDomainSigner
    let logger: Logger

    /// Every kind in turn; true when anything was reported.
    func reportPending(now: Date = Date()) async throws(MailStoreError) -> Bool {
        var reported = try await self.report(.failure, now: now)
        if let delayWarning {
            let cutoff = now.addingTimeInterval(-TimeInterval(delayWarning.components.seconds))
            reported = try await self.report(.delay(queuedBefore: cutoff), now: now) || reported
        }
        return try await self.report(.success, now: now) || reported
    }

    /// True when anything was reported.
    func report(_ kind: ReportKind, now: Date = Date()) async throws(MailStoreError) -> Bool {
        let pending = try await self.store.pendingReports(kind)
        for message in pending {
            let wanted = message.recipients.filter { Self.wants(kind, $0.notify) }
            var report: (content: Data, recipient: EmailAddress)?
            if let sender = message.sender, !wanted.isEmpty, let (header, size) = try await self.store.queuedHeader(message.messageID) {
                // A delay or success notice returns the header only (RET=FULL is for failures, RFC 3461
                // §4.3), and so does a failure notice of a message too large to return whole (as
                // Postfix's bounce_size_limit): the report is then read and written in bounded memory.
                let wantsFull = kind == .failure && message.returnContent?.uppercased() == "FULL"
                let returnsFull = wantsFull && size <= Self.returnedMessageLimit
                let original = returnsFull ? try await self.store.queuedContent(message.messageID) ?? header : header
                let reportKind: DeliveryStatusReport.Kind =
                    switch kind {
                    case .failure: .failure
                    case .delay: .delay(willRetryUntil: message.receivedAt.addingTimeInterval(
                        TimeInterval(self.schedule.lifetime.components.seconds)))
                    case .success: .success
                    }
                let dsn = DeliveryStatusReport(
                    kind: reportKind, reportingHost: self.hostname, sender: sender, envelopeID: message.envelopeID,
                    returnFullMessage: returnsFull, fullMessageTooLarge: wantsFull && !returnsFull,
                    arrivalDate: message.receivedAt,
                    recipients: wanted.map {
                        .init(recipient: $0.recipient, originalRecipient: $0.originalRecipient,
                              diagnostic: Self.diagnostic(kind, $0), action: Self.action(kind, isLocal: $0.isLocal))
                    },
                    original: original, date: now, token: "\(message.messageID.rawValue).\(UInt32.random(in: 0...UInt32.max))")
                report = (try await self.signer.signedReport(dsn.content, hostname: self.hostname, logger: self.logger), sender)
            }
            let queued = try await self.store.recordBounceReport(
                for: message.recipients.map(\.id), report: report, kind: kind, now: now)
            if queued, report != nil {
                self.logger.notice(
                    "delivery status report queued",
                    metadata: ["kind": "\(kind)", "queue.id": "\(message.messageID)", "to": "\(message.sender.map { "\($0)" } ?? "")"])
            }
        }
        return !pending.isEmpty
    }

    /// The largest message a failure notice returns whole when RET=FULL asks for it.
    static let returnedMessageLimit: Int64 = 1 << 20

    private static func action(_ kind: ReportKind, isLocal: Bool) -> String {
        switch kind {
        case .failure: "failed"
        case .delay: "delayed"
        case .success: isLocal ? "delivered" : "relayed"
        }
    }

    private static func diagnostic(_ kind: ReportKind, _ recipient: PendingBounceReport.Recipient) -> String {
        switch kind {
        case .failure: recipient.lastError ?? "550 5.0.0 delivery failed"
        case .delay: recipient.lastError ?? "451 4.0.0 delivery delayed"
        case .success: "250 2.0.0 delivered"
        }
    }

    /// RFC 3461 §4.1: without NOTIFY a failure (and, at the MTA's choice, a delay) is reported, never a
    /// success; NOTIFY=NEVER asks for nothing; otherwise exactly the listed kinds.
    static func wants(_ kind: ReportKind, _ notify: String?) -> Bool {
        let word =
            switch kind {
            case .failure: "FAILURE"
            case .delay: "DELAY"
            case .success: "SUCCESS"
            }
        guard let notify, !notify.isEmpty else { return kind != .success }
        return notify.uppercased().split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == word }
    }
}
