import Foundation
import Logging
import MailAuth
import MailDNS
import MailFormat
import NIOCore
import SMTPProtocol

/// What the MX works out about a message from another server before accepting it: SPF for the MAIL
/// FROM identity (RFC 7208), the DKIM signatures (RFC 6376), and the author domain's DMARC verdict and
/// policy (RFC 7489), written into an `Authentication-Results` field (RFC 8601) under this host's
/// authserv-id, with any field already claiming that id removed.
///
/// A DMARC `reject` refuses the message at the end of its data (`550 5.7.1`) unless every recipient's
/// domain asked to quarantine such mail instead; `quarantine` files it in the recipients' Junk
/// mailboxes. An SPF `fail` alone refuses only when the settings say so. DNS failures never refuse:
/// they are reported as `temperror`.
struct InboundAuthentication: Sendable {
    let authservID: String
    let dns: any DNSLookup
    /// Local domains whose users get DMARC-rejected mail in Junk rather than refused (`*`: all).
    let quarantineInsteadOfReject: Set<String>
    let rejectSPFFail: Bool

    enum Disposition: Sendable, Equatable {
        case accept
        case quarantine
        case reject(SMTPReply)
    }

    struct Outcome: Sendable {
        /// The `Authentication-Results` field, with its CRLF.
        var field: String
        /// The header section without forged claims of our authserv-id.
        var header: Data
        var disposition: Disposition
    }

    func check(
        _ message: inout IncomingMessage, peer: SocketAddress?, sender: EmailAddress?, helo: String,
        recipientDomains: Set<String>, logger: Logger
    ) async -> Outcome {
        var results = AuthenticationResults(authservID: self.authservID)
        var spf: SPFChecker.Outcome?
        if let text = peer?.ipAddress, let address = IPAddress(text) {
            let outcome = await SPFChecker(dns: self.dns).check(address: address, sender: sender?.description, helo: helo)
            results.add(spf: outcome, nullSender: sender == nil)
            spf = outcome
        }
        let dkim = await message.signatureVerdicts(dns: self.dns)
        results.add(dkim: dkim)
        let dmarc = await DMARCChecker(dns: self.dns).check(
            fromDomains: DMARCChecker.fromDomains(of: message.header), spf: spf, dkim: dkim)
        results.add(dmarc: dmarc)

        var disposition = Disposition.accept
        switch dmarc.disposition {
        case .reject:
            let quarantined = !recipientDomains.isEmpty
                && recipientDomains.allSatisfy { self.quarantineInsteadOfReject.contains($0) || self.quarantineInsteadOfReject.contains("*") }
            disposition = quarantined
                ? .quarantine
                : .reject(SMTPReply(550, "5.7.1", "Message from \(dmarc.fromDomain ?? "") refused by its domain's DMARC policy"))
        case .quarantine:
            disposition = .quarantine
        case .none:
            break
        }
        if disposition == .accept, self.rejectSPFFail, let spf, spf.result == .fail {
            // RFC 7372 §3.2's code for a failed SPF check.
            disposition = .reject(SMTPReply(550, "5.7.23", "SPF check failed for \(spf.domain)"))
        }
        if disposition != .accept {
            logger.notice(
                "mail authentication verdict",
                metadata: ["dmarc": "\(dmarc.result.rawValue)", "from": "\(dmarc.fromDomain ?? "")", "disposition": "\(disposition)"])
        }
        return Outcome(
            field: results.field, header: AuthenticationResults.removingClaims(of: self.authservID, from: message.header),
            disposition: disposition)
    }
}
