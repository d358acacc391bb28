import Foundation
import Hummingbird
import MailAuth
import MailStore

/// A domain's DKIM keys (RFC 6376): made here, kept by the store, shown with the TXT record to publish
/// and never with their private half.
extension AdminRoutes {
    @Sendable func listDKIMKeys(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let domain = try request.pathParameter("domain", context: context).lowercased()
        let keys = try await self.store.dkimKeys(domain: domain)
        return try JSONResponse.make(Page(keys, limit: keys.count, key: \.selector, map: DKIMKeyRepresentation.init))
    }

    @Sendable func createDKIMKey(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let domain = try request.pathParameter("domain", context: context).lowercased()
        let body = try await JSONRequestBody.read(
            request, context: context, maximumBytes: self.maximumBodyBytes, allowedFields: ["selector", "algorithm", "rsaBits"])
        let selector = try body.string("selector")
        let algorithmName = try body.optionalString("algorithm") ?? DKIMAlgorithm.rsaSHA256.rawValue
        guard let algorithm = DKIMAlgorithm(rawValue: algorithmName) else {
            throw ProblemDetails.invalidField(
                "algorithm", "algorithm must be one of \(DKIMAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let rsaBits = try body.optionalInteger("rsaBits") ?? 2048
        guard [2048, 3072, 4096].contains(rsaBits) else {
            // RFC 8301 §3.2: at least 1024 bits, 2048 recommended; DNS answers past 4096 get awkward.
            throw ProblemDetails.invalidField("rsaBits", "rsaBits must be 2048, 3072 or 4096")
        }
        // Making an RSA key takes a while: not on the event loop.
        let generated = await Self.offloaded { Result { () throws(DKIMKeyPair.KeyError) in try DKIMKeyPair.generate(algorithm, rsaBits: rsaBits) } }
        guard case .success(let pair) = generated else {
            throw ProblemDetails(.internalServerError, "key-generation-failed", "The key could not be made")
        }
        let key: StoredDKIMKey
        do {
            key = try await self.store.createDKIMKey(
                domain: domain, selector: selector, algorithm: algorithm.rawValue, privateKey: pair.privateKey,
                publicKey: pair.publicKey, audit: context.auditActor)
        } catch .invalidArgument(let detail) {
            throw ProblemDetails.invalidField("selector", detail)
        } catch .dkimKeyExists(let key) {
            throw ProblemDetails(.dkimKeyExists(key), field: "selector")
        } catch {
            throw ProblemDetails(error)
        }
        return try JSONResponse.make(
            DKIMKeyRepresentation(key), status: .created, location: "/api/v1/domains/\(domain)/dkim/\(key.selector)")
    }

    @Sendable func getDKIMKey(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let (domain, selector) = try Self.dkimKeyPath(request, context: context)
        let keys = try await self.store.dkimKeys(domain: domain)
        guard let key = keys.first(where: { $0.selector == selector }) else {
            throw ProblemDetails(MailStoreError.unknownDKIMKey("\(domain)/\(selector)"))
        }
        return try JSONResponse.make(DKIMKeyRepresentation(key))
    }

    @Sendable func activateDKIMKey(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let (domain, selector) = try Self.dkimKeyPath(request, context: context)
        let key = try await self.store.activateDKIMKey(domain: domain, selector: selector, audit: context.auditActor)
        return try JSONResponse.make(DKIMKeyRepresentation(key))
    }

    @Sendable func retireDKIMKey(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let (domain, selector) = try Self.dkimKeyPath(request, context: context)
        let key = try await self.store.retireDKIMKey(domain: domain, selector: selector, audit: context.auditActor)
        return try JSONResponse.make(DKIMKeyRepresentation(key))
    }

    @Sendable func deleteDKIMKey(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let (domain, selector) = try Self.dkimKeyPath(request, context: context)
        try await self.store.deleteDKIMKey(domain: domain, selector: selector, audit: context.auditActor)
        return JSONResponse.noContent()
    }

    static func dkimKeyPath(_ request: Request, context: AdminRequestContext) throws -> (domain: String, selector: String) {
        (
            try request.pathParameter("domain", context: context).lowercased(),
            try request.pathParameter("selector", context: context).lowercased()
        )
    }

    static func offloaded<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: work()) }
        }
    }
}

/// A DKIM key with the DNS record to publish for it.
struct DKIMKeyRepresentation: Encodable, Sendable {
    struct DNSRecord: Encodable, Sendable {
        let name: String
        let type: String
        /// The whole TXT value, and the same split into character-strings of at most 255 octets, as zone
        /// files and most DNS consoles take a longer value.
        let value: String
        let strings: [String]
    }
    let selector: String
    let algorithm: String
    let state: String
    let createdAt: Date
    let activatedAt: Date?
    let retiredAt: Date?
    let dnsRecord: DNSRecord

    init(_ key: StoredDKIMKey) {
        self.selector = key.selector
        self.algorithm = key.algorithm
        self.state = key.state.rawValue
        self.createdAt = key.createdAt
        self.activatedAt = key.activatedAt
        self.retiredAt = key.retiredAt
        let pair = DKIMKeyPair(
            algorithm: DKIMAlgorithm(rawValue: key.algorithm) ?? .rsaSHA256, privateKey: Data(), publicKey: key.publicKey)
        self.dnsRecord = DNSRecord(
            name: "\(key.selector)._domainkey.\(key.domain)", type: "TXT", value: pair.dnsRecord, strings: pair.dnsRecordStrings)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.selector, forKey: .selector)
        try container.encode(self.algorithm, forKey: .algorithm)
        try container.encode(self.state, forKey: .state)
        try container.encode(self.createdAt, forKey: .createdAt)
        try container.encode(self.activatedAt, forKey: .activatedAt)
        try container.encode(self.retiredAt, forKey: .retiredAt)
        try container.encode(self.dnsRecord, forKey: .dnsRecord)
    }
    enum CodingKeys: String, CodingKey { case selector, algorithm, state, createdAt, activatedAt, retiredAt, dnsRecord }
}
