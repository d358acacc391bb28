import Foundation
import Logging
import MailFormat
import NIOCore
import NIOPosix
import NIOSSL
import ServerSupport
import SMTPProtocol
import Synchronization

/// What happened to one recipient in a relay attempt.
enum RecipientOutcome: Sendable, Equatable {
    case delivered(String)
    case deferred(String)
    case bounced(String)

    /// The outcome a reply means: 2xx delivered, 4xx deferred, 5xx bounced.
    init(_ response: SMTPResponse, context: String) {
        let text = "\(response) (\(context))"
        if response.isPositive {
            self = .delivered(text)
        } else if response.isPermanent {
            self = .bounced(text)
        } else {
            self = .deferred(text)
        }
    }
}

/// One message to one host.
struct RelayEnvelope: Sendable {
    struct Recipient: Sendable {
        var address: String
        /// RFC 3461 NOTIFY (`SUCCESS,DELAY`, `NEVER`) and ORCPT (`rfc822;address`) as received.
        var notify: String? = nil
        var originalRecipient: String? = nil
    }

    var sender: String?
    var recipients: [Recipient]
    var content: RelayContent
    /// Needs SMTPUTF8 (RFC 6531): an address is not ASCII.
    var needsSMTPUTF8: Bool
    /// RFC 3461 ENVID and RET, as received.
    var envelopeID: String? = nil
    var returnContent: String? = nil
}

/// Per-recipient outcomes of one transaction, and whether the host offered DSN and so took over the
/// notices the recipients asked for (RFC 3461 §5.2.2: no "relayed" notice is due from us).
struct RelayTransaction: Sendable {
    var outcomes: [RecipientOutcome]
    var dsnHandedOn: Bool
}

/// An SMTP client transaction with one remote host (RFC 5321, as a client): greeting, EHLO,
/// opportunistic STARTTLS (RFC 3207), AUTH at a smarthost (RFC 4954), MAIL with SIZE/BODY/SMTPUTF8,
/// RCPTs (pipelined when offered, RFC 2920), BDAT when offered (RFC 3030) or DATA, QUIT. The result is
/// per recipient, or a `HostFailure` when the host could not be used at all (connection, greeting,
/// TLS or login failed), so the caller tries the next host.
struct SMTPClientSession: Sendable {
    let hostname: String
    let tlsContext: NIOSSLContext?
    /// For hosts whose domain's MTA-STS policy is enforced: certificates verified against the trust
    /// roots and the MX host's name, TLS 1.2 or later (RFC 8461 §4.2).
    let verifiedTLSContext: NIOSSLContext?
    let requireTLS: Bool
    /// Counts TLS sessions with hosts under a policy, for TLS reports (RFC 8460); nil: not counted.
    var tlsSessions: TLSSessionRecorder? = nil
    let connectTimeout: TimeAmount
    /// Every reply must be complete within this (RFC 5321 §4.5.3.2 gives 5 minutes for most), however
    /// slowly its bytes trickle in; the reply to the end of the content gets twice as long (10 minutes).
    let commandTimeout: TimeAmount
    let logger: Logger

    enum HostFailure: Error, CustomStringConvertible {
        case unusable(String)
        /// The TLS handshake after STARTTLS failed: without required TLS, the same host is tried again
        /// in plaintext (RFC 7435 opportunistic security; Postfix does the same).
        case tlsFailed(String)
        /// The destination's MTA-STS policy asks for authenticated TLS and the host did not give it:
        /// never retried in plaintext.
        case policy(String)
        var description: String {
            switch self {
            case .unusable(let reason): reason
            case .tlsFailed(let reason): "TLS failed: \(reason)"
            case .policy(let reason): reason
            }
        }

        /// The enhanced status code of the deferral it leads to (RFC 3463: 4.7.5 for a cryptographic failure).
        var deferral: String {
            switch self {
            case .policy: "451 4.7.5 \(self)"
            case .unusable, .tlsFailed: "451 4.4.1 \(self)"
            }
        }
    }

    typealias Connection = NIOAsyncChannel<InboundLine, ByteBuffer>

    /// Per-recipient outcomes, or `.failure` when the host could not be used (try the next one).
    func deliver(_ envelope: RelayEnvelope, to host: RouteHost) async -> Result<RelayTransaction, HostFailure> {
        let first = await self.attempt(envelope, to: host, startTLS: true)
        // A policy in testing mode has had its failure counted: the message goes as without it.
        if case .failure(.policy(let reason)) = first, host.testingPolicyOf != nil, host.dane == nil {
            self.logger.notice("TLS failed the domain's MTA-STS policy in testing mode; delivering without it",
                               metadata: ["host": "\(host)", "reason": "\(reason)"])
            var untested = host
            untested.testingPolicyOf = nil
            return await self.deliver(envelope, to: untested)
        }
        // Credentials never go in plaintext, so a smarthost login does not fall back.
        if case .failure(.tlsFailed(let reason)) = first, !self.requireTLS, host.credentials == nil {
            self.logger.notice("TLS handshake failed; trying the same host in plaintext",
                               metadata: ["host": "\(host)", "reason": "\(reason)"])
            return await self.attempt(envelope, to: host, startTLS: false)
        }
        return first
    }

    private func attempt(_ envelope: RelayEnvelope, to host: RouteHost, startTLS: Bool) async -> Result<RelayTransaction, HostFailure> {
        let connection: Connection
        do {
            connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(self.connectTimeout)
                .connect(host: host.address, port: host.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFramingDecoder(maximumLineLength: 4096)))
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return .failure(.unusable("cannot connect to \(host): \(error)"))
        }
        do {
            return try await connection.executeThenClose { inbound, outbound in
                var exchange = Exchange(
                    inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: connection.channel,
                    timeout: self.commandTimeout)
                return try await self.transact(envelope, host: host, startTLS: startTLS, exchange: &exchange)
            }
        } catch let failure as HostFailure {
            return .failure(failure)
        } catch {
            return .failure(.unusable("\(host): \(error)"))
        }
    }

    /// Reads replies and writes commands on one connection, each within a deadline: when it passes,
    /// the connection is closed, which ends the read or write in progress.
    struct Exchange {
        var inbound: NIOAsyncChannelInboundStream<InboundLine>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        let channel: any Channel
        let timeout: TimeAmount
        var parser = SMTPResponseParser()

        mutating func read(within limit: TimeAmount? = nil) async throws -> SMTPResponse {
            let limit = limit ?? self.timeout
            let started = ContinuousClock.now
            let channel = self.channel
            let deadline = channel.eventLoop.scheduleTask(in: limit) { channel.close(promise: nil) }
            defer { deadline.cancel() }
            while true {
                let frame: InboundLine?
                do {
                    frame = try await self.inbound.next()
                } catch {
                    throw HostFailure.unusable(Self.lost(since: started, limit: limit, error: "\(error)"))
                }
                guard let frame else { throw HostFailure.unusable(Self.lost(since: started, limit: limit, error: nil)) }
                switch frame {
                case .tooLong: throw HostFailure.unusable("reply line too long")
                case .line(let line):
                    do {
                        if let response = try self.parser.feed(Array(line.readableBytesView)) { return response }
                    } catch {
                        throw HostFailure.unusable("malformed reply: \(error)")
                    }
                }
            }
        }

        private static func lost(since started: ContinuousClock.Instant, limit: TimeAmount, error: String?) -> String {
            let limit = Duration.nanoseconds(limit.nanoseconds)
            if ContinuousClock.now - started >= limit { return "no complete reply within \(limit.components.seconds) s" }
            return "connection closed without a reply" + (error.map { " (\($0))" } ?? "")
        }

        func send(_ command: String) async throws {
            try await self.write(ByteBuffer(string: command + "\r\n"))
        }

        /// One write, closed if the peer does not take it in time (it stopped reading).
        func write(_ buffer: ByteBuffer) async throws {
            let channel = self.channel
            let deadline = channel.eventLoop.scheduleTask(in: self.timeout) { channel.close(promise: nil) }
            defer { deadline.cancel() }
            try await self.outbound.write(buffer)
        }

        /// Message content in 64 KiB writes, each with its own deadline (RFC 5321's per-block timeout).
        func writeContent(_ bytes: [UInt8]) async throws {
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + 65_536, bytes.count)
                try await self.write(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
        }
    }

    private func transact(
        _ envelope: RelayEnvelope, host: RouteHost, startTLS: Bool, exchange: inout Exchange
    ) async throws -> Result<RelayTransaction, HostFailure> {
        let greeting = try await exchange.read()
        guard greeting.code == 220 else {
            try? await exchange.send("QUIT")
            return .failure(.unusable("\(host) greeted with \(greeting)"))
        }
        var extensions = try await self.hello(&exchange, host: host)
        var encrypted = false
        if let (requiredBy, makeHandler) = self.mandatoryTLS(for: host) {
            guard extensions["STARTTLS"] != nil else {
                try? await exchange.send("QUIT")
                await self.tlsSessions?.record(host, failure: "starttls-not-supported")
                return .failure(.policy("\(host) does not offer STARTTLS, which \(requiredBy) requires"))
            }
            try await exchange.send("STARTTLS")
            let ready = try await exchange.read()
            guard ready.code == 220 else {
                await self.tlsSessions?.record(host, failure: "starttls-not-supported")
                return .failure(.policy("\(host) refused STARTTLS (\(ready)), which \(requiredBy) requires"))
            }
            let verification = VerificationNote()
            do {
                extensions = try await self.handshake(&exchange, host: host) { try makeHandler(verification) }
            } catch {
                await self.tlsSessions?.record(host, failure: "validation-failure")
                let detail = verification.reason.map { "\($0) (\(error))" } ?? "\(error)"
                return .failure(.policy("\(requiredBy) requires authenticated TLS; TLS with \(host) failed: \(detail)"))
            }
            await self.tlsSessions?.record(host, failure: nil)
            encrypted = true
        } else if startTLS, extensions["STARTTLS"] != nil, let tlsContext = self.tlsContext {
            try await exchange.send("STARTTLS")
            let ready = try await exchange.read()
            guard ready.code == 220 else { return .failure(.unusable("\(host) refused STARTTLS: \(ready)")) }
            let serverName = RelayRouter.isAddressLiteral(host.name) ? nil : host.name
            do {
                extensions = try await self.handshake(&exchange, host: host) {
                    try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName)
                }
            } catch {
                // Whatever went wrong once the handshake began (the peer's garbage, a closed connection).
                return .failure(.tlsFailed("\(host): \(error)"))
            }
            encrypted = true
        } else if self.requireTLS || host.credentials != nil {
            try? await exchange.send("QUIT")
            return .failure(.unusable("\(host) does not offer STARTTLS, and " + (self.requireTLS ? "TLS is required" : "credentials go over TLS only")))
        }
        if let credentials = host.credentials, encrypted {
            try await self.authenticate(credentials, offered: extensions["AUTH"] ?? "", host: host, exchange: &exchange)
        }

        let dsn = extensions["DSN"] != nil
        let everyone = { (outcome: RecipientOutcome) in
            RelayTransaction(outcomes: Array(repeating: outcome, count: envelope.recipients.count), dsnHandedOn: false)
        }
        if let limit = extensions["SIZE"].flatMap({ Int($0) }), limit > 0, envelope.content.size > limit {
            try? await exchange.send("QUIT")
            return .success(everyone(.bounced("552 5.3.4 message size \(envelope.content.size) exceeds \(host)'s limit \(limit)")))
        }
        if envelope.needsSMTPUTF8 && extensions["SMTPUTF8"] == nil {
            try? await exchange.send("QUIT")
            return .success(everyone(.bounced("550 5.6.7 \(host) does not support SMTPUTF8, needed for this message")))
        }

        var mail = "MAIL FROM:<\(envelope.sender ?? "")>"
        if extensions["SIZE"] != nil { mail += " SIZE=\(envelope.content.size)" }
        if extensions["8BITMIME"] != nil, try await envelope.content.hasEightBitOctets() { mail += " BODY=8BITMIME" }
        if envelope.needsSMTPUTF8 { mail += " SMTPUTF8" }
        // RFC 3461 §5.2.2: a next hop that offers DSN gets the parameters and takes over the notices.
        if dsn, let ret = envelope.returnContent { mail += " RET=\(ret)" }
        if dsn, let envelopeID = envelope.envelopeID { mail += " ENVID=\(XText.encode(envelopeID))" }
        let rcpts = envelope.recipients.map { recipient in
            var rcpt = "RCPT TO:<\(recipient.address)>"
            if dsn, let notify = recipient.notify { rcpt += " NOTIFY=\(notify)" }
            if dsn, let original = recipient.originalRecipient, let semicolon = original.firstIndex(of: ";") {
                rcpt += " ORCPT=\(original[..<semicolon]);\(XText.encode(String(original[original.index(after: semicolon)...])))"
            }
            return rcpt
        }

        let mailReply: SMTPResponse
        var rcptReplies: [SMTPResponse] = []
        if extensions["PIPELINING"] != nil {
            // RFC 2920: MAIL and every RCPT in one write, then their replies in order.
            try await exchange.write(ByteBuffer(string: ([mail] + rcpts).map { $0 + "\r\n" }.joined()))
            mailReply = try await exchange.read()
            for _ in rcpts { rcptReplies.append(try await exchange.read()) }
        } else {
            try await exchange.send(mail)
            mailReply = try await exchange.read()
            if mailReply.isPositive {
                for rcpt in rcpts {
                    try await exchange.send(rcpt)
                    rcptReplies.append(try await exchange.read())
                }
            }
        }
        guard mailReply.isPositive else {
            try? await exchange.send("QUIT")
            return .success(everyone(RecipientOutcome(mailReply, context: "MAIL FROM at \(host)")))
        }
        var outcomes = rcptReplies.map { reply in RecipientOutcome(reply, context: "RCPT TO at \(host)") }
        let accepted = rcptReplies.indices.filter { rcptReplies[$0].isPositive }
        guard !accepted.isEmpty else {
            try? await exchange.send("QUIT")
            return .success(RelayTransaction(outcomes: outcomes, dsnHandedOn: dsn))
        }
        // RFC 3030: BDAT chunks framed by their size (no dot-stuffing), a piece of the content each, the
        // last one marked LAST (a content in memory is one chunk); otherwise DATA.
        let chunking = extensions["CHUNKING"] != nil
        let transfer = chunking ? "BDAT" : "DATA"
        var pieces = envelope.content.pieces()
        if chunking {
            var encoder = WireLineEncoder(dotStuffing: false)
            var current = try await pieces.next()
            repeat {
                // One piece ahead, to know which chunk is the last.
                let next = current == nil ? nil : try await pieces.next()
                var chunk: [UInt8] = []
                if let current { encoder.append(current, to: &chunk) }
                let last = next == nil
                if last { encoder.finish(to: &chunk) }
                try await exchange.send("BDAT \(chunk.count)\(last ? " LAST" : "")")
                try await exchange.writeContent(chunk)
                if !last {
                    let reply = try await exchange.read()
                    guard reply.isPositive else {
                        for index in accepted { outcomes[index] = RecipientOutcome(reply, context: "BDAT at \(host)") }
                        try? await exchange.send("QUIT")
                        return .success(RelayTransaction(outcomes: outcomes, dsnHandedOn: dsn))
                    }
                }
                current = next
            } while current != nil
        } else {
            try await exchange.send("DATA")
            let go = try await exchange.read()
            guard go.code == 354 else {
                for index in accepted { outcomes[index] = RecipientOutcome(go, context: "DATA at \(host)") }
                try? await exchange.send("QUIT")
                return .success(RelayTransaction(outcomes: outcomes, dsnHandedOn: dsn))
            }
            var encoder = WireLineEncoder(dotStuffing: true)
            while let piece = try await pieces.next() {
                var wire: [UInt8] = []
                encoder.append(piece, to: &wire)
                try await exchange.writeContent(wire)
            }
            var end: [UInt8] = []
            encoder.finish(to: &end)
            try await exchange.writeContent(end + [UInt8(ascii: "."), 13, 10])
        }
        let final: SMTPResponse
        do {
            final = try await exchange.read(within: .nanoseconds(self.commandTimeout.nanoseconds * 2))
        } catch {
            // RFC 5321 §3.8: no reply after the content is a temporary failure (the message may have
            // been delivered: a possible duplicate on retry).
            for index in accepted { outcomes[index] = .deferred("421 4.4.2 no reply after the message content from \(host): \(error)") }
            return .success(RelayTransaction(outcomes: outcomes, dsnHandedOn: dsn))
        }
        for index in accepted { outcomes[index] = RecipientOutcome(final, context: "end of \(transfer) at \(host)") }
        self.logger.info(
            "relayed", metadata: ["host": "\(host)", "transfer": "\(transfer)", "tls": "\(encrypted)", "reply": "\(final)",
                                  "recipients": "\(accepted.count)"])
        try? await exchange.send("QUIT")
        _ = try? await exchange.read()
        return .success(RelayTransaction(outcomes: outcomes, dsnHandedOn: dsn))
    }

    /// After the server's 220 to STARTTLS (RFC 3207): the handshake with the handler made here, and EHLO
    /// again (§4.2: what was learnt before TLS is forgotten).
    private func handshake(
        _ exchange: inout Exchange, host: RouteHost, _ makeHandler: @escaping @Sendable () throws -> NIOSSLClientHandler
    ) async throws -> [String: String] {
        // The server sends nothing until our handshake: TLS goes in front of the line framing.
        let channel = exchange.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try makeHandler(), position: .first)
        }.get()
        return try await self.hello(&exchange, host: host)
    }

    /// Why TLS is mandatory and authenticated for `host`, and the handler that checks it: TLSA records
    /// (DANE, RFC 7672), which take precedence over an enforced MTA-STS policy (RFC 8461 §2); nil when
    /// TLS is opportunistic.
    private func mandatoryTLS(
        for host: RouteHost
    ) -> (requiredBy: String, makeHandler: @Sendable (VerificationNote) throws -> NIOSSLClientHandler)? {
        let serverName = RelayRouter.isAddressLiteral(host.name) ? nil : host.name
        switch host.dane {
        case .authenticated(let records):
            guard let verified = self.verifiedTLSContext else { return nil }
            let hostname = host.name
            return ("DANE (TLSA records of \(host.name))", { note in
                try NIOSSLClientHandler(context: verified, serverHostname: serverName) { chain, promise in
                    promise.completeWithTask {
                        switch await DANEVerification.verify(chain: chain, records: records, hostname: hostname) {
                        case .success: return .certificateVerified
                        case .failure(let failure):
                            note.reason = failure.reason
                            return .failed
                        }
                    }
                }
            })
        case .encrypted:
            // Records none of which can be used: encrypted, but whatever the certificate (RFC 7672 §2.2).
            guard let opportunistic = self.tlsContext else { return nil }
            return ("DANE (TLSA records of \(host.name))", { _ in try NIOSSLClientHandler(context: opportunistic, serverHostname: serverName) })
        case nil:
            guard let verified = self.verifiedTLSContext else { return nil }
            let policy: String
            if let domain = host.verifiedTLSFor {
                policy = "the MTA-STS policy of \(domain)"
            } else if let domain = host.testingPolicyOf {
                policy = "the MTA-STS policy of \(domain) (in testing mode)"
            } else {
                return nil
            }
            return (policy, { _ in try NIOSSLClientHandler(context: verified, serverHostname: serverName) })
        }
    }

    /// EHLO, falling back to HELO; returns the EHLO extensions (none after HELO).
    private func hello(_ exchange: inout Exchange, host: RouteHost) async throws -> [String: String] {
        try await exchange.send("EHLO \(self.hostname)")
        let ehlo = try await exchange.read()
        if ehlo.isPositive { return ehlo.extensions }
        try await exchange.send("HELO \(self.hostname)")
        let helo = try await exchange.read()
        guard helo.isPositive else { throw HostFailure.unusable("\(host) refused EHLO and HELO: \(helo)") }
        return [:]
    }

    /// AUTH PLAIN (RFC 4616) with an initial response, or AUTH LOGIN, whichever the server offers.
    /// A refusal makes the host unusable for now (deferred, like Postfix's soft bounce on SASL failure).
    private func authenticate(
        _ credentials: RelayCredentials, offered: String, host: RouteHost, exchange: inout Exchange
    ) async throws {
        let mechanisms = Set(offered.uppercased().split(separator: " ").map(String.init))
        let base64 = { (text: String) in Data(text.utf8).base64EncodedString() }
        let reply: SMTPResponse
        if mechanisms.contains("PLAIN") {
            try await exchange.send("AUTH PLAIN " + base64("\u{0}\(credentials.user)\u{0}\(credentials.password)"))
            reply = try await exchange.read()
        } else if mechanisms.contains("LOGIN") {
            try await exchange.send("AUTH LOGIN")
            var step = try await exchange.read()
            if step.code == 334 {
                try await exchange.send(base64(credentials.user))
                step = try await exchange.read()
                if step.code == 334 {
                    try await exchange.send(base64(credentials.password))
                    step = try await exchange.read()
                }
            }
            reply = step
        } else {
            throw HostFailure.unusable("\(host) offers no AUTH mechanism we use (offered: \(offered))")
        }
        guard reply.code == 235 else { throw HostFailure.unusable("\(host) refused our login: \(reply)") }
    }
}

/// Why a custom certificate check refused a chain, for the failure the handshake leads to (which
/// itself only says that verification failed).
final class VerificationNote: Sendable {
    private let stored = Mutex<String?>(nil)
    var reason: String? {
        get { self.stored.withLock { $0 } }
        set { self.stored.withLock { $0 = newValue } }
    }
}
