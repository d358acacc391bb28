import Credentials
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MailStore
import NIOCore
import Synchronization

/// Turns every error thrown below it into an RFC 9457 problem response, and logs server-side failures
/// with their details (which never reach the client).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let problem as ProblemDetails {
            throw problem
        } catch let error as MailStoreError {
            let problem = ProblemDetails(error)
            if problem.status.code >= 500 {
                context.logger.error("store failure", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
            throw problem
        } catch let error as HTTPError {
            throw ProblemDetails(error)
        } catch is NIOTooManyBytesError {
            throw ProblemDetails(.contentTooLarge, "body-too-large", "The request body is too large")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw ProblemDetails(.internalServerError, "internal-error", "Internal error")
        }
    }
}

/// Answers only to the expected Host names, so that a web page cannot reach a loopback-bound admin
/// API through DNS rebinding. No CORS headers are ever sent.
struct HostCheckMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    /// Lower-cased names without port; nil accepts any host.
    let allowed: Set<String>?

    init(settingsAllowed: [String], listenerHost: String) {
        if !settingsAllowed.isEmpty {
            self.allowed = Set(settingsAllowed.map { $0.lowercased() })
        } else if ["127.0.0.1", "::1", "localhost"].contains(listenerHost) || listenerHost.hasPrefix("127.") {
            self.allowed = ["localhost", "127.0.0.1", "[::1]", "::1", listenerHost.lowercased()]
        } else {
            self.allowed = nil
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        // A request without Host (HTTP/1.0 tools) cannot come from a rebinding browser page.
        // MTA-STS policies are public and answered for their own host names (`mta-sts.<domain>`).
        if let allowed = self.allowed, let authority = request.head.authority, !authority.isEmpty,
            request.uri.path != MTASTSPolicyRoute.path
        {
            let host = Self.hostName(authority)
            guard allowed.contains(host) else {
                throw ProblemDetails(
                    .misdirectedRequest, "unexpected-host", "This server does not answer for that host name",
                    detail: "set admin.allowedHosts to reach the admin API under other names")
            }
        }
        return try await next(request, context)
    }

    /// `Example.org:8080` → `example.org`; `[::1]:8080` → `[::1]`.
    static func hostName(_ authority: String) -> String {
        let lower = authority.lowercased()
        if lower.hasPrefix("["), let close = lower.firstIndex(of: "]") { return String(lower[...close]) }
        return String(lower.split(separator: ":", maxSplits: 1).first ?? "")
    }
}

/// Counts failed authentications per client address in a sliding window; over the limit, further
/// attempts get 429 without even looking at the token.
final class AuthFailureLimiter: Sendable {
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])
    let limit: Int
    let window: Duration

    init(limit: Int = 10, window: Duration = .seconds(60)) {
        self.limit = limit
        self.window = window
    }

    /// nil when the address may try; otherwise how long it must wait.
    func retryAfter(_ address: String, now: ContinuousClock.Instant = .now) -> Duration? {
        self.failures.withLock { failures in
            let recent = (failures[address] ?? []).filter { now - $0 < self.window }
            failures[address] = recent.isEmpty ? nil : recent
            guard recent.count >= self.limit, let oldest = recent.first else { return nil }
            return self.window - (now - oldest)
        }
    }

    func recordFailure(_ address: String, now: ContinuousClock.Instant = .now) {
        self.failures.withLock { failures in
            failures[address, default: []].append(now)
            // Bound the table: forget the oldest addresses when it grows past 10,000.
            if failures.count > 10_000, let key = failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key {
                failures[key] = nil
            }
        }
    }
}

/// `Authorization: Bearer <token>` on every route below it: 401 without a valid token, 403 for a
/// read-only token on anything but GET/HEAD, 429 after too many failures from one address.
struct BearerAuthenticationMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let store: MailStore
    let limiter: AuthFailureLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard request.headers[.authorization] != nil else {
            // No credential at all is not a guess: answer 401 without counting it.
            throw Self.unauthorized()
        }
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        if let wait = self.limiter.retryAfter(address) {
            var problem = ProblemDetails(
                .tooManyRequests, "too-many-failures", "Too many failed authentications from this address")
            problem.extraHeaders[.retryAfter] = String(max(1, wait.components.seconds))
            throw problem
        }
        guard let token = try await self.authenticate(request) else {
            self.limiter.recordFailure(address)
            context.logger.notice("admin authentication failed", metadata: ["peer": "\(address)"])
            throw Self.unauthorized()
        }
        if token.scope == .read && !(request.method == .get || request.method == .head) {
            throw ProblemDetails(
                .forbidden, "insufficient-scope", "This token may only read", detail: "token \(token.id) has scope read")
        }
        var context = context
        context.token = token
        return try await next(request, context)
    }

    static func unauthorized() -> ProblemDetails {
        var problem = ProblemDetails(.unauthorized, "unauthorized", "A valid bearer token is required")
        problem.extraHeaders[.wwwAuthenticate] = #"Bearer realm="estafeta-admin""#
        return problem
    }

    private func authenticate(_ request: Request) async throws -> StoredAdminToken? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let presented = AdminToken(presented: parts[1].trimmingCharacters(in: .whitespaces))
        guard let stored = try await self.store.adminToken(id: presented.id) else {
            // Same work as for a known id, so timing does not tell which ids exist.
            _ = presented.matches(storedHash: Data(count: 32))
            return nil
        }
        guard stored.revokedAt == nil, presented.matches(storedHash: stored.secretHash) else { return nil }
        return stored
    }
}

/// Runs only on the not-found path (it is added after every route): a path that exists with other
/// methods gets 405 with `Allow`, as RFC 9110 §15.5.6 asks, instead of 404.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    /// Full path templates (`/api/v1/accounts/:address`) with their methods.
    let routes: [(method: HTTPRequest.Method, segments: [Substring])]

    init(routes: [(method: HTTPRequest.Method, path: String)]) {
        self.routes = routes.map { ($0.method, $0.path.split(separator: "/")) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let segments = request.uri.path.split(separator: "/")
        // Like the router, a literal segment beats a parameter: /queue/flush is not /queue/:id.
        var best: (literals: Int, methods: [String]) = (-1, [])
        for route in self.routes where route.segments.count == segments.count {
            guard zip(route.segments, segments).allSatisfy({ $0.hasPrefix(":") || $0 == $1 }) else { continue }
            let literals = route.segments.filter { !$0.hasPrefix(":") }.count
            if literals > best.literals {
                best = (literals, [route.method.rawValue])
            } else if literals == best.literals {
                best.methods.append(route.method.rawValue)
            }
        }
        guard !best.methods.isEmpty else { return try await next(request, context) }
        var problem = ProblemDetails(.methodNotAllowed, "method-not-allowed", "Method not allowed")
        problem.extraHeaders[.allow] = best.methods.joined(separator: ", ")
        throw problem
    }
}
