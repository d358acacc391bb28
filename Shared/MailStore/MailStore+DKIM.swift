import Foundation

/// Where a DKIM key is in its life (RFC 6376 §3.6.1 keys, rotated as M3AAWG's key-rotation practice
/// describes): made and published (`pending`), signing (`active`), then no longer signing but still
/// published for mail in flight (`retired`) until it is deleted.
public enum DKIMKeyState: String, Sendable, CaseIterable, Codable {
    case pending
    case active
    case retired
}

/// A DKIM key as the admin API shows it: never its private half.
public struct StoredDKIMKey: Sendable, Equatable {
    public let id: Int64
    public let domain: String
    public let selector: String
    /// `rsa-sha256` or `ed25519-sha256` (RFC 6376, RFC 8463).
    public let algorithm: String
    /// As the DNS record's `p=` carries it.
    public let publicKey: Data
    public let state: DKIMKeyState
    public let createdAt: Date
    public let activatedAt: Date?
    public let retiredAt: Date?

    public init(
        id: Int64, domain: String, selector: String, algorithm: String, publicKey: Data, state: DKIMKeyState,
        createdAt: Date, activatedAt: Date?, retiredAt: Date?
    ) {
        self.id = id
        self.domain = domain
        self.selector = selector
        self.algorithm = algorithm
        self.publicKey = publicKey
        self.state = state
        self.createdAt = createdAt
        self.activatedAt = activatedAt
        self.retiredAt = retiredAt
    }
}

/// An active key with its private half, for the services that sign.
public struct DKIMSigningKeyRecord: Sendable, Equatable {
    public let domain: String
    public let selector: String
    public let algorithm: String
    public let privateKey: Data
    public let publicKey: Data

    public init(domain: String, selector: String, algorithm: String, privateKey: Data, publicKey: Data) {
        self.domain = domain
        self.selector = selector
        self.algorithm = algorithm
        self.privateKey = privateKey
        self.publicKey = publicKey
    }
}

/// A key to add, as `MailStore.createDKIMKey` checked it.
public struct NewDKIMKey: Sendable {
    public let domain: String
    public let selector: String
    public let algorithm: String
    public let privateKey: Data
    public let publicKey: Data
}

extension MailStore {
    /// The algorithms the store accepts (the CHECK constraint of both backends says the same).
    public static let dkimAlgorithms: Set<String> = ["rsa-sha256", "ed25519-sha256"]

    /// Adds a `pending` key for a local domain. A selector is one or more DNS labels (RFC 6376 §3.1).
    public func createDKIMKey(
        domain: String, selector: String, algorithm: String, privateKey: Data, publicKey: Data, now: Date = Date(),
        audit: AuditActor? = nil
    ) async throws(MailStoreError) -> StoredDKIMKey {
        let selector = selector.lowercased()
        guard Self.isSelector(selector) else {
            throw .invalidArgument("a selector is DNS labels of letters, digits and hyphens, at most 63 octets each")
        }
        guard Self.dkimAlgorithms.contains(algorithm) else { throw .invalidArgument("unknown algorithm \(algorithm)") }
        return try await self.directory.insertDKIMKey(
            NewDKIMKey(
                domain: domain.lowercased(), selector: selector, algorithm: algorithm, privateKey: privateKey,
                publicKey: publicKey),
            now: now, audit: audit)
    }

    /// The domain's keys, by selector.
    public func dkimKeys(domain: String) async throws(MailStoreError) -> [StoredDKIMKey] {
        try await self.directory.dkimKeys(domain: domain.lowercased())
    }

    /// Makes a key sign. The domain's other active key of the same algorithm, if any, is retired in the
    /// same transaction, so a rotation never leaves a moment without a signature or with two.
    public func activateDKIMKey(domain: String, selector: String, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> StoredDKIMKey
    {
        try await self.directory.changeDKIMKeyState(
            domain: domain.lowercased(), selector: selector.lowercased(), to: .active, now: now, audit: audit)
    }

    /// Stops a key signing; its record should stay published until mail signed with it has arrived.
    public func retireDKIMKey(domain: String, selector: String, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError) -> StoredDKIMKey
    {
        try await self.directory.changeDKIMKeyState(
            domain: domain.lowercased(), selector: selector.lowercased(), to: .retired, now: now, audit: audit)
    }

    /// Deletes a key that does not sign (pending or retired) with its private half.
    public func deleteDKIMKey(domain: String, selector: String, now: Date = Date(), audit: AuditActor? = nil)
        async throws(MailStoreError)
    {
        try await self.directory.deleteDKIMKey(
            domain: domain.lowercased(), selector: selector.lowercased(), now: now, audit: audit)
    }

    /// The active keys of a domain, private halves included: what signing mail from it uses.
    public func dkimSigningKeys(domain: String) async throws(MailStoreError) -> [DKIMSigningKeyRecord] {
        try await self.directory.dkimSigningKeys(domain: domain.lowercased())
    }

    static func isSelector(_ selector: String) -> Bool {
        guard !selector.isEmpty, selector.utf8.count <= 200 else { return false }
        return selector.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        }
    }
}
