import Credentials
import Foundation
import Hummingbird
import Logging
import MailDNS
import MailStore
import NIOCore
import ServerSupport
import ServiceHost

/// `estafeta-admin`: the HTTP admin API (Hummingbird 2), `/api/v1` plus `/healthz`, `/readyz`,
/// `/metrics` and `/openapi.json`.
public enum AdminAPIService {
    public static func make(_ environment: ServiceEnvironment) async throws -> ServiceBundle {
        try await Self.bootstrapToken(environment.settings.adminBootstrapToken, store: environment.store, logger: environment.logger)
        let bound = OneShotValue<SocketAddress>()
        let application = try Self.application(
            store: environment.store, settings: environment.settings, logger: environment.logger
        ) { address in bound.succeed(address) }
        return ServiceBundle(
            name: "admin", services: [application],
            listeners: [AnnouncedListener(name: "admin") { try await bound.value }])
    }

    /// On a first start with no tokens, `ESTAFETA_ADMIN_TOKEN` becomes the first (write) token.
    static func bootstrapToken(_ value: String?, store: MailStore, logger: Logger) async throws {
        guard let value else { return }
        let token = AdminToken(id: AdminToken.bootstrapID, secret: value)
        if try await store.bootstrapAdminToken(id: token.id, secretHash: token.secretHash) {
            logger.notice("stored ESTAFETA_ADMIN_TOKEN as the first admin token", metadata: ["token": "\(token.id)"])
        }
    }

    /// The whole HTTP application; tests drive it with HummingbirdTesting.
    public static func application(
        store: MailStore, settings: EstafetaSettings, logger: Logger,
        onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router(context: AdminRequestContext.self)
        // Request counts and durations per route, on /metrics (swift-metrics → Prometheus).
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: HostCheckMiddleware(settingsAllowed: settings.adminAllowedHosts, listenerHost: settings.admin.host))
        OpsRoutes.register(on: router, serviceNames: ["admin"])
        ConsoleRoutes.register(on: router)
        router.get("/readyz") { _, _ -> Response in
            guard await store.isReady() else {
                throw ProblemDetails(.serviceUnavailable, "not-ready", "The database is not reachable, not migrated, or short of space")
            }
            return try JSONResponse.make(["status": "ready"])
        }
        // Kept in the repository (`openapi.json` beside this file), compiled in, served as is.
        let openAPIDocument = ByteBuffer(bytes: PackageResources.openapi_json)
        router.get("/openapi.json") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: openAPIDocument))
        }
        // Local domains' MTA-STS policies, public, for the HTTPS front end that serves mta-sts.<domain>.
        router.get(RouterPath(MTASTSPolicyRoute.path)) { request, _ -> Response in
            try await MTASTSPolicyRoute.respond(request, store: store, mailHostname: settings.hostname)
        }
        let api = router.group("api/v1")
        api.add(
            middleware: BearerAuthenticationMiddleware(
                store: store, limiter: AuthFailureLimiter(limit: settings.adminMaximumAuthFailures)))
        let routes = AdminRoutes(
            store: store, minimumPasswordLength: settings.adminMinimumPasswordLength,
            maximumBodyBytes: settings.adminMaximumBodyBytes,
            newAccountMailboxes: settings.newAccountMailboxes,
            dnsCheckLookups: DNSCheckLookups(
                server: settings.relayDNSServer.isEmpty ? nil : settings.relayDNSServer,
                tlsConfiguration: ResolvedHTTPS.verifiedConfiguration(trustedCAFile: settings.relayTrustedCAFile),
                mtaSTSPort: settings.relayMTASTSPort),
            mailHostname: settings.hostname)
        routes.register(on: api)
        router.add(
            middleware: MethodNotAllowedMiddleware(
                routes: routes.routes.map { ($0.method, "/api/v1/\($0.path)") }
                    + (["/healthz", "/readyz", "/metrics", "/openapi.json", MTASTSPolicyRoute.path] + ConsoleRoutes.paths).map { (.get, $0) }))
        return Application(
            router: router,
            // Slowloris and forgotten keep-alive connections are closed.
            server: .http1(
                configuration: .init(idleTimeout: .seconds(Int64(settings.adminIdleTimeout.components.seconds)))),
            configuration: ApplicationConfiguration(
                address: .hostname(settings.admin.host, port: settings.admin.port), serverName: nil),
            onServerRunning: { channel in
                if let address = channel.localAddress { onBound(address) }
            },
            logger: logger)
    }
}
