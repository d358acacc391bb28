import NIOCore
import ServerSupport
import ServiceHost

/// `estafeta-imap`: IMAP (STARTTLS) and IMAPS (implicit TLS).
///
/// Foundation stage: greets, answers CAPABILITY, NOOP and LOGOUT, refuses the rest with a tagged BAD;
/// IMAP4rev2/rev1 itself is the IMAP gateway issue.
public enum IMAPGatewayService {
    public static func make(_ environment: ServiceEnvironment) -> ServiceBundle {
        let settings = environment.settings
        func listener(_ name: String, _ address: EstafetaSettings.Listener, tls: Bool) -> ProtocolServer<InboundLine, ByteBuffer> {
            environment.lineProtocolServer(
                name: name, on: address, implicitTLS: tls, overLimitReply: "* BYE [UNAVAILABLE] Too many connections, try again later\r\n", idleTimeoutReply: "* BYE Idle timeout, closing connection\r\n"
            ) { connection in
                try await Self.session.run(on: connection)
            }
        }
        let servers = [listener("imap", settings.imap, tls: false), listener("imaps", settings.imaps, tls: true)]
        return ServiceBundle(name: "imap", services: servers, listeners: servers.map(\.announced))
    }

    static let capabilities = "IMAP4rev2 IMAP4rev1"

    static let session = LineSession(
        greeting: "* OK [CAPABILITY \(capabilities)] Estafeta IMAP server ready\r\n",
        shutdownReply: "* BYE Server shutting down\r\n"
    ) { line in
        guard case .line(let bytes) = line else { return .reply("* BAD Line too long\r\n") }
        let words = String(buffer: bytes).split(separator: " ", maxSplits: 2)
        guard words.count >= 2 else { return .reply("* BAD Missing tag or command\r\n") }
        let tag = words[0]
        // RFC 9051 tag: ASTRING-CHAR except "+"; a tag we cannot echo safely gets an untagged BAD.
        guard tag.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "+") }) else {
            return .reply("* BAD Invalid tag\r\n")
        }
        switch words[1].uppercased() {
        case "LOGOUT": return .replyAndClose("* BYE Logging out\r\n\(tag) OK LOGOUT completed\r\n")
        case "NOOP": return .reply("\(tag) OK NOOP completed\r\n")
        case "CAPABILITY": return .reply("* CAPABILITY \(capabilities)\r\n\(tag) OK CAPABILITY completed\r\n")
        default: return .reply("\(tag) BAD Command not implemented yet\r\n")
        }
    }
}
