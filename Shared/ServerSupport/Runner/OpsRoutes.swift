import Foundation
import Hummingbird
import Logging
import NIOCore

/// `/healthz` and `/metrics`, served by every executable so that each can be probed and scraped
/// when it runs (and is scaled) on its own.
public enum OpsRoutes {
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

/// The ops HTTP listener of a protocol executable: `/healthz` and `/metrics` only.
public struct OpsHTTPServer: Sendable {
    public let application: Application<RouterResponder<BasicRequestContext>>
    private let bound: OneShotValue<SocketAddress>

    public init(listener: EstafetaSettings.Listener, serviceNames: [String], logger: Logger) {
        let router = Router()
        OpsRoutes.register(on: router, serviceNames: serviceNames)
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
