import Foundation
import Hummingbird
import MailAuth
import MailDNS
import MailStore

/// `GET /api/v1/domains/{name}/dns`: the records a local domain needs for its mail to arrive and to be
/// accepted elsewhere (MX; SPF, DKIM and DMARC, RFC 7208, 6376, 7489), each with the value to publish
/// and what a live look-up finds: the first page an operator setting up a domain opens.
extension AdminRoutes {
    @Sendable func checkDomainDNS(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let domain = try request.pathParameter("domain", context: context).lowercased()
        _ = try await self.store.domain(named: domain)
        let keys = try await self.store.dkimKeys(domain: domain)
        let dns = self.dns
        let mailHost = self.mailHostname.lowercased()
        async let mx = dns.mx(domain)
        async let spf = dns.txt(domain)
        async let dmarc = dns.txt("_dmarc." + domain)
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

        for key in keys {
            guard let algorithm = DKIMAlgorithm(rawValue: key.algorithm) else { continue }
            let name = "\(key.selector)._domainkey.\(domain)"
            let answer = await dns.txt(name)
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
        return try JSONResponse.make(DNSCheckRepresentation(domain: domain, records: checks))
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
