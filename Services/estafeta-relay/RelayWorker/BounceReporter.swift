import Foundation
import Logging
import MailFormat
import MailStore

/// Queues one delivery status notification per message for its bounced recipients, to the envelope
/// sender, honouring the DSN parameters kept by ingress: no report for the null reverse-path
/// (RFC 5321 §6.1) or for recipients whose NOTIFY excludes FAILURE (RFC 3461 §4.1); ENVID, ORCPT
/// and RET go into the report.
struct BounceReporter: Sendable {
    let store: MailStore
    let hostname: String
    let logger: Logger

    /// True when anything was reported.
    func reportPending(now: Date = Date()) async throws(MailStoreError) -> Bool {
        let pending = try await self.store.pendingBounceReports()
        for message in pending {
            let wanted = message.recipients.filter { Self.wantsFailureReport($0.notify) }
            var report: (content: Data, recipient: EmailAddress)?
            if let sender = message.sender, !wanted.isEmpty, let original = try await self.store.queuedContent(message.messageID) {
                let dsn = DeliveryStatusReport(
                    reportingHost: self.hostname, sender: sender, envelopeID: message.envelopeID,
                    returnFullMessage: message.returnContent?.uppercased() == "FULL", arrivalDate: message.receivedAt,
                    recipients: wanted.map {
                        .init(recipient: $0.recipient, originalRecipient: $0.originalRecipient,
                              diagnostic: $0.lastError ?? "550 5.0.0 delivery failed")
                    },
                    original: original, date: now, token: "\(message.messageID.rawValue).\(UInt32.random(in: 0...UInt32.max))")
                report = (dsn.content, sender)
            }
            let queued = try await self.store.recordBounceReport(
                for: message.recipients.map(\.id), report: report, now: now)
            if queued, report != nil {
                self.logger.notice("bounce report queued", metadata: ["queue.id": "\(message.messageID)", "to": "\(message.sender.map { "\($0)" } ?? "")"])
            }
        }
        return !pending.isEmpty
    }

    /// RFC 3461 §4.1: without NOTIFY a failure is reported; NOTIFY=NEVER, or a list without FAILURE,
    /// asks for none.
    static func wantsFailureReport(_ notify: String?) -> Bool {
        guard let notify, !notify.isEmpty else { return true }
        return notify.uppercased().split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "FAILURE" }
    }
}
