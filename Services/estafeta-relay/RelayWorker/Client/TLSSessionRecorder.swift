import Foundation
import Logging
import MailStore

/// Counts the relay's TLS sessions with hosts under an MTA-STS or DANE policy in the store, per report
/// period, for TLS reports (RFC 8460 §4.3): a success under the policy, or a failure with its result
/// type, MX host and address.
struct TLSSessionRecorder: Sendable {
    let store: MailStore
    let period: Duration
    let logger: Logger

    /// The start of the period `date` falls in: periods are counted from the Unix epoch, so a day-long
    /// period is a UTC day, as RFC 8460 §4.1 asks.
    static func periodStart(of date: Date, period: Duration) -> Date {
        let length = Double(max(period.components.seconds, 1))
        return Date(timeIntervalSince1970: (date.timeIntervalSince1970 / length).rounded(.down) * length)
    }

    /// `failure`: nil for a successful session, else an RFC 8460 result type. A store failure is logged
    /// and does not hold up the delivery.
    func record(_ host: RouteHost, failure: String?, now: Date = Date()) async {
        guard let policy = host.tlsReport else { return }
        let tally = TLSSessionTally(
            periodStart: Self.periodStart(of: now, period: self.period), policyDomain: policy.domain, policyType: policy.type,
            policy: policy.policy.joined(separator: "\n"), mxHost: failure == nil ? "" : host.name, resultType: failure ?? "",
            receivingIP: failure == nil ? "" : host.address, sessions: 1)
        do {
            try await self.store.addTLSSessions(tally)
        } catch {
            self.logger.warning("cannot count a TLS session for the TLS report", metadata: ["domain": "\(policy.domain)", "error": "\(error)"])
        }
    }
}
