import Foundation

/// What a local domain asks of the servers that send it mail: its MTA-STS policy (RFC 8461 §3.2),
/// served by the admin service for `mta-sts.<domain>`, and where SMTP TLS reports about it go
/// (RFC 8460 §3, the `rua` of its `_smtp._tls` record). A domain that was never given one has mode
/// `none` and no report addresses: nothing to publish.
public struct DomainTransportPolicy: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case none, testing, enforce
    }

    public var mtaSTSMode: Mode
    /// Seconds senders may keep the policy (`max_age`).
    public var mtaSTSMaxAge: Int
    /// The `mx` patterns; empty stands for the suite's own host name.
    public var mtaSTSMX: [String]
    /// `mailto:` and `https:` URIs for TLS reports; empty when the domain wants none.
    public var tlsReportAddresses: [String]
    public var updatedAt: Date?

    /// A week: long enough to ride out a policy host's outage, short enough to change MX hosts.
    public static let defaultMaxAge = 604_800

    public init(
        mtaSTSMode: Mode = .none, mtaSTSMaxAge: Int = Self.defaultMaxAge, mtaSTSMX: [String] = [],
        tlsReportAddresses: [String] = [], updatedAt: Date? = nil
    ) {
        self.mtaSTSMode = mtaSTSMode
        self.mtaSTSMaxAge = mtaSTSMaxAge
        self.mtaSTSMX = mtaSTSMX
        self.tlsReportAddresses = tlsReportAddresses
        self.updatedAt = updatedAt
    }

    /// One line for the audit log.
    public var auditDetail: String {
        "mta-sts \(self.mtaSTSMode.rawValue), max_age \(self.mtaSTSMaxAge), mx [\(self.mtaSTSMX.joined(separator: " "))], "
            + "tls reports [\(self.tlsReportAddresses.joined(separator: " "))]"
    }
}

extension MailStore {
    /// The local domain's policy (`unknownDomain` for one that is not local); the defaults when it has none.
    public func domainTransportPolicy(domain: String) async throws(MailStoreError) -> DomainTransportPolicy {
        try await self.directory.domainTransportPolicy(domain: domain.lowercased())
    }

    /// Replaces the domain's policy. Lists are kept space-separated, so no entry may hold white space.
    public func setDomainTransportPolicy(
        domain: String, _ policy: DomainTransportPolicy, now: Date = Date(), audit: AuditActor? = nil
    ) async throws(MailStoreError) -> DomainTransportPolicy {
        guard (1...31_557_600).contains(policy.mtaSTSMaxAge) else {
            throw .invalidArgument("max_age must be from 1 to 31557600 seconds")
        }
        for entry in policy.mtaSTSMX + policy.tlsReportAddresses
        where entry.isEmpty || entry.contains(where: { $0.isWhitespace || $0 == "," || $0 == ";" }) {
            throw .invalidArgument("an mx pattern or report address must not be empty or hold spaces, commas or semicolons")
        }
        var stored = policy
        stored.mtaSTSMX = policy.mtaSTSMX.map { $0.lowercased() }
        stored.updatedAt = now
        try await self.directory.setDomainTransportPolicy(domain: domain.lowercased(), stored, now: now, audit: audit)
        return stored
    }
}
