import Foundation

/// A `DKIM-Signature` field's tags, checked as RFC 6376 §6.1.1 asks before any key is looked up.
public struct DKIMSignature: Sendable {
    public let algorithm: DKIMAlgorithm
    public let signature: Data
    public let bodyHash: Data
    public let headerCanonicalization: DKIMCanonicalization
    public let bodyCanonicalization: DKIMCanonicalization
    /// `d=`, lower-cased.
    public let domain: String
    public let selector: String
    /// `h=`, lower-cased, in order.
    public let signedHeaders: [String]
    /// `i=`, the agent or user identifier; `@d` when absent (§3.5).
    public let identity: String
    /// `l=`: only this many canonical body octets are signed.
    public let bodyLength: Int?
    public let timestamp: Int64?
    public let expiration: Int64?

    /// Why a field is not a signature this verifier can check: RFC 8601's `permerror` or `neutral`.
    public struct Unusable: Error, Sendable, Equatable {
        public let reason: String
        /// The `d=` and `s=` when they could be read, for the Authentication-Results header.
        public let domain: String?
        public let selector: String?
    }

    public init(parsing value: String) throws(Unusable) {
        let tags: DKIMTagList
        do {
            tags = try DKIMTagList(parsing: value)
        } catch {
            throw Unusable(reason: "malformed tag list", domain: nil, selector: nil)
        }
        let domain = tags["d"]?.lowercased()
        let selector = tags["s"]?.lowercased()
        func unusable(_ reason: String) -> Unusable { Unusable(reason: reason, domain: domain, selector: selector) }
        guard tags["v"] == "1" else { throw unusable("unsupported version") }
        for required in ["a", "b", "bh", "d", "h", "s"] where tags[required] == nil {
            throw unusable("missing \(required)= tag")
        }
        guard let algorithmName = tags["a"]?.lowercased(), let algorithm = DKIMAlgorithm(rawValue: algorithmName) else {
            // rsa-sha1 included: RFC 8301 §3.1 says it must not be taken as valid.
            throw unusable("unsupported algorithm \(tags["a"] ?? "")")
        }
        guard let signature = tags.compact("b").flatMap({ Data(base64Encoded: $0) }), !signature.isEmpty else {
            throw unusable("b= is not base64")
        }
        guard let bodyHash = tags.compact("bh").flatMap({ Data(base64Encoded: $0) }), bodyHash.count == 32 else {
            throw unusable("bh= is not a SHA-256 hash in base64")
        }
        let canonicalization = (tags.compact("c") ?? "simple/simple").lowercased().split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(canonicalization.count),
            let header = DKIMCanonicalization(rawValue: String(canonicalization[0])),
            let body = DKIMCanonicalization(rawValue: canonicalization.count == 2 ? String(canonicalization[1]) : "simple")
        else { throw unusable("unknown canonicalization") }
        guard let domain, let selector, !domain.isEmpty, !selector.isEmpty,
            Self.isDomainName(domain), selector.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(Self.isLabel)
        else { throw unusable("malformed d= or s=") }
        let headers = (tags.compact("h") ?? "").lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard headers.contains("from"), !headers.contains("") else { throw unusable("From is not signed") }
        guard headers.count <= 256 else { throw unusable("too many signed header fields") }
        if let query = tags.compact("q"), !query.lowercased().split(separator: ":").contains("dns/txt") {
            throw unusable("unsupported query method")
        }
        let identity = tags.compact("i") ?? "@\(domain)"
        guard let at = identity.lastIndex(of: "@") else { throw unusable("malformed i=") }
        let identityDomain = identity[identity.index(after: at)...].lowercased()
        // §6.1.1: the identity must be in the signing domain or below it.
        guard identityDomain == domain || identityDomain.hasSuffix("." + domain) else {
            throw unusable("i= is not within d=")
        }
        var bodyLength: Int?
        if let length = tags.compact("l") {
            guard length.count <= 76, length.allSatisfy(\.isASCIIDigit), let value = Int(length) else {
                throw unusable("malformed l=")
            }
            bodyLength = value
        }
        func time(_ tag: String) throws(Unusable) -> Int64? {
            guard let text = tags.compact(tag) else { return nil }
            guard text.count <= 12, text.allSatisfy(\.isASCIIDigit), let value = Int64(text) else {
                throw unusable("malformed \(tag)=")
            }
            return value
        }
        let timestamp = try time("t")
        let expiration = try time("x")
        if let timestamp, let expiration, expiration < timestamp { throw unusable("x= is before t=") }
        self.algorithm = algorithm
        self.signature = signature
        self.bodyHash = bodyHash
        self.headerCanonicalization = header
        self.bodyCanonicalization = body
        self.domain = domain
        self.selector = selector
        self.signedHeaders = headers
        self.identity = identity
        self.bodyLength = bodyLength
        self.timestamp = timestamp
        self.expiration = expiration
    }

    static func isLabel(_ label: some StringProtocol) -> Bool {
        !label.isEmpty && label.utf8.count <= 63
            && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }
    }

    static func isDomainName(_ name: String) -> Bool {
        name.utf8.count <= 253 && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(Self.isLabel)
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// A DKIM key record (RFC 6376 §3.6.1), as published at `selector._domainkey.domain`.
struct DKIMKeyRecord: Sendable {
    let keyType: String
    /// Empty: the key was revoked.
    let publicKey: Data
    /// `t=s`: the identity's domain must be the signing domain itself.
    let strictIdentity: Bool
    /// `t=y`: the domain is testing DKIM; results say so and are not acted on (§3.6.1).
    let testing: Bool
    let hashAlgorithms: [String]?

    enum Problem: Error { case malformed(String) }

    init(parsing text: String) throws(Problem) {
        let tags: DKIMTagList
        do {
            tags = try DKIMTagList(parsing: text)
        } catch {
            throw .malformed("malformed key record")
        }
        if let version = tags["v"], version != "DKIM1" { throw .malformed("key record version \(version)") }
        guard let key = tags.compact("p") else { throw .malformed("key record without p=") }
        guard let decoded = key.isEmpty ? Data() : Data(base64Encoded: key) else { throw .malformed("p= is not base64") }
        if let services = tags.compact("s"), !services.split(separator: ":").contains(where: { $0 == "*" || $0 == "email" }) {
            throw .malformed("key not for email")
        }
        let flags = (tags.compact("t") ?? "").split(separator: ":")
        self.keyType = (tags.compact("k") ?? "rsa").lowercased()
        self.publicKey = decoded
        self.strictIdentity = flags.contains("s")
        self.testing = flags.contains("y")
        self.hashAlgorithms = tags.compact("h").map { $0.lowercased().split(separator: ":").map(String.init) }
    }
}
