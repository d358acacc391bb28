import NIOCore
import ServerSupport
import ServiceHost

/// `estafeta-smtp`: the MX listener, submission (STARTTLS) and submissions (implicit TLS).
///
/// Foundation stage: each listener greets, answers NOOP and QUIT, and refuses every other command
/// with `502 5.5.1`; the SMTP protocol itself (EHLO, MAIL, RCPT, DATA, AUTH, STARTTLS) is the SMTP
/// ingress issue.
public enum SMTPIngressService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        let settings = environment.settings
        func listener(_ name: String, _ address: EstafetaSettings.Listener, tls: Bool) -> ProtocolServer {
            environment.lineProtocolServer(
                name: name, on: address, implicitTLS: tls,
                overLimitReply: "421 4.7.0 \(settings.hostname) Too many connections, try again later\r\n",
                idleTimeoutReply: "421 4.4.2 \(settings.hostname) Idle timeout, closing connection\r\n"
            ) { connection in
                try await Self.session(hostname: settings.hostname).run(on: connection)
            }
        }
        let servers = [
            listener("smtp", settings.smtp, tls: false),
            listener("submission", settings.submission, tls: false),
            listener("submissions", settings.submissions, tls: true),
        ]
        return ServiceBundle(name: "smtp", services: servers, listeners: servers.map(\.announced))
    }

    static func session(hostname: String) -> LineSession {
        LineSession(
            greeting: "220 \(hostname) ESMTP Estafeta\r\n",
            shutdownReply: "421 4.3.2 \(hostname) Service shutting down\r\n"
        ) { line in
            guard case .line(let bytes) = line else { return .reply("500 5.5.2 Line too long\r\n") }
            let verb = String(buffer: bytes).split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
            switch verb {
            case "QUIT": return .replyAndClose("221 2.0.0 \(hostname) Bye\r\n")
            case "NOOP": return .reply("250 2.0.0 OK\r\n")
            default: return .reply("502 5.5.1 Command not implemented yet\r\n")
            }
        }
    }
}
