import AsyncHTTPClient
import Foundation
import MailDNS
import NIOCore
import NIOPosix
import NIOSSL

/// HTTPS requests to hosts found through the relay's own resolver (the DNS server it is configured
/// with, not the system's), each certificate verified for the host's name: for MTA-STS policies
/// (RFC 8461 §3.3) and TLS reports (RFC 8460 §5.4). Redirects are never followed.
struct ResolvedHTTPS: Sendable {
    let resolver: DNSResolver
    let tlsConfiguration: TLSConfiguration

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends `request` (to `https://host…`) and hands the response to `read`, which must consume what it
    /// needs of the body before it returns; the connection is closed afterwards.
    func perform<Value: Sendable>(
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
