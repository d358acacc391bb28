import Foundation
import Hummingbird
import MailAuth
import MailDNS
import MailStore
import NIOSSL
import ServiceHost

/// `GET /api/v1/domains/{name}/dns`: the records a local domain needs for its mail to arrive and to be
/// accepted elsewhere (MX; SPF, DKIM and DMARC, RFC 7208, 6376, 7489), each with the value to publish
/// and what a live look-up finds: the first page an operator setting up a domain opens.
extension AdminRoutes {
    @Sendable func checkDomainDNS(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let domain = try request.pathParameter("domain", context: context).lowercased()
        _ = try await self.store.domain(named: domain)
        let keys = try await self.store.dkimKeys(domain: domain)
        let transport = try await self.store.domainTransportPolicy(domain: domain)
        return try await self.dnsCheckLookups.withFresh { dns, fetcher in
            try await self.checkDomainDNS(domain, keys: keys, transport: transport, dns: dns, fetcher: fetcher)
        }
    }

    func checkDomainDNS(
        _ domain: String, keys: [StoredDKIMKey], transport: DomainTransportPolicy, dns: DNSResolver, fetcher: MTASTSPolicyFetcher
    ) async throws -> Response {
        let mailHost = self.mailHostname.lowercased()
        // Every look-up at once: a DNS server that does not answer costs one time-out, not one per record.
        async let mx = dns.mx(domain)
        async let spf = dns.txt(domain)
        async let dmarc = dns.txt("_dmarc." + domain)
        async let transportChecks = self.transportSecurityChecks(domain: domain, policy: transport, dns: dns, fetcher: fetcher)
        async let keyAnswers = withTaskGroup(of: (Int, DNSAnswer<String>).self) { group in
            for (index, key) in keys.enumerated() {
                group.addTask { (index, await dns.txt("\(key.selector)._domainkey.\(domain)")) }
            }
            var answers: [Int: DNSAnswer<String>] = [:]
            for await (index, answer) in group { answers[index] = answer }
            return answers
        }
        var checks: [DNSCheckRepresentation.Record] = []

        let mxAnswer = await mx
        let exchanges = (mxAnswer.recordsOrNone ?? []).map { "\($0.preference) \($0.exchange)" }
        checks.append(
            .init(
                purpose: "mx", name: domain, type: "MX", expected: "10 \(mailHost).", found: exchanges,
                status: Self.status(mxAnswer.recordsOrNone.map { records in
                    records.isEmpty ? "no MX record: mail goes to the domain's own address, if any"
                        : records.contains { $0.exchange.lowercased() == mailHost } ? nil : "no MX record names \(mailHost)"
                }, missing: mxAnswer.recordsOrNone?.isEmpty == true),
                detail: Self.detail(mxAnswer, problem: nil)))

        let spfAnswer = await spf
        let spfCheck = spfAnswer.recordsOrNone.map(PublishedRecords.spf)
        checks.append(
            .init(
                purpose: "spf", name: domain, type: "TXT", expected: "v=spf1 mx -all",
                found: spfCheck?.record.map { [$0] } ?? [],
                status: Self.status(spfCheck.map { $0.problem }, missing: spfCheck?.record == nil),
                detail: Self.detail(spfAnswer, problem: spfCheck?.problem)))

        let keyAnswerList = await keyAnswers
        for (index, key) in keys.enumerated() {
            guard let algorithm = DKIMAlgorithm(rawValue: key.algorithm), let answer = keyAnswerList[index] else { continue }
            let name = "\(key.selector)._domainkey.\(domain)"
            let check = answer.recordsOrNone.map { PublishedRecords.dkim($0, algorithm: algorithm, publicKey: key.publicKey) }
            let pair = DKIMKeyPair(algorithm: algorithm, privateKey: Data(), publicKey: key.publicKey)
            var detail = Self.detail(answer, problem: check?.problem)
            if key.state == .pending && check?.problem == nil && check?.record != nil {
                detail = "published: the key can be activated"
            } else if key.state == .retired {
                detail = (detail.map { $0 + "; " } ?? "") + "retired: keep it published a few days, then delete the key"
            }
            checks.append(
                .init(
                    purpose: "dkim", name: name, type: "TXT", expected: pair.dnsRecord, found: check?.record.map { [$0] } ?? [],
                    status: Self.status(check.map { $0.problem }, missing: check?.record == nil),
                    detail: detail, selector: key.selector, keyState: key.state.rawValue))
        }

        let dmarcAnswer = await dmarc
        let dmarcCheck = dmarcAnswer.recordsOrNone.map(PublishedRecords.dmarc)
        checks.append(
            .init(
                purpose: "dmarc", name: "_dmarc." + domain, type: "TXT", expected: "v=DMARC1; p=quarantine",
                found: dmarcCheck?.record.map { [$0] } ?? [],
                status: Self.status(dmarcCheck.map { $0.problem }, missing: dmarcCheck?.record == nil),
                detail: Self.detail(dmarcAnswer, problem: dmarcCheck?.problem)))
        checks += await transportChecks
        return try JSONResponse.make(DNSCheckRepresentation(domain: domain, records: checks))
    }

    /// With an MTA-STS policy other than `none`: the `_mta-sts` record with the served policy's id, and
    /// the policy as senders fetch it (RFC 8461 §3); with report addresses, the `_smtp._tls` record
    /// (RFC 8460 §3).
    func transportSecurityChecks(
        domain: String, policy: DomainTransportPolicy, dns: DNSResolver, fetcher: MTASTSPolicyFetcher
    ) async -> [DNSCheckRepresentation.Record] {
        let served = policy.isConfigured && policy.mtaSTSMode != .none ? policy.mtaSTSPolicy(mailHostname: self.mailHostname) : nil
        let stsName = "_mta-sts." + domain
        let reportName = "_smtp._tls." + domain
        async let fetched = served == nil ? nil : fetcher.fetch(domain)
        async let stsAnswer = served == nil ? nil : dns.txt(stsName)
        async let reportAnswer = policy.tlsReportAddresses.isEmpty ? nil : dns.txt(reportName)
        var checks: [DNSCheckRepresentation.Record] = []
        if let served, let answer = await stsAnswer {
            let check = answer.recordsOrNone.map { PublishedRecords.mtaSTS($0, id: served.digestID) }
            checks.append(
                .init(
                    purpose: "mta-sts", name: stsName, type: "TXT", expected: "v=STSv1; id=\(served.digestID)",
                    found: check?.record.map { [$0] } ?? [],
                    status: Self.status(check.map { $0.problem }, missing: check?.record == nil),
                    detail: Self.detail(answer, problem: check?.problem)))
            let url = MTASTSPolicyFetcher.url(domain: domain)
            switch await fetched {
            case .success(let found):
                let problem = found == served ? nil : "the policy served there is not the domain's: its HTTPS front end must pass \(url) to this service"
                checks.append(
                    .init(
                        purpose: "mta-sts-policy", name: url, type: "HTTPS", expected: served.text, found: found.lines,
                        status: problem == nil ? "ok" : "wrong", detail: problem))
            case .failure(let failure):
                checks.append(
                    .init(
                        purpose: "mta-sts-policy", name: url, type: "HTTPS", expected: served.text, found: [], status: "missing",
                        detail: "senders cannot fetch the policy: \(failure.description). Serve mta-sts.\(domain) over HTTPS with a "
                            + "certificate for that name and pass \(MTASTSPolicyRoute.path) to this service"))
            case nil:
                break
            }
        }
        if let answer = await reportAnswer {
            let check = answer.recordsOrNone.map { PublishedRecords.tlsRPT($0, addresses: policy.tlsReportAddresses) }
            checks.append(
                .init(
                    purpose: "tls-rpt", name: reportName, type: "TXT",
                    expected: "v=TLSRPTv1; rua=" + policy.tlsReportAddresses.joined(separator: ","),
                    found: check?.record.map { [$0] } ?? [],
                    status: Self.status(check.map { $0.problem }, missing: check?.record == nil),
                    detail: Self.detail(answer, problem: check?.problem)))
        }
        return checks
    }

    /// `ok`, `missing`, `wrong`, or `unknown` when the look-up failed (nil problem list).
    static func status(_ problem: String??, missing: Bool) -> String {
        guard let problem else { return "unknown" }
        guard problem != nil else { return "ok" }
        return missing ? "missing" : "wrong"
    }

    static func detail<Record>(_ answer: DNSAnswer<Record>, problem: String?) -> String? {
        if case .temporaryFailure(let reason) = answer { return "DNS look-up failed: \(reason)" }
        return problem
    }
}

struct DNSCheckRepresentation: Encodable, Sendable {
    struct Record: Encodable, Sendable {
        let purpose: String
        let name: String
        let type: String
        /// What to publish.
        let expected: String
        /// What the look-up found (the relevant records only).
        let found: [String]
        let status: String
        let detail: String?
        var selector: String? = nil
        var keyState: String? = nil

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.purpose, forKey: .purpose)
            try container.encode(self.name, forKey: .name)
            try container.encode(self.type, forKey: .type)
            try container.encode(self.expected, forKey: .expected)
            try container.encode(self.found, forKey: .found)
            try container.encode(self.status, forKey: .status)
            try container.encode(self.detail, forKey: .detail)
            if let selector = self.selector { try container.encode(selector, forKey: .selector) }
            if let keyState = self.keyState { try container.encode(keyState, forKey: .keyState) }
        }
        enum CodingKeys: String, CodingKey { case purpose, name, type, expected, found, status, detail, selector, keyState }
    }
    let domain: String
    let records: [Record]
}

/// The DNS check's view of the world: the relay's DNS server and trust roots. Each check gets a
/// resolver of its own, so that an operator who publishes a record and checks again sees it at once
/// (a shared resolver would answer from what it kept of the first check, negative answers included).
struct DNSCheckLookups: Sendable {
    let server: String?
    let tlsConfiguration: TLSConfiguration
    /// The policy host's port (443; tests use another).
    let mtaSTSPort: Int

    func withFresh<Value: Sendable>(
        _ body: (DNSResolver, MTASTSPolicyFetcher) async throws -> Value
    ) async throws -> Value {
        let resolver = try DNSResolver(server: self.server, threads: 16, timeout: .seconds(5))
        let fetcher = MTASTSPolicyFetcher(
            https: ResolvedHTTPS(resolver: resolver, tlsConfiguration: self.tlsConfiguration), port: self.mtaSTSPort)
        // Look-ups that timed out may still hold their threads (libunbound keeps trying for a while): the
        // answer does not wait for them, the threads stop once they are done.
        defer { Task.detached { await resolver.shutdown() } }
        return try await body(resolver, fetcher)
    }
}
