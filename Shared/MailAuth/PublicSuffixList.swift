/// The Public Suffix List's rules (https://publicsuffix.org/list/) and the organizational domain of
/// DMARC (RFC 7489 §3.2): the public suffix of a name plus one label.
public struct PublicSuffixList: Sendable {
    private let exact: Set<String>
    private let wildcards: Set<String>
    private let exceptions: Set<String>

    /// The list shipped with this build.
    public static let shipped = PublicSuffixList(rules: Self.rules)

    public init(rules: String) {
        var exact = Set<String>()
        var wildcards = Set<String>()
        var exceptions = Set<String>()
        for line in rules.split(whereSeparator: \.isNewline) {
            let rule = line.lowercased()
            if rule.hasPrefix("!") {
                exceptions.insert(String(rule.dropFirst()))
            } else if rule.hasPrefix("*.") {
                wildcards.insert(String(rule.dropFirst(2)))
            } else {
                exact.insert(rule)
            }
        }
        self.exact = exact
        self.wildcards = wildcards
        self.exceptions = exceptions
    }

    /// How many labels of `labels` (lower-cased) form its public suffix (the list's algorithm: the
    /// longest matching rule wins, an exception rule takes one label off, no match means the last label).
    func suffixLength(_ labels: [Substring]) -> Int {
        var longest = 1
        for count in 1...labels.count {
            let candidate = labels.suffix(count).joined(separator: ".")
            if self.exceptions.contains(candidate) { return count - 1 }
            if self.exact.contains(candidate) { longest = max(longest, count) }
            if count < labels.count, self.wildcards.contains(candidate) { longest = max(longest, count + 1) }
        }
        return longest
    }

    /// The organizational domain of `domain`: its public suffix plus one label, or the name itself
    /// when it is a public suffix.
    public func organizationalDomain(_ domain: String) -> String {
        let name = domain.lowercased().hasSuffix(".") ? String(domain.lowercased().dropLast()) : domain.lowercased()
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !labels.isEmpty, !labels.contains("") else { return name }
        let suffix = self.suffixLength(labels)
        guard suffix < labels.count else { return name }
        return labels.suffix(suffix + 1).joined(separator: ".")
    }
}
