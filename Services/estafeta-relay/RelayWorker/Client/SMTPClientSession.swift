import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ServerSupport
import SMTPProtocol

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
    var sender: String?
    var recipients: [String]
    var content: Data
    /// Needs SMTPUTF8 (RFC 6531): an address is not ASCII.
    var needsSMTPUTF8: Bool
}

/// An SMTP client transaction with one remote host (RFC 5321, as a client): greeting, EHLO,
/// opportunistic STARTTLS (RFC 3207), MAIL with SIZE/BODY/SMTPUTF8, RCPTs (pipelined when offered,
/// RFC 2920), DATA, QUIT. The result is per recipient, or `nil` when the host could not be used at all
/// (connection, greeting or TLS failed), so the caller tries the next host.
struct SMTPClientSession: Sendable {
    let hostname: String
    let tlsContext: NIOSSLContext?
    let requireTLS: Bool
    let connectTimeout: TimeAmount
    let commandTimeout: TimeAmount

    enum HostFailure: Error, CustomStringConvertible {
        case unusable(String)
        var description: String { switch self { case .unusable(let reason): reason } }
    }

    typealias Connection = NIOAsyncChannel<InboundLine, ByteBuffer>

    /// Per-recipient outcomes, or `.failure` when the host could not be used (try the next one).
    func deliver(_ envelope: RelayEnvelope, to host: RouteHost) async -> Result<[RecipientOutcome], HostFailure> {
        let connection: Connection
        do {
            connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(self.connectTimeout)
                .connect(host: host.address, port: host.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(ByteToMessageHandler(LineFramingDecoder(maximumLineLength: 4096)))
                        try sync.addHandler(IdleStateHandler(readTimeout: self.commandTimeout))
                        try sync.addHandler(ReadTimeoutCloser())
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return .failure(.unusable("cannot connect to \(host): \(error)"))
        }
        do {
            return try await connection.executeThenClose { inbound, outbound in
                var exchange = Exchange(inbound: inbound.makeAsyncIterator(), outbound: outbound)
                return try await self.transact(envelope, host: host, channel: connection.channel, exchange: &exchange)
            }
        } catch let failure as HostFailure {
            return .failure(failure)
        } catch {
            return .failure(.unusable("\(host): \(error)"))
        }
    }

    /// Reads replies and writes commands on one connection.
    struct Exchange {
        var inbound: NIOAsyncChannelInboundStream<InboundLine>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        var parser = SMTPResponseParser()

        mutating func read() async throws -> SMTPResponse {
            while true {
                guard let frame = try await self.inbound.next() else {
                    throw HostFailure.unusable("connection closed (or timed out) without a reply")
                }
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

        func send(_ command: String) async throws {
            try await self.outbound.write(ByteBuffer(string: command + "\r\n"))
        }
    }

    private func transact(
        _ envelope: RelayEnvelope, host: RouteHost, channel: any Channel, exchange: inout Exchange
    ) async throws -> Result<[RecipientOutcome], HostFailure> {
        let greeting = try await exchange.read()
        guard greeting.code == 220 else {
            try? await exchange.send("QUIT")
            return .failure(.unusable("\(host) greeted with \(greeting)"))
        }
        var extensions = try await self.hello(&exchange, host: host)
        if extensions["STARTTLS"] != nil, let tlsContext = self.tlsContext {
            try await exchange.send("STARTTLS")
            let ready = try await exchange.read()
            guard ready.code == 220 else { return .failure(.unusable("\(host) refused STARTTLS: \(ready)")) }
            // The server sends nothing until our handshake: TLS goes in front of the line framing.
            let serverName = RelayRouter.isAddressLiteral(host.name) ? nil : host.name
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(
                    try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName), position: .first)
            }.get()
            extensions = try await self.hello(&exchange, host: host)  // RFC 3207 §4.2: start over
        } else if self.requireTLS {
            try? await exchange.send("QUIT")
            return .failure(.unusable("\(host) does not offer STARTTLS and TLS is required"))
        }

        let everyone = { (outcome: RecipientOutcome) in Array(repeating: outcome, count: envelope.recipients.count) }
        if let limit = extensions["SIZE"].flatMap({ Int($0) }), limit > 0, envelope.content.count > limit {
            try? await exchange.send("QUIT")
            return .success(everyone(.bounced("552 5.3.4 message size \(envelope.content.count) exceeds \(host)'s limit \(limit)")))
        }
        if envelope.needsSMTPUTF8 && extensions["SMTPUTF8"] == nil {
            try? await exchange.send("QUIT")
            return .success(everyone(.bounced("550 5.6.7 \(host) does not support SMTPUTF8, needed for this message")))
        }

        var mail = "MAIL FROM:<\(envelope.sender ?? "")>"
        if extensions["SIZE"] != nil { mail += " SIZE=\(envelope.content.count)" }
        if extensions["8BITMIME"] != nil && envelope.content.contains(where: { $0 >= 0x80 }) { mail += " BODY=8BITMIME" }
        if envelope.needsSMTPUTF8 { mail += " SMTPUTF8" }
        let rcpts = envelope.recipients.map { "RCPT TO:<\($0)>" }

        let mailReply: SMTPResponse
        var rcptReplies: [SMTPResponse] = []
        if extensions["PIPELINING"] != nil {
            // RFC 2920: MAIL and every RCPT in one write, then their replies in order.
            try await exchange.outbound.write(ByteBuffer(string: ([mail] + rcpts).map { $0 + "\r\n" }.joined()))
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
        var outcomes = zip(envelope.recipients, rcptReplies).map { recipient, reply in
            RecipientOutcome(reply, context: "RCPT TO at \(host)")
        }
        let accepted = rcptReplies.indices.filter { rcptReplies[$0].isPositive }
        guard !accepted.isEmpty else {
            try? await exchange.send("QUIT")
            return .success(outcomes)
        }
        try await exchange.send("DATA")
        let go = try await exchange.read()
        guard go.code == 354 else {
            for index in accepted { outcomes[index] = RecipientOutcome(go, context: "DATA at \(host)") }
            try? await exchange.send("QUIT")
            return .success(outcomes)
        }
        try await exchange.outbound.write(ByteBuffer(bytes: SMTPDataEncoder.encode(envelope.content)))
        let final: SMTPResponse
        do {
            final = try await exchange.read()
        } catch {
            // RFC 5321 §3.8: no reply after the final dot is a temporary failure (the message may have
            // been delivered: a possible duplicate on retry, catalogue D12/D14).
            for index in accepted { outcomes[index] = .deferred("421 4.4.2 no reply after end of data from \(host)") }
            return .success(outcomes)
        }
        for index in accepted { outcomes[index] = RecipientOutcome(final, context: "end of DATA at \(host)") }
        try? await exchange.send("QUIT")
        _ = try? await exchange.read()
        return .success(outcomes)
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
}

/// Closes the connection when the remote stops answering (RFC 5321 §4.5.3.2 client timeouts).
final class ReadTimeoutCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = InboundLine
    typealias InboundOut = InboundLine

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
