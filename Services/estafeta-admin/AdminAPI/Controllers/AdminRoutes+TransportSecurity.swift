import Foundation
import Hummingbird
import MailAuth
import MailStore
import NIOCore

/// What a local domain asks of the servers that send it mail: its MTA-STS policy (RFC 8461) and the
/// addresses for TLS reports about it (RFC 8460). The policy is served for `mta-sts.<domain>` at
/// `/.well-known/mta-sts.txt` by this service (behind the operator's HTTPS front end), and the DNS
/// check lists the `_mta-sts` and `_smtp._tls` records to publish with it.
extension AdminRoutes {
    @Sendable func getTransportSecurity(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let domain = try request.pathParameter("domain", context: context).lowercased()
        let policy = try await self.store.domainTransportPolicy(domain: domain)
        return try JSONResponse.make(TransportSecurityRepresentation(domain: domain, policy, mailHostname: self.mailHostname))
    }

    /// Changes the fields given and keeps the others.
    @Sendable func updateTransportSecurity(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let domain = try request.pathParameter("domain", context: context).lowercased()
        let body = try await JSONRequestBody.read(
            request, context: context, maximumBytes: self.maximumBodyBytes,
            allowedFields: ["mtaStsMode", "mtaStsMaxAgeSeconds", "mtaStsMx", "tlsReportAddresses"])
        var policy = try await self.store.domainTransportPolicy(domain: domain)
        if let modeName = try body.optionalString("mtaStsMode") {
            guard let mode = DomainTransportPolicy.Mode(rawValue: modeName) else {
                throw ProblemDetails.invalidField("mtaStsMode", "mtaStsMode must be none, testing or enforce")
            }
            policy.mtaSTSMode = mode
        }
        if let maxAge = try body.optionalInteger("mtaStsMaxAgeSeconds") {
            guard (1...MTASTSPolicy.maximumAge).contains(maxAge) else {
                throw ProblemDetails.invalidField(
                    "mtaStsMaxAgeSeconds", "mtaStsMaxAgeSeconds must be from 1 to \(MTASTSPolicy.maximumAge) (a year)")
            }
            policy.mtaSTSMaxAge = maxAge
        }
        if let patterns = try body.optionalStringArray("mtaStsMx") {
            if let bad = patterns.first(where: { !MTASTSPolicy.isPattern($0) }) {
                throw ProblemDetails.invalidField(
                    "mtaStsMx", "\(bad) is not a host name or *. and a host name (RFC 8461 §3.2)")
            }
            policy.mtaSTSMX = patterns
        }
        if let addresses = try body.optionalStringArray("tlsReportAddresses") {
            // Each must be a URI that senders will use (RFC 8460 §3): mailto: with an address, or https:.
            if let bad = addresses.first(where: {
                $0.contains(where: { $0.isWhitespace || $0 == "," || $0 == ";" })
                    || TLSRPTRecord(parsing: "v=TLSRPTv1; rua=\($0)")?.destinations.count != 1
            }) {
                throw ProblemDetails.invalidField(
                    "tlsReportAddresses", "\(bad) is not a mailto: address or an https: URL (RFC 8460 §3)")
            }
            guard addresses.count <= 5 else {
                throw ProblemDetails.invalidField("tlsReportAddresses", "at most 5 report addresses")
            }
            policy.tlsReportAddresses = addresses
        }
        let stored = try await self.store.setDomainTransportPolicy(domain: domain, policy, audit: context.auditActor)
        return try JSONResponse.make(TransportSecurityRepresentation(domain: domain, stored, mailHostname: self.mailHostname))
    }
}

extension DomainTransportPolicy {
    /// The MTA-STS policy to serve; an empty `mx` list stands for the suite's host name.
    func mtaSTSPolicy(mailHostname: String) -> MTASTSPolicy {
        MTASTSPolicy(
            mode: MTASTSPolicy.Mode(rawValue: self.mtaSTSMode.rawValue) ?? .none,
            mx: self.mtaSTSMode == .none ? [] : (self.mtaSTSMX.isEmpty ? [mailHostname] : self.mtaSTSMX),
            maxAge: self.mtaSTSMaxAge)
    }

    /// Whether the domain was ever given a policy: only then is one served (a `none` policy too, which
    /// is how a domain tells senders to forget an earlier one, RFC 8461 §8.3).
    var isConfigured: Bool { self.updatedAt != nil }
}

/// `GET /.well-known/mta-sts.txt` for `Host: mta-sts.<domain>` (RFC 8461 §3.3): the domain's policy
/// as `text/plain`, without authentication (it is public), 404 for a host that is not a configured
/// local domain's policy host.
enum MTASTSPolicyRoute {
    static let path = "/.well-known/mta-sts.txt"

    static func respond(_ request: Request, store: MailStore, mailHostname: String) async throws -> Response {
        guard let policy = try await Self.policy(host: request.head.authority ?? "", store: store) else {
            throw ProblemDetails(.notFound, "no-mta-sts-policy", "This host serves no MTA-STS policy")
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: policy.mtaSTSPolicy(mailHostname: mailHostname).text)))
    }

    /// The configured policy of the local domain whose policy host `authority` names, if any.
    static func policy(host authority: String, store: MailStore) async throws(MailStoreError) -> DomainTransportPolicy? {
        let host = HostCheckMiddleware.hostName(authority)
        guard host.hasPrefix("mta-sts."), host.count > 8 else { return nil }
        do {
            let policy = try await store.domainTransportPolicy(domain: String(host.dropFirst(8)))
            return policy.isConfigured ? policy : nil
        } catch .unknownDomain {
            return nil
        }
    }
}

struct TransportSecurityRepresentation: Encodable, Sendable {
    let domain: String
    let mtaStsMode: String
    let mtaStsMaxAgeSeconds: Int
    /// As set; empty means the suite's host name.
    let mtaStsMx: [String]
    /// The policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt, nil while none is.
    let mtaStsPolicy: String?
    /// The id to publish in `_mta-sts.<domain>`: it changes whenever the policy does.
    let mtaStsId: String?
    let tlsReportAddresses: [String]
    let updatedAt: Date?

    init(domain: String, _ policy: DomainTransportPolicy, mailHostname: String) {
        self.domain = domain
        self.mtaStsMode = policy.mtaSTSMode.rawValue
        self.mtaStsMaxAgeSeconds = policy.mtaSTSMaxAge
        self.mtaStsMx = policy.mtaSTSMX
        let served = policy.isConfigured ? policy.mtaSTSPolicy(mailHostname: mailHostname) : nil
        self.mtaStsPolicy = served?.text
        self.mtaStsId = served?.digestID
        self.tlsReportAddresses = policy.tlsReportAddresses
        self.updatedAt = policy.updatedAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.domain, forKey: .domain)
        try container.encode(self.mtaStsMode, forKey: .mtaStsMode)
        try container.encode(self.mtaStsMaxAgeSeconds, forKey: .mtaStsMaxAgeSeconds)
        try container.encode(self.mtaStsMx, forKey: .mtaStsMx)
        try container.encode(self.mtaStsPolicy, forKey: .mtaStsPolicy)
        try container.encode(self.mtaStsId, forKey: .mtaStsId)
        try container.encode(self.tlsReportAddresses, forKey: .tlsReportAddresses)
        try container.encode(self.updatedAt, forKey: .updatedAt)
    }
    enum CodingKeys: String, CodingKey {
        case domain, mtaStsMode, mtaStsMaxAgeSeconds, mtaStsMx, mtaStsPolicy, mtaStsId, tlsReportAddresses, updatedAt
    }
}
