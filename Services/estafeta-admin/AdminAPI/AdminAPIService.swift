import Foundation
import Hummingbird
import Logging
import MailStore
import NIOCore
import ServerSupport
import ServiceHost

/// `estafeta-admin`: the HTTP admin API (Hummingbird 2).
///
/// Foundation stage: `/healthz`, `/readyz` and `/metrics`; the `/api/v1` resources are the admin API
/// issue.
public enum AdminAPIService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        let bound = OneShotValue<SocketAddress>()
        let application = Self.application(
            store: environment.store, listener: environment.settings.admin, logger: environment.logger
        ) { address in bound.succeed(address) }
        return ServiceBundle(
            name: "admin", services: [application],
            listeners: [AnnouncedListener(name: "admin") { try await bound.value }])
    }

    static func application(
        store: MailStore, listener: EstafetaSettings.Listener, logger: Logger,
        onBound: @escaping @Sendable (SocketAddress) -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        OpsRoutes.register(on: router, serviceNames: ["admin"])
        router.get("/readyz") { _, _ -> Response in
            let ready = await store.isReady()
            let body =
                ready
                ? #"{"status":"ready"}"#
                : #"{"type":"https://estafeta.dev/problems/not-ready","title":"Database not ready","status":503}"#
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                headers: [.contentType: ready ? "application/json" : "application/problem+json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(listener.host, port: listener.port)),
            onServerRunning: { channel in
                if let address = channel.localAddress { onBound(address) }
            },
            logger: logger)
    }
}
