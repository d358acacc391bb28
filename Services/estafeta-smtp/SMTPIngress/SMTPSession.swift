import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import NIOCore
import ServerSupport
import ServiceHost
import ServiceLifecycle
import SMTPProtocol

/// One SMTP connection: reads frames, feeds the state machine, and carries out its actions (store
/// look-ups, durable acceptance, replies). A `250` for a message is written only after
/// `acceptMessage` has committed.
struct SMTPSession: Sendable {
    typealias Connection = ProtocolConnection<SMTPInbound, SMTPOutbound>

    let store: MailStore
    let hostname: String
    let listener: SMTPSessionStateMachine.Listener
    let limits: SMTPSessionStateMachine.Limits
    let implicitTLS: Bool
    let startTLSAvailable: Bool
    let plaintextAuthAllowed: Bool
    /// The shared login: growing delays, then the network's lockout.
    let login: PasswordLogin
    /// Failed AUTH attempts on one connection before it is closed.
    let maximumAuthFailures: Int
    /// The largest header section accepted (`IncomingMessage` holds it for the checks).
    let maximumHeaderBytes: Int

    /// Waited before the greeting, to catch clients that talk first.
    let greetingDelay: Duration
    /// DKIM signatures for what authenticated users submit.
    let signer: DKIMDomainSigner
    /// The checks of mail from other servers (MX listener only).
    let inbound: InboundAuthentication?

    func run(on connection: Connection) async throws {
        var machine = SMTPSessionStateMachine(
            hostname: self.hostname, listener: self.listener, limits: self.limits, implicitTLS: self.implicitTLS,
            startTLSAvailable: self.startTLSAvailable, plaintextAuthAllowed: self.plaintextAuthAllowed)
        let gate = SessionShutdownGate()
        let channel = connection.channel
        let goodbye = SMTPReply(421, "4.3.2", "\(self.hostname) Service shutting down")
        try await withGracefulShutdownHandler {
            if self.greetingDelay > .zero { try await Task.sleep(for: self.greetingDelay) }
            try await connection.outbound.write(.greeting(SMTPReply(220, nil, "\(self.hostname) ESMTP Estafeta")))
            var frames = connection.inbound.makeAsyncIterator()
            // The current transaction's content, kept here rather than in the state machine: it may be
            // written to the store as it arrives, and appending never copies what was already received.
            var message = self.incomingMessage(authenticated: false)
            do {
                try await self.serve(connection, machine: &machine, frames: &frames, message: &message, gate: gate, goodbye: goodbye)
            } catch {
                await message.discard()
                throw error
            }
            await message.discard()
        } onGracefulShutdown: {
            // Waiting for a command: nothing is in progress. Mid-DATA sessions finish first.
            if gate.shutDown() { channel.writeAndFlush(SMTPOutbound.replyAndClose(goodbye), promise: nil) }
        }
    }

    /// The next transaction's content; an authenticated user's is hashed for its DKIM signature as it
    /// arrives.
    private func incomingMessage(authenticated: Bool) -> IncomingMessage {
        IncomingMessage(
            store: self.store, maximumSize: self.limits.maximumMessageSize, maximumHeaderBytes: self.maximumHeaderBytes,
            hashingBody: authenticated, verifyingSignatures: !authenticated && self.inbound != nil)
    }

    /// Reads and answers commands until the connection closes.
    private func serve(
        _ connection: Connection, machine: inout SMTPSessionStateMachine,
        frames: inout NIOAsyncChannelInboundStream<SMTPInbound>.AsyncIterator, message: inout IncomingMessage,
        gate: SessionShutdownGate, goodbye: SMTPReply
    ) async throws {
        // After a 354 the session is in the middle of DATA: a shutdown lets the message finish
        // (within the grace period) and says goodbye at the next command.
        var awaitingContent = false
        while true {
            guard awaitingContent || gate.willAwaitInput() else {
                try await connection.outbound.write(.replyAndClose(goodbye))
                return
            }
            guard let frame = try await frames.next(), gate.willWork() || awaitingContent else { return }
            let action: SMTPSessionStateMachine.Action
            switch frame {
            case .contentPiece(let piece):
                // DATA content after the 354, or part of a BDAT chunk: a chunk the session will refuse
                // (no transaction) is dropped with its command.
                if awaitingContent || machine.acceptsChunk {
                    await message.add(piece, checkingLineEndings: !awaitingContent)
                }
                continue
            case .lineTooLong(let authentication):
                action = machine.syntaxError(authentication ? .authLineTooLong : .lineTooLong)
            case .line(let bytes, let pipelined):
                do throws(SMTPSyntaxError) {
                    let command = try SMTPCommandParser(utf8PathsAllowed: machine.utf8Paths).parse(bytes)
                    if case .mail = command, self.store.spaceIsLow {
                        // RFC 3463 X.3.1: refused before any content is read; the client retries later.
                        action = machine.failed(Self.insufficientStorage)
                    } else {
                        action = machine.receive(command, pipelinedInputFollows: pipelined)
                    }
                } catch {
                    action = machine.syntaxError(error)
                }
            case .data(var reader):
                await message.add(reader.takeContent())
                let reply = await self.finishMessage(
                    &message, exceededMaximumSize: reader.exceededMaximumSize, sawBareLineEnding: reader.sawBareLineEnding,
                    machine: machine, peer: connection.context.remoteAddress, logger: connection.context.logger)
                machine.transactionEnded()
                action = .reply(reply)
            case .bdat(_, let chunk, let chunkSize, let last):
                guard machine.acceptsChunk else {
                    // The chunk was read by the framing and is dropped with the command.
                    action = machine.failed(SMTPReply(503, "5.5.1", "Need MAIL and RCPT before BDAT"))
                    break
                }
                machine.chunkReceived()
                await message.add(chunk, checkingLineEndings: true)
                if !last {
                    action = .reply(SMTPReply(250, "2.0.0", "\(chunkSize) octets received"))
                    break
                }
                let reply = await self.finishMessage(
                    &message, exceededMaximumSize: false, sawBareLineEnding: false, machine: machine,
                    peer: connection.context.remoteAddress, logger: connection.context.logger)
                machine.transactionEnded()
                action = .reply(reply)
            }
            if machine.transaction == nil {
                await message.discard()
                message = self.incomingMessage(authenticated: machine.authenticatedAs != nil)
            }
            if case .startData = action { awaitingContent = true } else { awaitingContent = false }
            guard try await self.perform(action, machine: &machine, connection: connection, frames: &frames) else {
                return
            }
        }
    }

    /// Carries out one action; false when the connection is closing.
    private func perform(
        _ action: SMTPSessionStateMachine.Action, machine: inout SMTPSessionStateMachine, connection: Connection,
        frames: inout NIOAsyncChannelInboundStream<SMTPInbound>.AsyncIterator
    ) async throws -> Bool {
        switch action {
        case .reply(let reply):
            try await connection.outbound.write(.reply(reply, next: .command))
            return true
        case .replyAndClose(let reply):
            try await connection.outbound.write(.replyAndClose(reply))
            return false
        case .startTLS:
            try await connection.outbound.write(.replyThenStartTLS(SMTPReply(220, "2.0.0", "Ready to start TLS")))
            machine.tlsEstablished()
            return true
        case .startData(let maximumSize):
            try await connection.outbound.write(
                .reply(SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>"), next: .data(maximumSize: maximumSize)))
            return true
        case .checkRecipient(let address, let parameters):
            let next: SMTPSessionStateMachine.Action
            do {
                let resolution = try await self.store.resolveRecipient(address)
                next = machine.recipientResolved(address, parameters, resolution)
            } catch {
                connection.context.logger.error("recipient lookup failed", metadata: ["error": "\(error)"])
                next = .reply(SMTPReply(451, "4.3.0", "Temporary failure, try again later"))
            }
            return try await self.perform(next, machine: &machine, connection: connection, frames: &frames)
        case .checkSender(let sender, let parameters, let account):
            let owned: Bool
            do {
                // An account disabled through the admin API since it logged in stops here, at its next
                // transaction (credentials are read fresh from the shared store).
                guard try await self.store.credentials(for: account)?.enabled == true else {
                    return try await self.perform(
                        .replyAndClose(SMTPReply(421, "4.7.1", "Account disabled, closing connection")),
                        machine: &machine, connection: connection, frames: &frames)
                }
                if let sender { owned = try await self.owns(account, sender) } else { owned = true }
            } catch {
                connection.context.logger.error("sender check failed", metadata: ["error": "\(error)"])
                return try await self.perform(
                    .reply(SMTPReply(451, "4.3.0", "Temporary failure, try again later")), machine: &machine,
                    connection: connection, frames: &frames)
            }
            return try await self.perform(
                machine.senderChecked(sender, parameters, owned: owned), machine: &machine, connection: connection,
                frames: &frames)
        case .authenticate(let mechanism, let initialResponse):
            let outcome = try await self.authenticate(
                mechanism: mechanism, initialResponse: initialResponse, connection: connection, frames: &frames)
            let next: SMTPSessionStateMachine.Action
            switch outcome {
            case .success(let account): next = machine.authenticated(as: account)
            case .refused:
                // Wrong credentials count towards the per-connection limit; the delay has been waited.
                next = machine.authenticationFailed(
                    SMTPReply(535, "5.7.8", "Authentication credentials invalid"), maximumFailures: self.maximumAuthFailures)
            case .lockedOut:
                next = .replyAndClose(SMTPReply(421, "4.7.0", "Too many failed authentications, try again later"))
            case .unavailable:
                // RFC 4954 §6: a temporary failure of the server, not of the credentials.
                next = machine.failed(SMTPReply(454, "4.7.0", "Temporary authentication failure"))
            case .failure(let reply):
                // Cancelled or malformed exchanges are plain errors.
                next = machine.failed(reply)
            case .closed: return false
            }
            return try await self.perform(next, machine: &machine, connection: connection, frames: &frames)
        }
    }

    private enum AuthenticationOutcome {
        case success(EmailAddress)
        case refused
        case lockedOut
        case unavailable
        /// A syntax error or a cancelled exchange, answered at once.
        case failure(SMTPReply)
        case closed
    }

    /// RFC 4954 exchange for PLAIN and LOGIN; the password is checked by `PasswordLogin`.
    private func authenticate(
        mechanism: String, initialResponse: String?, connection: Connection,
        frames: inout NIOAsyncChannelInboundStream<SMTPInbound>.AsyncIterator
    ) async throws -> AuthenticationOutcome {
        enum Step { case response([UInt8]), cancelled, tooLong, closed, invalid }
        func read(prompt: String?, frames: inout NIOAsyncChannelInboundStream<SMTPInbound>.AsyncIterator) async throws -> Step {
            if let prompt {
                try await connection.outbound.write(.reply(SMTPReply(334, nil, prompt), next: .authResponse))
            }
            guard let frame = try await frames.next() else { return .closed }
            switch frame {
            case .lineTooLong: return .tooLong
            case .data, .bdat, .contentPiece: return .invalid
            case .line(let bytes, _):
                let text = String(decoding: bytes, as: UTF8.self)
                if text == "*" { return .cancelled }
                do { return .response(try SASL.decodeBase64(text)) } catch { return .invalid }
            }
        }
        func initial(_ text: String) -> Step {
            do { return .response(try SASL.decodeBase64(text)) } catch { return .invalid }
        }
        func failure(_ step: Step) -> AuthenticationOutcome {
            switch step {
            case .cancelled: .failure(SMTPReply(501, "5.7.0", "Authentication cancelled"))
            case .tooLong: .failure(SMTPReply(.authLineTooLong))
            case .closed: .closed
            default: .failure(SMTPReply(501, "5.5.2", "Cannot Base64-decode client response"))
            }
        }
        let user: String
        let password: String
        if mechanism == "PLAIN" {
            let step: Step
            if let initialResponse { step = initial(initialResponse) } else { step = try await read(prompt: "", frames: &frames) }
            guard case .response(let bytes) = step else { return failure(step) }
            guard let credentials = try? SASL.plain(bytes) else {
                return .failure(SMTPReply(501, "5.5.2", "Malformed PLAIN response"))
            }
            (user, password) = (credentials.loginUser, credentials.password)
        } else {
            // LOGIN: "Username:" and "Password:", base64-encoded prompts.
            let first: Step
            if let initialResponse {
                first = initial(initialResponse)
            } else {
                first = try await read(prompt: "VXNlcm5hbWU6", frames: &frames)
            }
            guard case .response(let name) = first, let decodedName = try? SASL.loginField(name) else {
                return failure(first)
            }
            let second = try await read(prompt: "UGFzc3dvcmQ6", frames: &frames)
            guard case .response(let secret) = second, let decodedSecret = try? SASL.loginField(secret) else {
                return failure(second)
            }
            (user, password) = (decodedName, decodedSecret)
        }
        switch try await self.login.attempt(
            user: user, password: password, from: connection.context.remoteAddress, logger: connection.context.logger)
        {
        case .accepted(let account): return .success(account)
        case .refused: return .refused
        case .lockedOut: return .lockedOut
        case .unavailable: return .unavailable
        }
    }

    /// The authenticated account may send as itself, or as an alias that delivers to it. The null
    /// reverse-path is allowed.
    private func owns(_ account: EmailAddress, _ sender: EmailAddress) async throws -> Bool {
        if sender.description.lowercased() == account.description.lowercased() { return true }
        if case .alias(let targets) = try await self.store.resolveRecipient(sender) {
            return targets.contains { $0.lowercased() == account.description.lowercased() }
        }
        return false
    }

    /// Checks the content, adds `Received:`, and commits it with its envelope; the reply says what
    /// happened. Only a committed message gets 250; content that is not accepted is discarded.
    private func finishMessage(
        _ message: inout IncomingMessage, exceededMaximumSize: Bool, sawBareLineEnding: Bool,
        machine: SMTPSessionStateMachine, peer: SocketAddress?, logger: Logger
    ) async -> SMTPReply {
        let content = await message.finish()
        let reply = await self.accept(
            content, of: &message, exceededMaximumSize: exceededMaximumSize || message.exceededMaximumSize,
            sawBareLineEnding: sawBareLineEnding || message.sawBareLineEnding, machine: machine, peer: peer, logger: logger)
        if reply.code == 250 { message.handedOver() } else { await message.discard() }
        return reply
    }

    private func accept(
        _ content: IncomingMessage.Content?, of message: inout IncomingMessage, exceededMaximumSize: Bool,
        sawBareLineEnding: Bool, machine: SMTPSessionStateMachine, peer: SocketAddress?, logger: Logger
    ) async -> SMTPReply {
        guard let transaction = machine.transaction else { return SMTPReply(503, "5.5.1", "No transaction") }
        if exceededMaximumSize {
            return SMTPReply(552, "5.3.4", "Message size exceeds fixed maximum message size")
        }
        if message.headerTooLarge {
            return SMTPReply(552, "5.3.4", "Message header section exceeds \(self.maximumHeaderBytes) octets")
        }
        if let failure = message.storeFailure {
            if case .storageFull = failure { return Self.insufficientStorage }
            return SMTPReply(451, "4.3.0", "Temporary failure, message not accepted, try again later")
        }
        if sawBareLineEnding {
            // Bare CR or LF is refused after the real end of data, as mox does.
            return SMTPReply(550, "5.5.2", "Message contains bare CR or LF; use CRLF line endings")
        }
        guard let content else { return SMTPReply(451, "4.3.0", "Temporary failure, message not accepted, try again later") }
        let header = MessageHeader(parsing: message.header)
        if header.exceedsHopLimit {
            return SMTPReply(554, "5.4.6", "Too many hops (Received: headers), mail loop?")
        }
        if let account = machine.authenticatedAs {
            // The author shown to the recipient must be the account or one of its aliases, like
            // the envelope sender. 550 rather than 553, the codes RFC 5321 allows after DATA.
            let authors = header.values("From").flatMap(AddressListParser.addresses(in:))
            for author in authors {
                do {
                    guard let address = try? EmailAddress(parsing: author), try await self.owns(account, address) else {
                        return SMTPReply(550, "5.7.1", "From: header address not owned by the authenticated user")
                    }
                } catch {
                    logger.error("From: ownership check failed", metadata: ["error": "\(error)"])
                    return SMTPReply(451, "4.3.0", "Temporary failure, try again later")
                }
            }
        }
        // What goes before the body: trace and authentication fields, then the header section.
        var lead = self.receivedHeader(transaction: transaction, clientName: machine.clientName ?? "unknown",
                                       extended: machine.usedExtendedHello, tls: machine.tlsActive,
                                       authenticated: machine.authenticatedAs != nil, peer: peer)
        var headerSection = message.header
        var quarantined = false
        if let account = machine.authenticatedAs, let bodyHash = message.bodyHash() {
            do {
                // Signatures go first, above our Received:, as a signing filter puts them (not signed).
                // The author's domain (which the user was checked to own), else the account's.
                let domain = DKIMDomainSigner.authorDomain(of: message.header) ?? account.domain.lowercased()
                lead = try await self.signer.signatureFields(
                    header: message.header, bodyHash: bodyHash, domain: domain, logger: logger) + lead
            } catch {
                logger.error("DKIM keys cannot be read", metadata: ["error": "\(error)"])
                return SMTPReply(451, "4.3.0", "Temporary failure, message not accepted, try again later")
            }
        } else if machine.authenticatedAs == nil, let inbound = self.inbound {
            let outcome = await inbound.check(
                &message, peer: peer, sender: transaction.sender, helo: machine.clientName ?? "",
                recipientDomains: Set(transaction.recipients.map { $0.address.domain.lowercased() }), logger: logger)
            switch outcome.disposition {
            case .reject(let reply): return reply
            case .quarantine: quarantined = true
            case .accept: break
            }
            lead = outcome.field + lead
            headerSection = outcome.header
        }
        let envelope = Envelope(
            sender: transaction.sender, recipients: transaction.recipients,
            envelopeID: transaction.parameters.envelopeID, returnContent: transaction.parameters.returnContent?.rawValue,
            authenticatedAs: machine.authenticatedAs?.description, quarantined: quarantined)
        do {
            let accepted: AcceptedMessage
            switch content {
            case .whole(let body):
                accepted = try await self.store.acceptMessage(Data(lead.utf8) + headerSection + body, envelope: envelope)
            case .uploaded(let upload):
                // The upload holds the body: the header section goes in the leading piece.
                accepted = try await self.store.acceptMessage(
                    upload, leadingWith: Data(lead.utf8) + headerSection, header: Data(), envelope: envelope)
            }
            logger.info("message accepted", metadata: ["queue.id": "\(accepted.id)", "recipients": "\(accepted.recipientCount)"])
            return SMTPReply(250, "2.0.0", "Ok: queued as \(accepted.id)")
        } catch {
            logger.error("cannot queue message", metadata: ["error": "\(error)"])
            if case .storageFull = error { return Self.insufficientStorage }
            return SMTPReply(451, "4.3.0", "Temporary failure, message not accepted, try again later")
        }
    }

    static let insufficientStorage = SMTPReply(452, "4.3.1", "Insufficient system storage, try again later")

    /// RFC 5321 §4.4 trace header. The client's EHLO name passed the parser's domain check, so it
    /// holds no characters that could break the header.
    func receivedHeader(transaction: SMTPSessionStateMachine.Transaction, clientName: String, extended: Bool,
                        tls: Bool, authenticated: Bool, peer: SocketAddress?) -> String {
        let address = peer?.ipAddress.map { "[\($0)]" } ?? "unknown"
        // RFC 3848 / RFC 6531 protocol names: S for TLS.
        let base = transaction.parameters.smtpUTF8 ? "UTF8SMTP" : (extended ? "ESMTP" : "SMTP")
        let protocolName = base + (tls ? "S" : "") + (authenticated ? "A" : "")
        var header = "Received: from \(clientName) (\(address))\r\n\tby \(self.hostname) (Estafeta) with \(protocolName)"
        if transaction.recipients.count == 1, let recipient = transaction.recipients.first {
            header += "\r\n\tfor <\(recipient.address)>"
        }
        header += "; \(MessageDate.format(Date()))\r\n"
        return header
    }
}
