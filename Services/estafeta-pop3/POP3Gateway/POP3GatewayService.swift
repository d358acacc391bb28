import NIOCore
import ServerSupport
import ServiceHost

/// `estafeta-pop3`: POP3 (STLS) and POP3S (implicit TLS).
///
/// Foundation stage: greets, answers NOOP and QUIT, refuses the rest with `-ERR`; RFC 1939 itself is
/// the POP3 gateway issue.
public enum POP3GatewayService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        let settings = environment.settings
        func listener(_ name: String, _ address: EstafetaSettings.Listener, tls: Bool) -> ProtocolServer<InboundLine, ByteBuffer> {
            environment.lineProtocolServer(
                name: name, on: address, implicitTLS: tls, overLimitReply: "-ERR [SYS/TEMP] Too many connections, try again later\r\n", idleTimeoutReply: "-ERR Idle timeout, closing connection\r\n"
            ) { connection in
                try await Self.session.run(on: connection)
            }
        }
        let servers = [listener("pop3", settings.pop3, tls: false), listener("pop3s", settings.pop3s, tls: true)]
        return ServiceBundle(name: "pop3", services: servers, listeners: servers.map(\.announced))
    }

    static let session = LineSession(
        greeting: "+OK Estafeta POP3 server ready\r\n",
        shutdownReply: "-ERR [SYS/TEMP] Server shutting down\r\n"
    ) { line in
        guard case .line(let bytes) = line else { return .reply("-ERR Line too long\r\n") }
        let verb = String(buffer: bytes).split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
        switch verb {
        case "QUIT": return .replyAndClose("+OK Bye\r\n")
        case "NOOP": return .reply("+OK\r\n")
        default: return .reply("-ERR Command not implemented yet\r\n")
        }
    }
}
