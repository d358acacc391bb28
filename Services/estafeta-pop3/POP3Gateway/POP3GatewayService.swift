import NIOCore
import POP3Protocol
import ServerSupport
import ServiceHost

/// `estafeta-pop3`: POP3 with STLS and POP3S with implicit TLS (RFC 1939, 2449, 2595, 5034, 8314),
/// serving each account's INBOX as its maildrop.
public enum POP3GatewayService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        let settings = environment.settings
        func listener(_ name: String, _ address: EstafetaSettings.Listener, tls: Bool) -> ProtocolServer<InboundLine, CommandLineOutput> {
            let session = POP3Session(
                store: environment.store, implicitTLS: tls, plaintextAuthAllowed: settings.pop3AllowPlaintextAuth,
                login: environment.passwordLogin, maximumAuthFailures: settings.pop3MaximumAuthFailures,
                maximumErrors: settings.pop3MaximumErrors, lockDuration: settings.pop3LockDuration)
            let tlsContext = environment.tlsContext
            let maximumLineLength = settings.maximumLineLength
            return environment.protocolServer(
                name: name, on: address, implicitTLS: tls,
                // RFC 1939 §3: the autologout timer is at least 10 minutes (the default).
                idleTimeout: settings.pop3IdleTimeout,
                idleTimeoutReply: String(decoding: POP3Response.err("Idle timeout, closing connection"), as: UTF8.self),
                framing: { pipeline in
                    try pipeline.addHandler(
                        CommandLineChannelHandler(
                            maximumLineLength: maximumLineLength, tlsContext: tls ? nil : tlsContext,
                            overflowReply: String(decoding: POP3Response.err("Too much pipelined input, closing connection"), as: UTF8.self),
                            tlsHandshakeTimeout: settings.tlsHandshakeTimeout,
                            pace: TransferPace(grace: settings.idleTimeout, minimumRate: settings.minimumDataRate),
                            slowReply: String(decoding: POP3Response.err("Command arrives too slowly, closing connection"), as: UTF8.self)))
                },
                overLimitMessage: .sendAndClose(
                    ByteBuffer(bytes: POP3Response.err("Too many connections, try again later", code: .systemTemporary)))
            ) { connection in
                try await session.run(on: connection)
            }
        }
        let servers = [listener("pop3", settings.pop3, tls: false), listener("pop3s", settings.pop3s, tls: true)]
        return ServiceBundle(name: "pop3", services: servers, listeners: servers.map(\.announced))
    }
}
