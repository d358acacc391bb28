import IMAPProtocol
import MailStore
import NIOCore
import ServerSupport
import ServiceHost

/// `estafeta-imap`: IMAP with STARTTLS and IMAPS with implicit TLS (RFC 9051, RFC 3501, RFC 8314),
/// serving each account's mailboxes from the shared store.
public enum IMAPGatewayService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        let settings = environment.settings
        let watcher = IMAPChangeWatcher(store: environment.store, logger: environment.logger)
        let userConnections = IMAPUserConnections(maximum: settings.imapMaximumConnectionsPerUser)
        func listener(_ name: String, _ address: EstafetaSettings.Listener, tls: Bool) -> ProtocolServer<IMAPFrame, IMAPOutput> {
            let session = IMAPSession(
                store: environment.store, implicitTLS: tls, plaintextAuthAllowed: settings.imapAllowPlaintextAuth,
                login: environment.passwordLogin, maximumAuthFailures: settings.imapMaximumAuthFailures,
                appendLimit: settings.imapAppendLimit, streamedMessageBytes: Int64(settings.imapStreamedMessageBytes),
                idleKeepalive: settings.imapIdleKeepalive, watcher: watcher, userConnections: userConnections,
                logger: environment.logger)
            let tlsContext = environment.tlsContext
            let limits = IMAPFramingLimits(
                maximumLineLength: max(settings.maximumLineLength, 8192), maximumLiteralSize: settings.imapAppendLimit,
                maximumCommandSize: settings.imapAppendLimit + 1024 * 1024,
                streamedLiteralSize: ContentUploadWriter.pieceBytes)
            return environment.protocolServer(
                name: name, on: address, implicitTLS: tls,
                // RFC 9051 §5.4: the autologout timer is at least 30 minutes (the default).
                idleTimeout: settings.imapIdleTimeout,
                idleTimeoutReply: String(buffer: IMAPResponseEncoder.bye("Idle timeout, closing connection")),
                framing: { pipeline in
                    try pipeline.addHandler(
                        IMAPChannelHandler(
                            limits: limits, tlsContext: tls ? nil : tlsContext,
                            pace: TransferPace(grace: settings.idleTimeout, minimumRate: settings.minimumDataRate),
                            tlsHandshakeTimeout: settings.tlsHandshakeTimeout))
                },
                overLimitMessage: .sendAndClose(IMAPResponseEncoder.bye("Too many connections, try again later", code: .unavailable))
            ) { connection in
                try await session.run(on: connection)
            }
        }
        let servers = [listener("imap", settings.imap, tls: false), listener("imaps", settings.imaps, tls: true)]
        return ServiceBundle(name: "imap", services: servers, listeners: servers.map(\.announced))
    }
}
