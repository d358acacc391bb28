import MailDNS
import MailStore
import NIOCore
import ServerSupport
import ServiceHost
import SMTPProtocol

/// `estafeta-smtp`: the MX listener, submission (STARTTLS) and submissions (implicit TLS).
///
/// Implemented so far: the MX receive path (EHLO/HELO, MAIL, RCPT to local domains only, DATA with
/// durable acceptance, RSET, NOOP, VRFY, HELP, QUIT; PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
/// ENHANCEDSTATUSCODES, DSN parameters, STARTTLS) and submission with AUTH PLAIN/LOGIN over TLS and
/// sender ownership (envelope and `From:`), and BDAT/CHUNKING; per-network login penalties, a
/// pregreet check and a minimum content rate.
public enum SMTPIngressService {
    public static func make(_ environment: ServiceEnvironment) throws -> ServiceBundle {
        let settings = environment.settings
        // Mail authentication look-ups: short enough that a silent DNS server cannot hold a message's
        // reply until the client gives up (RFC 5321 §4.5.3.2.6 gives it 10 minutes).
        let dns = try DNSResolver(server: settings.relayDNSServer.isEmpty ? nil : settings.relayDNSServer, timeout: .seconds(8))
        let limits = SMTPSessionStateMachine.Limits(
            maximumMessageSize: settings.smtpMaximumMessageBytes, maximumRecipients: settings.smtpMaximumRecipients,
            maximumErrors: settings.smtpMaximumErrors)
        let maximumLineLength = settings.maximumLineLength
        func listener(
            _ name: String, _ address: EstafetaSettings.Listener, tls: Bool, kind: SMTPSessionStateMachine.Listener
        ) -> ProtocolServer<SMTPInbound, SMTPOutbound> {
            let session = SMTPSession(
                store: environment.store, hostname: settings.hostname, listener: kind, limits: limits, implicitTLS: tls,
                startTLSAvailable: !tls, plaintextAuthAllowed: settings.smtpAllowPlaintextAuth,
                login: environment.passwordLogin, maximumAuthFailures: settings.smtpMaximumAuthFailures,
                maximumHeaderBytes: settings.smtpMaximumHeaderBytes,
                greetingDelay: kind == .mx ? settings.smtpGreetingDelay : .zero,
                signer: DKIMDomainSigner(store: environment.store, signatureLifetime: settings.dkimSignatureLifetime),
                inbound: kind == .mx && settings.smtpVerifyInbound ? InboundAuthentication(
                    authservID: settings.hostname, dns: dns,
                    quarantineInsteadOfReject: Set(settings.dmarcQuarantineInsteadOfReject),
                    rejectSPFFail: settings.spfRejectFail) : nil)
            let dataRate = SMTPServerChannelHandler.DataRate(
                grace: .nanoseconds(Int64(settings.idleTimeout.components.seconds) * 1_000_000_000),
                minimumRate: settings.smtpMinimumDataRate)
            let tlsContext = environment.tlsContext
            return environment.protocolServer(
                name: name, on: address, implicitTLS: tls,
                idleTimeoutReply: "421 4.4.2 \(settings.hostname) Idle timeout, closing connection\r\n",
                framing: { pipeline in
                    try pipeline.addHandler(
                        SMTPServerChannelHandler(
                            maximumLineLength: maximumLineLength, tlsContext: tls ? nil : tlsContext,
                            maximumChunkBytes: limits.maximumMessageSize + 1, dataRate: dataRate,
                            linePace: TransferPace(grace: settings.idleTimeout, minimumRate: settings.minimumDataRate),
                            tlsHandshakeTimeout: settings.tlsHandshakeTimeout))
                },
                overLimitMessage: .replyAndClose(
                    SMTPReply(421, "4.7.0", "\(settings.hostname) Too many connections, try again later"))
            ) { connection in
                try await session.run(on: connection)
            }
        }
        let servers = [
            listener("smtp", settings.smtp, tls: false, kind: .mx),
            listener("submission", settings.submission, tls: false, kind: .submission),
            listener("submissions", settings.submissions, tls: true, kind: .submission),
        ]
        return ServiceBundle(name: "smtp", services: servers, listeners: servers.map(\.announced))
    }
}
