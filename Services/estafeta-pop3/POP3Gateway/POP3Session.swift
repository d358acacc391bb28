import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import NIOCore
import POP3Protocol
import ServerSupport
import ServiceHost
import ServiceLifecycle

/// One POP3 conversation (RFC 1939): AUTHORIZATION (USER/PASS, AUTH PLAIN, STLS, CAPA), TRANSACTION on
/// the INBOX as it was at login, and UPDATE at QUIT only: a session that ends any other way deletes
/// nothing. The maildrop is leased exclusively for the session (`-ERR [IN-USE]` to a second one) and
/// the lease is renewed while the session lives.
struct POP3Session: Sendable {
    typealias Connection = ProtocolConnection<InboundLine, CommandLineOutput>

    let store: MailStore
    let implicitTLS: Bool
    let plaintextAuthAllowed: Bool
    let login: PasswordLogin
    let maximumAuthFailures: Int
    /// Errors (bad or misplaced commands, over-long lines) before the connection is closed.
    let maximumErrors: Int
    let lockDuration: Duration

    private enum State {
        case authorization(user: String?)
        case transaction(POP3Transaction)
    }

    /// What to do after a command.
    private enum Next {
        case send([UInt8])
        case close([UInt8])
        case startTLS([UInt8])
    }

    static let greeting = "Estafeta POP3 server ready"
    static let errorPrefix = Array("-ERR".utf8)
    static let goodbye = POP3Response.err("Server shutting down", code: .systemTemporary)

    func run(on connection: Connection) async throws {
        let gate = SessionShutdownGate()
        let channel = connection.channel
        let owner = "pop3/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(12))"
        var state = State.authorization(user: nil)
        var tls = self.implicitTLS
        var authFailures = 0
        var errors = 0
        var renewal: Task<Void, Never>?
        defer { renewal?.cancel() }
        do {
            try await withGracefulShutdownHandler {
                try await connection.outbound.write(.send(ByteBuffer(bytes: POP3Response.ok(Self.greeting))))
                var lines = connection.inbound.makeAsyncIterator()
                while true {
                    guard gate.willAwaitInput() else {
                        try await connection.outbound.write(.sendAndClose(ByteBuffer(bytes: Self.goodbye)))
                        break
                    }
                    guard let frame = try await lines.next(), gate.willWork() else { break }
                    let next: Next
                    switch frame {
                    case .tooLong:
                        next = .send(POP3Response.err("Line too long"))
                    case .line(let bytes):
                        let parsed: POP3Command
                        do throws(POP3SyntaxError) {
                            parsed = try POP3CommandParser().parse(Array(bytes.readableBytesView))
                        } catch {
                            next = .send(POP3Response.err(error.description))
                            break
                        }
                        next = try await self.handle(
                            parsed, state: &state, tls: &tls, authFailures: &authFailures, owner: owner,
                            renewal: &renewal, connection: connection, lines: &lines)
                    }
                    if case .send(let bytes) = next, bytes.starts(with: Self.errorPrefix) {
                        errors += 1
                        if errors >= self.maximumErrors {
                            try await connection.outbound.write(.sendAndClose(ByteBuffer(bytes: bytes + POP3Response.err("Too many errors, closing connection"))))
                            return
                        }
                    }
                    switch next {
                    case .send(let bytes): try await connection.outbound.write(.send(ByteBuffer(bytes: bytes)))
                    case .close(let bytes):
                        try await connection.outbound.write(.sendAndClose(ByteBuffer(bytes: bytes)))
                        return
                    case .startTLS(let bytes):
                        try await connection.outbound.write(.sendThenStartTLS(ByteBuffer(bytes: bytes)))
                        tls = true
                    }
                }
            } onGracefulShutdown: {
                if gate.shutDown() {
                    // Waiting for a command: nothing is in progress, and nothing is deleted (no QUIT).
                    channel.writeAndFlush(CommandLineOutput.sendAndClose(ByteBuffer(bytes: Self.goodbye)), promise: nil)
                }
            }
        } catch {
            await self.release(state, owner: owner)
            throw error
        }
        await self.release(state, owner: owner)
    }

    /// The lease goes when the session does, however it ended (QUIT, drop, shutdown).
    private func release(_ state: State, owner: String) async {
        if case .transaction(let transaction) = state {
            try? await self.store.unlockMaildrop(of: transaction.account, owner: owner)
        }
    }

    private func handle(
        _ command: POP3Command, state: inout State, tls: inout Bool, authFailures: inout Int, owner: String,
        renewal: inout Task<Void, Never>?, connection: Connection,
        lines: inout NIOAsyncChannelInboundStream<InboundLine>.AsyncIterator
    ) async throws -> Next {
        let logger = connection.context.logger
        switch (command, state) {
        case (.capa, _):
            return .send(POP3Response.multiline("Capability list follows", lines: self.capabilities(state: state, tls: tls)))
        case (.quit, .authorization):
            return .close(POP3Response.ok("Bye"))
        case (.stls, .authorization):
            guard !tls else { return .send(POP3Response.err("Already using TLS")) }
            return .startTLS(POP3Response.ok("Begin TLS negotiation"))
        case (.user(let name), .authorization):
            guard tls || self.plaintextAuthAllowed else {
                return .send(POP3Response.err("Plaintext authentication is not allowed without TLS; use STLS", code: .authentication))
            }
            state = .authorization(user: name)
            return .send(POP3Response.ok("Send your password"))
        case (.pass(let password), .authorization(let user)):
            guard tls || self.plaintextAuthAllowed else {
                return .send(POP3Response.err("Plaintext authentication is not allowed without TLS; use STLS", code: .authentication))
            }
            guard let user else { return .send(POP3Response.err("USER first")) }
            state = .authorization(user: nil)
            return try await self.login(
                user: user, password: password, state: &state, authFailures: &authFailures, owner: owner,
                renewal: &renewal, connection: connection)
        case (.auth(let mechanism, let initialResponse), .authorization):
            guard tls || self.plaintextAuthAllowed else {
                return .send(POP3Response.err("Plaintext authentication is not allowed without TLS; use STLS", code: .authentication))
            }
            guard mechanism == "PLAIN" else { return .send(POP3Response.err("Unsupported authentication mechanism")) }
            var response = initialResponse
            if response == nil {
                try await connection.outbound.write(.send(ByteBuffer(bytes: POP3Response.continuation(""))))
                guard let frame = try await lines.next() else { return .close(POP3Response.err("Connection closing")) }
                guard case .line(let bytes) = frame else { return .send(POP3Response.err("Line too long")) }
                response = String(decoding: bytes.readableBytesView, as: UTF8.self)
            }
            guard let response, response != "*" else { return .send(POP3Response.err("Authentication cancelled")) }
            guard let credentials = try? SASL.plain(base64: response) else {
                return .send(POP3Response.err("Malformed PLAIN response"))
            }
            return try await self.login(
                user: credentials.loginUser, password: credentials.password, state: &state,
                authFailures: &authFailures, owner: owner, renewal: &renewal, connection: connection)
        case (.apop, .authorization):
            return .send(POP3Response.err("APOP is not supported"))
        case (.quit, .transaction(let transaction)):
            // UPDATE (RFC 1939 §6): only now are the marked messages removed, in one transaction.
            renewal?.cancel()
            let uids = transaction.deletedUIDs
            guard !uids.isEmpty else { return .close(POP3Response.ok("Bye")) }
            do {
                let removed = try await self.store.expungeMaildrop(
                    uids: uids, in: transaction.mailbox, account: transaction.account, owner: owner)
                logger.info("maildrop updated", metadata: ["deleted": "\(removed.count)"])
                return .close(POP3Response.ok("Bye, \(uids.count) messages deleted"))
            } catch {
                logger.error("update failed", metadata: ["error": "\(error)"])
                return .close(POP3Response.err("Some deleted messages were not removed", code: .systemTemporary))
            }
        case (.user, .transaction), (.pass, .transaction), (.auth, .transaction), (.apop, .transaction), (.stls, .transaction):
            return .send(POP3Response.err("Already authenticated"))
        case (_, .transaction(let transaction)):
            switch transaction.answer(command) {
            case .reply(let bytes)?: return .send(bytes)
            case .needsContent(let number)?:
                if let message = transaction.message(number), message.size > POP3ReadAhead.maximumBytes {
                    var topLines: Int?
                    if case .top(_, let lines) = command { topLines = lines }
                    return try await self.stream(message, topLines: topLines, in: transaction, connection: connection)
                }
                return await self.readAhead(from: number, answering: command, in: transaction, logger: logger)
            case nil: return .send(POP3Response.err("Not available in this state"))
            }
        case (.stat, .authorization), (.list, .authorization), (.uidl, .authorization), (.retr, .authorization),
            (.top, .authorization), (.dele, .authorization), (.rset, .authorization), (.noop, .authorization):
            return .send(POP3Response.err("Not authenticated"))
        }
    }

    /// A checked login: network lockout, password, the per-connection failure limit, then the maildrop
    /// lease and the INBOX snapshot.
    private func login(
        user: String, password: String, state: inout State, authFailures: inout Int, owner: String,
        renewal: inout Task<Void, Never>?, connection: Connection
    ) async throws -> Next {
        let logger = connection.context.logger
        let address: EmailAddress
        switch try await self.login.attempt(user: user, password: password, from: connection.context.remoteAddress, logger: logger) {
        case .accepted(let accepted): address = accepted
        case .lockedOut: return .close(POP3Response.err("Too many failed logins, try again later", code: .systemTemporary))
        case .unavailable: return .send(POP3Response.err("Cannot check the login now, try again later", code: .systemTemporary))
        case .refused:
            authFailures += 1
            if authFailures >= self.maximumAuthFailures {
                return .close(POP3Response.err("Authentication failed, closing connection", code: .authentication))
            }
            return .send(POP3Response.err("Authentication failed", code: .authentication))
        }
        let account: Account
        do {
            account = try await self.store.account(address)
            guard try await self.store.lockMaildrop(of: account.id, owner: owner, for: self.lockDuration) else {
                return .send(POP3Response.err("Maildrop is in use by another session", code: .inUse))
            }
        } catch {
            logger.error("cannot lock the maildrop", metadata: ["error": "\(error)"])
            return .send(POP3Response.err("Cannot open the maildrop, try again later", code: .systemTemporary))
        }
        do {
            let inbox = try await self.store.mailbox(named: "INBOX", of: account.id)
            let messages = try await self.store.maildropListing(of: inbox.id).map { POP3Maildrop.Message(uid: $0.uid, size: $0.size) }
            let transaction = POP3Transaction(
                account: account.id, mailbox: inbox.id, maildrop: POP3Maildrop(uidValidity: inbox.uidValidity, messages: messages))
            state = .transaction(transaction)
            renewal = self.keepLocked(account.id, owner: owner, logger: logger)
            // From here the connection's event loop answers what it can from memory (see POP3Transaction).
            try await connection.outbound.write(.answerLines(with: transaction))
            let (count, size) = transaction.statistics
            logger.info("logged in", metadata: ["account": "\(address)", "messages": "\(count)"])
            return .send(POP3Response.ok("Logged in, \(count) messages (\(size) octets)"))
        } catch {
            logger.error("cannot open the maildrop", metadata: ["error": "\(error)"])
            try? await self.store.unlockMaildrop(of: account.id, owner: owner)
            return .send(POP3Response.err("Cannot open the maildrop, try again later", code: .systemTemporary))
        }
    }

    /// Renews the maildrop lease at a quarter of its duration until cancelled.
    private func keepLocked(_ account: AccountID, owner: String, logger: Logger) -> Task<Void, Never> {
        let store = self.store
        let duration = self.lockDuration
        return Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: duration / 4)
                if Task.isCancelled { return }
                do {
                    if try await !store.lockMaildrop(of: account, owner: owner, for: duration) {
                        logger.warning("maildrop lease taken over by another session")
                    }
                } catch {
                    logger.warning("cannot renew the maildrop lease", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// RETR or TOP of a message whose content is not in memory: reads the window that starts with it
    /// and answers from that. A message gone by then was expunged over IMAP meanwhile; a store failure
    /// is an error response, not the end of the session.
    private func readAhead(from number: Int, answering command: POP3Command, in transaction: POP3Transaction, logger: Logger) async -> Next {
        guard let window = transaction.readAheadWindow(from: number) else { return .send(POP3Response.err("No such message")) }
        do {
            transaction.replaceReadAhead(with: try await self.store.messageContents(in: transaction.mailbox, uids: window))
        } catch {
            logger.error("cannot read message", metadata: ["error": "\(error)"])
            return .send(POP3Response.err("Cannot read the message, try again later", code: .systemTemporary))
        }
        guard case .reply(let bytes)? = transaction.answer(command) else {
            return .send(POP3Response.err("Message was removed by another session"))
        }
        return .send(bytes)
    }

    /// RETR or TOP of a message larger than the read-ahead window, sent as it is read from the store a
    /// piece at a time, so that the session never holds it whole. Once the `+OK` is out, a failure can
    /// only end the connection: the client could not tell what follows from the message.
    private func stream(
        _ message: POP3Maildrop.Message, topLines: Int?, in transaction: POP3Transaction, connection: Connection
    ) async throws -> Next {
        let logger = connection.context.logger
        var reader: ContentReader
        do {
            guard let found = try await self.store.contentReader(in: transaction.mailbox, uid: message.uid) else {
                return .send(POP3Response.err("Message was removed by another session"))
            }
            reader = found
        } catch {
            logger.error("cannot read message", metadata: ["error": "\(error)"])
            return .send(POP3Response.err("Cannot read the message, try again later", code: .systemTemporary))
        }
        let status = topLines == nil ? POP3Response.ok("\(message.size) octets") : POP3Response.ok("Top of message follows")
        try await connection.outbound.write(.sendPart(ByteBuffer(bytes: status)))
        var encoder = WireLineEncoder(dotStuffing: true, bodyLineLimit: topLines)
        do {
            while !encoder.isFinished, let piece = try await self.store.nextPiece(&reader) {
                var wire: [UInt8] = []
                encoder.append(piece, to: &wire)
                try await connection.outbound.write(.sendPart(ByteBuffer(bytes: wire)))
            }
        } catch {
            logger.error("message unreadable in the middle of its answer, closing", metadata: ["error": "\(error)"])
            return .close([])
        }
        var end: [UInt8] = []
        encoder.finish(to: &end)
        return .send(end + [UInt8(ascii: "."), 13, 10])
    }

    /// RFC 2449 CAPA: USER and SASL only where a login may be attempted (after TLS, unless allowed).
    private func capabilities(state: State, tls: Bool) -> [String] {
        var capabilities = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
        if case .authorization = state {
            if tls || self.plaintextAuthAllowed { capabilities += ["USER", "SASL PLAIN"] }
            if !tls { capabilities.append("STLS") }
        }
        capabilities.append("IMPLEMENTATION Estafeta")
        return capabilities
    }
}
