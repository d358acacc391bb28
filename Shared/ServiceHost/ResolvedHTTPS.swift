import AsyncHTTPClient
import Foundation
import MailAuth
import MailDNS
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// HTTPS requests to hosts found through the suite's own resolver (the DNS server it is configured
/// with, not the system's), each certificate verified for the host's name: for MTA-STS policies
/// (RFC 8461 §3.3) and TLS reports (RFC 8460 §5.4). Redirects are never followed.
public struct ResolvedHTTPS: Sendable {
    public let resolver: DNSResolver
    public let tlsConfiguration: TLSConfiguration

    public init(resolver: DNSResolver, tlsConfiguration: TLSConfiguration) {
        self.resolver = resolver
        self.tlsConfiguration = tlsConfiguration
    }

    /// Authenticated TLS as RFC 8461 §4.2 asks of a policy host or MX: the system's trust roots and
    /// the operator's (`trustedCAFile`, a PEM file, may be empty), the host's name checked, TLS 1.2 or later.
    public static func verifiedConfiguration(trustedCAFile: String) -> TLSConfiguration {
        var verified = TLSConfiguration.makeClientConfiguration()
        verified.certificateVerification = .fullVerification
        verified.minimumTLSVersion = .tlsv12
        if !trustedCAFile.isEmpty {
            verified.additionalTrustRoots = [.file(trustedCAFile)]
        }
        return verified
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `request` (to `https://host…`) and hands the response to `read`, which must consume what it
    /// needs of the body before it returns; the connection is closed afterwards.
    public func perform<Value: Sendable>(
        _ request: HTTPClientRequest, host: String, timeout: TimeAmount,
        _ read: (HTTPClientResponse) async throws -> Value
    ) async throws -> Value {
        let address: String
        switch await self.resolver.addresses(host) {
        case .records(let found) where !found.isEmpty: address = found[0]
        case .records, .nameDoesNotExist, .noData: throw Failure(description: "\(host) has no address")
        case .temporaryFailure(let reason): throw Failure(description: "DNS lookup of \(host) failed: \(reason)")
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: self.tlsConfiguration, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(20)))
        // The client connects to the address found here but names and verifies `host`.
        configuration.dnsOverride = [host: address]
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        do {
            let response = try await client.execute(request, timeout: timeout)
            let value = try await read(response)
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw Failure(description: "https://\(host): \(error)")
        }
    }
}

/// Fetches a domain's MTA-STS policy (RFC 8461 §3.3): GET `https://mta-sts.<domain>/.well-known/mta-sts.txt`,
/// 200 and `text/plain` required, the body bounded. Used by the relay before delivering and by the admin
/// service's DNS check of the suite's own domains.
public struct MTASTSPolicyFetcher: Sendable {
    public let https: ResolvedHTTPS
    /// The policy host's port: 443 on the Internet (tests point it at a server on loopback).
    public let port: Int
    public static let timeout: TimeAmount = .seconds(30)

    public init(https: ResolvedHTTPS, port: Int) {
        self.https = https
        self.port = port
    }

    public static func url(domain: String, port: Int = 443) -> String {
        "https://mta-sts.\(domain)\(port == 443 ? "" : ":\(port)")/.well-known/mta-sts.txt"
    }

    public func fetch(_ domain: String) async -> Result<MTASTSPolicy, ResolvedHTTPS.Failure> {
        let host = "mta-sts.\(domain)"
        let request = HTTPClientRequest(url: Self.url(domain: domain, port: self.port))
        do {
            return try await self.https.perform(request, host: host, timeout: Self.timeout) { response in
                if response.status != .ok {
                    return .failure(ResolvedHTTPS.Failure(description: "https://\(host) answered \(response.status.code)"))
                }
                if let type = response.headers.first(name: "Content-Type"),
                    type.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() != "text/plain"
                {
                    return .failure(ResolvedHTTPS.Failure(description: "https://\(host) served \(type), not text/plain"))
                }
                let body = try await response.body.collect(upTo: MTASTSPolicy.maximumBytes)
                do {
                    return .success(try MTASTSPolicy(parsing: Array(body.readableBytesView)))
                } catch {
                    return .failure(ResolvedHTTPS.Failure(description: "\(error)"))
                }
            }
        } catch let failure as ResolvedHTTPS.Failure {
            return .failure(failure)
        } catch {
            return .failure(ResolvedHTTPS.Failure(description: "\(error)"))
        }
    }
}
