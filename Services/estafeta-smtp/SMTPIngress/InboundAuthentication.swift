import Foundation
import Logging
import MailAuth
import MailDNS

/// What the MX works out about a message from another server before accepting it: its DKIM
/// signatures (RFC 6376), written into an `Authentication-Results` field (RFC 8601) under this host's
/// authserv-id, with any field already claiming that id removed.
struct InboundAuthentication: Sendable {
    let authservID: String
    let dns: any DNSLookup

    struct Outcome: Sendable {
        /// The `Authentication-Results` field, with its CRLF.
        var field: String
        /// The header section without forged claims of our authserv-id.
        var header: Data
    }

    func check(_ message: inout IncomingMessage, logger: Logger) async -> Outcome {
        var results = AuthenticationResults(authservID: self.authservID)
        results.add(dkim: await message.signatureVerdicts(dns: self.dns))
        return Outcome(field: results.field, header: AuthenticationResults.removingClaims(of: self.authservID, from: message.header))
    }
}
