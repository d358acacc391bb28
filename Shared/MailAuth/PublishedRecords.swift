import Foundation

/// Checks of the records a domain publishes for mail authentication, as the admin API's DNS check
/// reads them back: is what is there usable, and is it what this server needs?
public enum PublishedRecords {
    /// Among a name's TXT records, the SPF record and what is wrong with it (nil when it is usable):
    /// none, more than one (RFC 7208 §4.5), a term the evaluator would refuse, or `+all`.
    public static func spf(_ texts: [String]) -> (record: String?, problem: String?) {
        let records = texts.filter { $0.lowercased() == "v=spf1" || $0.lowercased().hasPrefix("v=spf1 ") }
        guard let record = records.first else { return (nil, "no SPF record") }
        guard records.count == 1 else { return (record, "more than one SPF record: receivers take that as an error") }
        do throws(SPFChecker.Stop) {
            let parsed = try SPFRecord(parsing: record)
            if parsed.directives.contains(where: { $0.mechanism == .all && $0.qualifier == .pass }) {
                return (record, "+all lets anyone send as the domain")
            }
            return (record, nil)
        } catch {
            return (record, "receivers cannot evaluate it: \(error.reason)")
        }
    }

    /// The DMARC record among `_dmarc.domain`'s TXT records and what is wrong with it.
    public static func dmarc(_ texts: [String]) -> (record: String?, problem: String?) {
        let candidates = texts.filter { $0.hasPrefix("v=DMARC1") }
        guard let record = candidates.first else { return (nil, "no DMARC record") }
        guard candidates.count == 1 else { return (record, "more than one DMARC record: receivers ignore them all") }
        guard DMARCRecord(parsing: record) != nil else { return (record, "not a valid DMARC record (v=DMARC1 first, then p=)") }
        return (record, nil)
    }

    /// Whether a DKIM key record carries `publicKey` for `algorithm`, and what is wrong if not.
    public static func dkim(_ texts: [String], algorithm: DKIMAlgorithm, publicKey: Data) -> (record: String?, problem: String?) {
        guard !texts.isEmpty else { return (nil, "no key record") }
        for text in texts {
            guard let record = try? DKIMKeyRecord(parsing: text) else { continue }
            if record.publicKey == publicKey && record.keyType == algorithm.keyType { return (text, nil) }
        }
        return (texts.first, "the record does not carry this key")
    }

    /// The `_mta-sts` record among a name's TXT records and what is wrong with it: none, more than one
    /// (RFC 8461 §3.1: senders then see no policy), malformed, or an id other than the served policy's
    /// (senders keep the policy they have until the id changes).
    public static func mtaSTS(_ texts: [String], id: String) -> (record: String?, problem: String?) {
        let candidates = texts.filter { $0.hasPrefix("v=STSv1") }
        guard let record = candidates.first else { return (nil, "no MTA-STS record") }
        guard candidates.count == 1 else { return (record, "more than one MTA-STS record: senders see no policy") }
        guard let parsed = MTASTSRecord(parsing: record) else {
            return (record, "not a valid MTA-STS record (v=STSv1; id= of 1 to 32 letters and digits)")
        }
        guard parsed.id == id else {
            return (record, "its id is not the served policy's: senders that have the policy keep their copy until the id changes")
        }
        return (record, nil)
    }

    /// The `_smtp._tls` record among a name's TXT records and whether its `rua` names exactly `addresses`.
    public static func tlsRPT(_ texts: [String], addresses: [String]) -> (record: String?, problem: String?) {
        let candidates = texts.filter { $0.hasPrefix("v=TLSRPTv1") }
        guard let record = candidates.first else { return (nil, "no TLS-RPT record") }
        guard candidates.count == 1 else { return (record, "more than one TLS-RPT record: senders send no reports") }
        guard let parsed = TLSRPTRecord(parsing: record) else {
            return (record, "not a valid TLS-RPT record (v=TLSRPTv1; rua= with mailto: or https: addresses)")
        }
        let wanted = TLSRPTRecord(parsing: "v=TLSRPTv1; rua=" + addresses.joined(separator: ","))?.destinations ?? []
        guard Set(parsed.destinations.map(Self.key)) == Set(wanted.map(Self.key)) else {
            return (record, "its rua does not name the domain's report addresses")
        }
        return (record, nil)
    }

    private static func key(_ destination: TLSRPTRecord.Destination) -> String {
        switch destination {
        case .mail(let address): "mailto:" + address.lowercased()
        case .https(let url): url
        }
    }
}
