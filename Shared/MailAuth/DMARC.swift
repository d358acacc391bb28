import Foundation
import MailDNS
import MailFormat

/// DMARC (RFC 7489): does the author's domain (RFC 5322 From) stand behind this message, through an
/// SPF or DKIM pass for an aligned domain, and what does it ask be done with it if not?
public struct DMARCChecker: Sendable {
    public enum Result: String, Sendable {
        case none, pass, fail, temperror, permerror
    }

    public enum Policy: String, Sendable {
        case none, quarantine, reject
    }

    public struct Outcome: Sendable, Equatable {
        public let result: Result
        /// The From domain (`header.from`).
        public let fromDomain: String?
        /// The policy the domain publishes for this message (`p=`, or `sp=` for a subdomain).
        public let publishedPolicy: Policy?
        /// What to do: the published policy, or a lesser one when `pct=` sampled the message out
        /// (§6.6.4); `.none` when the message passed.
        public let disposition: Policy
        public let reason: String?
    }

    let dns: any DNSLookup
    let suffixes: PublicSuffixList

    public init(dns: any DNSLookup, suffixes: PublicSuffixList = .shipped) {
        self.dns = dns
        self.suffixes = suffixes
    }

    /// The lower-cased domains of the From field's addresses (RFC 5322 From: the author domain DMARC
    /// speaks for, and the domain a signature should align with).
    public static func fromDomains(of header: Data) -> [String] {
        MessageHeader(parsing: header).values("From").flatMap(AddressListParser.addresses(in:))
            .compactMap { try? EmailAddress(parsing: $0).domain.lowercased() }
    }

    /// `fromDomains`: the domains of the From header's addresses; `spf`: the SPF outcome of the MAIL
    /// FROM identity; `dkim`: the verdicts of the message's signatures. `sample` picks whether a
    /// policy with `pct=` below 100 applies (a number in 0..<100).
    public func check(
        fromDomains: [String], spf: SPFChecker.Outcome?, dkim: [DKIMVerdict], sample: Int = Int.random(in: 0..<100)
    ) async -> Outcome {
        // §6.6.1: one author domain; mail with several is not something a policy can speak for.
        let distinct = Set(fromDomains.map { $0.lowercased() })
        guard distinct.count == 1, let from = distinct.first else {
            return Outcome(
                result: distinct.isEmpty ? .none : .permerror, fromDomain: nil, publishedPolicy: nil, disposition: .none,
                reason: distinct.isEmpty ? "no From domain" : "more than one From domain")
        }
        let organizational = self.suffixes.organizationalDomain(from)
        let record: DMARCRecord
        var atOrganizationalDomain = false
        switch await self.record(at: from) {
        case .failure(let reason):
            return Outcome(result: .temperror, fromDomain: from, publishedPolicy: nil, disposition: .none, reason: reason.reason)
        case .success(let found?):
            record = found
        case .success(nil):
            // §6.6.3: no record at the author domain: the organizational domain's, if different.
            guard organizational != from else {
                return Outcome(result: .none, fromDomain: from, publishedPolicy: nil, disposition: .none, reason: nil)
            }
            switch await self.record(at: organizational) {
            case .failure(let reason):
                return Outcome(result: .temperror, fromDomain: from, publishedPolicy: nil, disposition: .none, reason: reason.reason)
            case .success(let found?):
                record = found
                atOrganizationalDomain = true
            case .success(nil):
                return Outcome(result: .none, fromDomain: from, publishedPolicy: nil, disposition: .none, reason: nil)
            }
        }
        let policy = atOrganizationalDomain ? (record.subdomainPolicy ?? record.policy) : record.policy
        func aligned(_ domain: String, strict: Bool) -> Bool {
            let domain = domain.lowercased()
            return strict ? domain == from : self.suffixes.organizationalDomain(domain) == organizational
        }
        let dkimAligned = dkim.contains { $0.result == .pass && $0.domain.map { aligned($0, strict: record.strictDKIM) } == true }
        let spfAligned = spf.map { $0.result == .pass && aligned($0.domain, strict: record.strictSPF) } ?? false
        if dkimAligned || spfAligned {
            return Outcome(result: .pass, fromDomain: from, publishedPolicy: policy, disposition: .none, reason: nil)
        }
        // §6.6.4: pct= applies the policy to that share of failing mail; the rest gets the next lesser one.
        var disposition = policy
        if sample >= record.percent {
            disposition = policy == .reject ? .quarantine : .none
        }
        return Outcome(result: .fail, fromDomain: from, publishedPolicy: policy, disposition: disposition, reason: nil)
    }

    /// The DMARC record at `_dmarc.domain`: nil when there is none (or more than one, §6.6.3).
    private func record(at domain: String) async -> Swift.Result<DMARCRecord?, LookupFailure> {
        switch await self.dns.txt("_dmarc." + domain) {
        case .temporaryFailure(let reason): return .failure(LookupFailure(reason))
        case .nameDoesNotExist, .noData: return .success(nil)
        case .records(let texts):
            let records = texts.compactMap(DMARCRecord.init(parsing:))
            return .success(records.count == 1 ? records[0] : nil)
        }
    }

    struct LookupFailure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }
}

/// A DMARC policy record (RFC 7489 §6.3). Reporting tags are read past: reports are not sent.
struct DMARCRecord: Sendable, Equatable {
    let policy: DMARCChecker.Policy
    let subdomainPolicy: DMARCChecker.Policy?
    let percent: Int
    let strictDKIM: Bool
    let strictSPF: Bool

    init?(parsing text: String) {
        guard let tags = try? DKIMTagList(parsing: text), tags.tags.first?.name == "v", tags["v"] == "DMARC1" else {
            return nil
        }
        // §6.6.3: a record whose p= is missing or unknown is taken as p=none when it asks for reports,
        // and ignored otherwise.
        guard let policy = tags["p"].flatMap({ DMARCChecker.Policy(rawValue: $0.lowercased()) }) else {
            guard tags["rua"] != nil else { return nil }
            self.init(policy: .none, subdomainPolicy: nil, percent: 100, strictDKIM: false, strictSPF: false)
            return
        }
        let percent = tags["pct"].flatMap { Int($0) }.map { min(100, max(0, $0)) } ?? 100
        self.init(
            policy: policy, subdomainPolicy: tags["sp"].flatMap { DMARCChecker.Policy(rawValue: $0.lowercased()) },
            percent: percent, strictDKIM: tags["adkim"]?.lowercased() == "s", strictSPF: tags["aspf"]?.lowercased() == "s")
    }

    init(policy: DMARCChecker.Policy, subdomainPolicy: DMARCChecker.Policy?, percent: Int, strictDKIM: Bool, strictSPF: Bool) {
        self.policy = policy
        self.subdomainPolicy = subdomainPolicy
        self.percent = percent
        self.strictDKIM = strictDKIM
        self.strictSPF = strictSPF
    }
}
