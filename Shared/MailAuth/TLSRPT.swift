import Foundation

/// The `_smtp._tls.<domain>` TXT record (RFC 8460 §3): where a sending MTA sends its daily reports of
/// TLS sessions to the domain's MX hosts.
public struct TLSRPTRecord: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        /// A mailbox that takes the report as mail (§5.3).
        case mail(String)
        /// An HTTPS URL that takes the report as a POST (§5.4).
        case https(String)
    }

    public let destinations: [Destination]

    public init(destinations: [Destination]) { self.destinations = destinations }

    /// The one record among a name's TXT strings, or nil when there is none, more than one, or no
    /// usable `rua` (§3: a sender then sends no report).
    public static func select(_ texts: [String]) -> TLSRPTRecord? {
        let candidates = texts.filter { $0.hasPrefix("v=TLSRPTv1;") || $0 == "v=TLSRPTv1" }
        guard candidates.count == 1 else { return nil }
        return Self(parsing: candidates[0])
    }

    /// `v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://report.example.com/tlsrpt`: `v` first,
    /// `rua` a comma-separated list of `mailto:` and `https:` URIs (others are ignored), extensions
    /// ignored.
    public init?(parsing text: String) {
        let fields = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard fields.first == "v=TLSRPTv1" else { return nil }
        guard let rua = fields.dropFirst().first(where: { $0.hasPrefix("rua=") }) else { return nil }
        var destinations: [Destination] = []
        for uri in rua.dropFirst(4).split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let lower = uri.lowercased()
            if lower.hasPrefix("mailto:") {
                // Percent-encoding in a mailto address (RFC 6068) is rare; "%40" and the like are decoded.
                let address = String(uri.dropFirst(7)).removingPercentEncoding ?? String(uri.dropFirst(7))
                if address.contains("@"), !address.contains("?") { destinations.append(.mail(address)) }
            } else if lower.hasPrefix("https://"), URL(string: uri)?.host != nil {
                destinations.append(.https(uri))
            }
        }
        guard !destinations.isEmpty else { return nil }
        self.destinations = destinations
    }
}
