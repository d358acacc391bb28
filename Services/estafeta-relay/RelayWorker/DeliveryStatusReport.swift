import Foundation
import MailFormat
import MailStore

/// A delivery status notification (RFC 3464): `multipart/report; report-type=delivery-status` with a
/// human-readable part, a `message/delivery-status` part, and the returned message (its header only,
/// or all of it with RET=FULL, RFC 3461 §4.3). Pure: the worker queues the bytes. One report is of
/// one kind: failures, delays (the message is still being retried), or successes.
struct DeliveryStatusReport {
    enum Kind {
        case failure
        /// With the time after which the message will be given up (RFC 3464 Will-Retry-Until).
        case delay(willRetryUntil: Date)
        case success
    }

    struct FailedRecipient {
        var recipient: String
        /// RFC 3461 ORCPT as stored (`addr-type;address`).
        var originalRecipient: String?
        /// The reply or reason, e.g. `550 5.1.1 no such user`.
        var diagnostic: String
        /// RFC 3464 §2.3.3 Action: failed, delayed, delivered or relayed.
        var action: String = "failed"
    }

    var kind: Kind = .failure

    var reportingHost: String
    var sender: EmailAddress
    var envelopeID: String?
    var returnFullMessage: Bool
    /// RET=FULL was asked for, but the message is over the size returned whole: its header only, said so.
    var fullMessageTooLarge = false
    var arrivalDate: Date
    var recipients: [FailedRecipient]
    var original: Data
    var date: Date
    /// Unique part of the Message-ID and the MIME boundary.
    var token: String

    /// RFC 3463 status of a diagnostic: the enhanced code in it, else the kind's generic one
    /// (5.0.0 failed, 4.0.0 delayed, 2.0.0 delivered).
    static func status(of diagnostic: String, kind: Kind = .failure) -> String {
        for word in diagnostic.split(separator: " ").prefix(3) {
            let parts = word.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 3, ["2", "4", "5"].contains(parts[0]),
                parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) })
            {
                return String(word)
            }
        }
        switch kind {
        case .failure: return "5.0.0"
        case .delay: return "4.0.0"
        case .success: return "2.0.0"
        }
    }

    /// Text that must stay on one header line: CR, LF and other controls become spaces.
    private static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) }).prefix(900)
            .description
    }

    var content: Data {
        let boundary = "=_estafeta_report_\(self.token)"
        var text = ""
        func line(_ value: String = "") { text += value + "\r\n" }
        line("From: Mail Delivery System <MAILER-DAEMON@\(self.reportingHost)>")
        line("To: <\(self.sender)>")
        switch self.kind {
        case .failure: line("Subject: Undelivered Mail Returned to Sender")
        case .delay: line("Subject: Delayed Mail (still being retried)")
        case .success: line("Subject: Successful Mail Delivery Report")
        }
        line("Date: \(MessageDate.format(self.date))")
        line("Message-ID: <report.\(self.token)@\(self.reportingHost)>")
        // RFC 3834: an automatic reply; vacation responders must not answer it.
        line("Auto-Submitted: auto-replied")
        line("MIME-Version: 1.0")
        line("Content-Type: multipart/report; report-type=delivery-status;")
        line("\tboundary=\"\(boundary)\"")
        line()
        line("This is a MIME-encapsulated message.")
        line()
        line("--\(boundary)")
        line("Content-Type: text/plain; charset=utf-8")
        line("Content-Transfer-Encoding: 8bit")
        line()
        line("This is the mail system at \(self.reportingHost).")
        line()
        switch self.kind {
        case .failure:
            line("Your message could not be delivered to the following recipients:")
        case .delay(let until):
            line("Your message could not be delivered yet to the following recipients.")
            line("Nothing needs to be done: delivery will be retried until \(MessageDate.format(until)).")
        case .success:
            line("Your message was delivered to the following recipients (\"relayed\": handed to a server")
            line("that does not send delivery notices):")
        }
        line()
        for recipient in self.recipients {
            line("<\(Self.oneLine(recipient.recipient))>: \(Self.oneLine(recipient.diagnostic))")
        }
        line()
        if self.fullMessageTooLarge {
            line("Your message is too large to be returned whole: only its header is attached.")
            line()
        }
        line("--\(boundary)")
        line("Content-Type: message/delivery-status")
        line()
        line("Reporting-MTA: dns; \(self.reportingHost)")
        if let envelopeID = self.envelopeID { line("Original-Envelope-Id: \(Self.oneLine(envelopeID))") }
        line("Arrival-Date: \(MessageDate.format(self.arrivalDate))")
        for recipient in self.recipients {
            line()
            if let original = recipient.originalRecipient, original.contains(";") {
                line("Original-Recipient: \(Self.oneLine(original))")
            }
            line("Final-Recipient: rfc822; \(Self.oneLine(recipient.recipient))")
            line("Action: \(recipient.action)")
            line("Status: \(Self.status(of: recipient.diagnostic, kind: self.kind))")
            line("Diagnostic-Code: smtp; \(Self.oneLine(recipient.diagnostic))")
            if case .delay(let until) = self.kind { line("Will-Retry-Until: \(MessageDate.format(until))") }
        }
        line()
        line("--\(boundary)")
        var data = Data()
        if self.returnFullMessage {
            line("Content-Type: message/rfc822")
            line()
            data.append(Data(text.utf8))
            data.append(self.original)
            if !self.original.isEmpty && self.original.last != UInt8(ascii: "\n") { data.append(Data("\r\n".utf8)) }
        } else {
            line("Content-Type: text/rfc822-headers")
            line()
            data.append(Data(text.utf8))
            data.append(MessageHeader.section(of: self.original))
        }
        data.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return data
    }
}
