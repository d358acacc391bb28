import Foundation

/// A destination domain's MTA-STS policy (RFC 8461) as last fetched, kept so that a relay that restarts
/// still applies it until it expires (§5.1) rather than trusting whatever the network says next.
public struct StoredMTASTSPolicy: Sendable, Equatable {
    public let domain: String
    /// The `id` of the `_mta-sts` TXT record the policy was fetched under.
    public let id: String
    /// The policy's text.
    public let policy: String
    public let expiresAt: Date

    public init(domain: String, id: String, policy: String, expiresAt: Date) {
        self.domain = domain
        self.id = id
        self.policy = policy
        self.expiresAt = expiresAt
    }
}

/// A count of TLS sessions of one kind towards a destination domain in one report period, as SMTP TLS
/// Reporting (RFC 8460 §4) sums them up: successes per policy, failures per policy, MX host, receiving
/// address and result type.
public struct TLSSessionTally: Sendable, Equatable {
    public var periodStart: Date
    /// The destination domain whose policy applied (lower case).
    public var policyDomain: String
    /// `sts`, `tlsa` or `no-policy-found` (RFC 8460 §4.3).
    public var policyType: String
    /// The policy as RFC 8460's policy-string: an MTA-STS policy's lines, or the TLSA records, one a line.
    public var policy: String
    /// The MX host's name; empty for successes (only their total is reported).
    public var mxHost: String
    /// Empty for successful sessions, else an RFC 8460 §4.3 result type (`certificate-not-trusted`, ...).
    public var resultType: String
    public var receivingIP: String
    public var sessions: Int

    public init(
        periodStart: Date, policyDomain: String, policyType: String, policy: String, mxHost: String, resultType: String,
        receivingIP: String, sessions: Int
    ) {
        self.periodStart = periodStart
        self.policyDomain = policyDomain
        self.policyType = policyType
        self.policy = policy
        self.mxHost = mxHost
        self.resultType = resultType
        self.receivingIP = receivingIP
        self.sessions = sessions
    }
}

/// One report owed: a destination domain and a period in which sessions to it were counted.
public struct TLSReportKey: Sendable, Hashable {
    public let policyDomain: String
    public let periodStart: Date

    public init(policyDomain: String, periodStart: Date) {
        self.policyDomain = policyDomain
        self.periodStart = periodStart
    }
}

extension MailStore {
    /// The domain's kept MTA-STS policy, unless it has expired by `now`.
    public func mtaSTSPolicy(for domain: String, now: Date = Date()) async throws(MailStoreError) -> StoredMTASTSPolicy? {
        try await self.queue.mtaSTSPolicy(for: domain.lowercased(), now: now)
    }

    /// Keeps a newly fetched policy in place of the domain's earlier one; expired policies of every
    /// domain go at the same time.
    public func saveMTASTSPolicy(_ policy: StoredMTASTSPolicy, now: Date = Date()) async throws(MailStoreError) {
        try await self.queue.saveMTASTSPolicy(
            StoredMTASTSPolicy(domain: policy.domain.lowercased(), id: policy.id, policy: policy.policy, expiresAt: policy.expiresAt),
            now: now)
    }

    /// Adds the tally's sessions to the count of its kind (the relay counts each session it makes to
    /// a domain with a policy). Counts are kept until the period's report is made.
    public func addTLSSessions(_ tally: TLSSessionTally) async throws(MailStoreError) {
        try await self.queue.addTLSSessions(tally)
    }

    /// Domains and periods with counted sessions, for periods that started before `before`.
    public func tlsReportsDue(periodsStartedBefore before: Date) async throws(MailStoreError) -> [TLSReportKey] {
        try await self.queue.tlsReportsDue(periodsStartedBefore: before)
    }

    public func tlsSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally] {
        try await self.queue.tlsSessionTallies(key)
    }

    /// Takes a period's counts for a domain out of the store to report them: of relays that try at once,
    /// one gets them.
    public func takeTLSSessionTallies(_ key: TLSReportKey) async throws(MailStoreError) -> [TLSSessionTally] {
        try await self.queue.takeTLSSessionTallies(key)
    }
}
