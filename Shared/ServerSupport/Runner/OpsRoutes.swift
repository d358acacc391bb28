import Foundation
import Hummingbird
import Logging
import NIOCore

/// `/healthz` and `/metrics`, served by every executable so that each can be probed and scraped
/// when it runs (and is scaled) on its own; protocol executables add `/readyz` (`OpsHTTPServer`).
public enum OpsRoutes {
    /// `/readyz`: 200 while `ready` says so, 503 otherwise (the database unreachable or short of space),
    /// so that a load balancer or orchestrator stops sending new work to this process.
    public static func registerReadiness<Context: RequestContext>(
        on router: Router<Context>, ready: @escaping @Sendable () async -> Bool
    ) {
        router.get("/readyz") { _, _ -> Response in
            let isReady = await ready()
            let body = isReady ? #"{"status":"ready"}"# : #"{"status":"not ready"}"#
            return Response(
                status: isReady ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
    }

    public static func register<Context: RequestContext>(on router: Router<Context>, serviceNames: [String]) {
        router.get("/healthz") { _, _ -> Response in
            let body: [String: Any] = ["status": "ok", "services": serviceNames]
            let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: Observability.renderMetrics())))
        }
    }
}

/// The ops HTTP listener of a protocol executable: `/healthz`, `/readyz` and `/metrics`.
public struct OpsHTTPServer: Sendable {
    public let application: Application<RouterResponder<BasicRequestContext>>
    private let bound: OneShotValue<SocketAddress>

    public init(
        listener: EstafetaSettings.Listener, serviceNames: [String], logger: Logger, ready: @escaping @Sendable () async -> Bool
    ) {
        let router = Router()
        OpsRoutes.register(on: router, serviceNames: serviceNames)
        OpsRoutes.registerReadiness(on: router, ready: ready)
        let bound = OneShotValue<SocketAddress>()
        self.bound = bound
        self.application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(listener.host, port: listener.port)),
            onServerRunning: { channel in
                if let address = channel.localAddress { bound.succeed(address) }
            },
            logger: logger)
    }

    public var boundAddress: SocketAddress {
        get async throws { try await self.bound.value }
    }
}
