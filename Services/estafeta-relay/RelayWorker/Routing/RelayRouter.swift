import Foundation
import MailAuth
import MailDNS

/// A login at a smarthost (RFC 4954 as a client); only ever sent over TLS.
struct RelayCredentials: Sendable, Equatable {
    var user: String
    var password: String
}

/// One place to try a delivery: an address to connect to, and the name to give for TLS (SNI).
struct RouteHost: Sendable, Equatable, CustomStringConvertible {
    var name: String
    var address: String
    var port: Int
    /// Set for the smarthost when the operator configured a login for it.
    var credentials: RelayCredentials? = nil
    /// The destination domain whose MTA-STS policy in `enforce` mode requires TLS with a certificate
    /// valid for `name` (RFC 8461 §4.2); nil: TLS is opportunistic.
    var verifiedTLSFor: String? = nil
    /// What the host's DNSSEC-validated TLSA records require (RFC 7672); nil: none apply.
    var dane: DANERequirement? = nil
    /// The destination domain whose MTA-STS policy is in `testing` mode: TLS is verified and a failure
    /// reported, but the message then goes as without a policy (RFC 8461 §5).
    var testingPolicyOf: String? = nil
    /// The policy TLS sessions with this host are counted under for TLS reports (RFC 8460).
    var tlsReport: TLSReportPolicy? = nil
    var description: String { self.name == self.address ? "\(self.address):\(self.port)" : "\(self.name)[\(self.address)]:\(self.port)" }
}

/// The policy a TLS session is reported under (RFC 8460 §4.4): the destination domain, `sts` or
/// `tlsa`, and the policy's text a line each.
struct TLSReportPolicy: Sendable, Equatable {
    var domain: String
    var type: String
    var policy: [String]
}

/// Why a host cannot be tried now: the reply its recipients are deferred with.
struct RouteDeferral: Error {
    let reply: String
}

/// Where a destination domain's mail goes, or why it cannot go anywhere.
enum RouteDecision: Sendable, Equatable {
    case hosts([RouteHost])
    /// Permanent: the domain does not exist, publishes a null MX, ...
    case bounce(String)
    /// Temporary: DNS failed; try again later.
    case deferral(String)
}

/// RFC 5321 §5.1 routing, with the operator's overrides first: a static route for the domain, then
/// the smarthost, then MX records (by preference, random among equals), then the domain's own
/// address records when it has no MX; a null MX (RFC 7505) refuses mail.
struct RelayRouter: Sendable {
    /// "host:port" targets by lower-case domain.
    var staticRoutes: [String: (host: String, port: Int)]
    var smarthost: (host: String, port: Int)?
    var smarthostCredentials: RelayCredentials?
    /// Port for MX hosts (25 on the Internet; tests point it at a second suite on loopback).
    var mxPort: Int
    let resolver: DNSResolver
    /// MTA-STS policies of destination domains, for delivery through their MX hosts (nil: not applied).
    var mtaSTS: MTASTSPolicies? = nil
    /// Look up TLSA records of MX hosts whose names DNSSEC vouches for (needs a validating resolver).
    var dane = false

    /// "example.org=127.0.0.2:2526" entries, as configured.
    static func parseRoutes(_ entries: [String]) -> [String: (host: String, port: Int)] {
        var routes: [String: (host: String, port: Int)] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let target = Self.parseHostPort(String(parts[1])) else { continue }
            routes[parts[0].trimmingCharacters(in: .whitespaces).lowercased()] = target
        }
        return routes
    }

    /// "host:port", "[v6]:port" or "host" (port 25).
    static func parseHostPort(_ text: String) -> (host: String, port: Int)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
            let host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
            let port = rest.isEmpty ? 25 : Int(rest.dropFirst()) ?? -1
            return (1...65_535).contains(port) ? (host, port) : nil
        }
        let parts = trimmed.split(separator: ":")
        guard parts.count <= 2 else { return (trimmed, 25) }  // a bare IPv6 address
        let port = parts.count == 2 ? Int(parts[1]) ?? -1 : 25
        return (1...65_535).contains(port) ? (String(parts[0]), port) : nil
    }

    func route(_ domain: String) async -> RouteDecision {
        if let target = self.staticRoutes[domain.lowercased()] {
            return await self.hosts(named: target.host, port: target.port)
        }
        if let target = self.smarthost {
            return await self.hosts(named: target.host, port: target.port, credentials: self.smarthostCredentials)
        }
        var exchanges: [MXRecord]
        var implicit = false
        let (mx, mxSecure) = await self.resolver.securedMX(domain)
        switch mx {
        case .temporaryFailure(let reason):
            return .deferral("451 4.4.3 DNS lookup of MX for \(domain) failed: \(reason)")
        case .nameDoesNotExist:
            return .bounce("550 5.1.2 domain \(domain) does not exist")
        case .noData:
            // RFC 5321 §5.1: no MX records, the domain itself is the implicit MX.
            exchanges = [MXRecord(preference: 0, exchange: domain)]
            implicit = true
        case .records(let records):
            if records.count == 1, records[0].exchange.isEmpty {
                return .bounce("556 5.1.10 domain \(domain) does not accept mail (null MX)")
            }
            exchanges = Self.ordered(records.filter { !$0.exchange.isEmpty })
        }
        // RFC 8461 §4.1, §5: an enforced policy allows only the MX hosts it lists, each over verified TLS;
        // under a policy in `testing` mode TLS is verified too, but a failure is only reported.
        var verifiedTLSFor: String?
        var testingPolicyOf: String?
        var stsReport: TLSReportPolicy?
        if let policy = await self.mtaSTS?.policy(for: domain), policy.mode != .none {
            stsReport = TLSReportPolicy(domain: domain.lowercased(), type: "sts", policy: policy.lines)
            if policy.mode == .enforce {
                let listed = exchanges.filter { policy.permits(mx: $0.exchange) }
                guard !listed.isEmpty else {
                    return .deferral(
                        "451 4.7.5 MTA-STS policy of \(domain) lists none of its MX hosts (\(exchanges.map(\.exchange).joined(separator: ", ")))")
                }
                exchanges = listed
                verifiedTLSFor = domain.lowercased()
            } else {
                testingPolicyOf = domain.lowercased()
            }
        }
        var hosts: [RouteHost] = []
        var temporary: String?
        var absent = 0
        for exchange in exchanges {
            switch await self.hosts(named: exchange.exchange, port: self.mxPort) {
            case .hosts(let found):
                var dane: (requirement: DANERequirement, records: [TLSARecord])?
                if self.dane, mxSecure || implicit {
                    switch await self.daneRequirement(of: exchange.exchange) {
                    case .success(let requirement): dane = requirement
                    case .failure(let deferral):
                        temporary = deferral.reply
                        continue
                    }
                }
                let report = dane.map {
                    TLSReportPolicy(domain: domain.lowercased(), type: "tlsa", policy: $0.records.map(Self.presentation))
                } ?? stsReport
                hosts += found.map {
                    var host = $0
                    host.verifiedTLSFor = verifiedTLSFor
                    // DANE, where it applies, takes the place of the MTA-STS policy (RFC 8461 §2).
                    host.testingPolicyOf = dane == nil ? testingPolicyOf : nil
                    host.dane = dane?.requirement
                    host.tlsReport = report
                    return host
                }
            case .deferral(let reason): temporary = reason
            case .bounce: absent += 1
            }
        }
        if !hosts.isEmpty { return .hosts(hosts) }
        if implicit, temporary == nil, absent == exchanges.count {
            return .bounce("550 5.1.2 domain \(domain) has no MX or address records")
        }
        return .deferral(temporary ?? "451 4.4.4 no address for any MX host of \(domain)")
    }

    /// RFC 7672 §2.2: when DNSSEC vouches for the MX host's addresses, its TLSA records (secure ones
    /// only) say how TLS must go; a failed TLSA look-up makes the host unusable for now, since an
    /// attacker could cause it to strip the requirement.
    private func daneRequirement(of host: String) async -> Result<(requirement: DANERequirement, records: [TLSARecord])?, RouteDeferral> {
        guard !Self.isAddressLiteral(host), await self.resolver.addressesAreSecure(host) else { return .success(nil) }
        let (answer, secure) = await self.resolver.tlsa("_\(self.mxPort)._tcp.\(host)")
        switch answer {
        case .records(let records): return .success(secure ? (DANERequirement(records: records), records) : nil)
        case .noData, .nameDoesNotExist: return .success(nil)
        case .temporaryFailure(let reason): return .failure(RouteDeferral(reply: "451 4.7.5 TLSA look-up for \(host) failed: \(reason)"))
        }
    }

    /// A TLSA record as a zone file writes it: `3 1 1 <hex>`.
    static func presentation(_ record: TLSARecord) -> String {
        "\(record.usage) \(record.selector) \(record.matchingType) " + record.data.map { String(format: "%02x", $0) }.joined()
    }

    /// By preference, random order among equal preferences (RFC 5321 §5.1).
    static func ordered(_ records: [MXRecord]) -> [MXRecord] {
        Dictionary(grouping: records, by: \.preference).sorted { $0.key < $1.key }.flatMap { $0.value.shuffled() }
    }

    private func hosts(named name: String, port: Int, credentials: RelayCredentials? = nil) async -> RouteDecision {
        if Self.isAddressLiteral(name) {
            return .hosts([RouteHost(name: name, address: name, port: port, credentials: credentials)])
        }
        switch await self.resolver.addresses(name) {
        case .records(let addresses):
            return .hosts(addresses.map { RouteHost(name: name, address: $0, port: port, credentials: credentials) })
        case .temporaryFailure(let reason):
            return .deferral("451 4.4.3 DNS lookup of \(name) failed: \(reason)")
        case .nameDoesNotExist, .noData:
            return .bounce("550 5.1.2 host \(name) has no address")
        }
    }

    static func isAddressLiteral(_ name: String) -> Bool {
        name.contains(":") || (!name.isEmpty && name.split(separator: ".").count == 4 && name.allSatisfy { $0.isNumber || $0 == "." })
    }
}
