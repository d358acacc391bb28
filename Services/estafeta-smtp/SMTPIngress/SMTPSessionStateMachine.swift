import MailFormat
import MailStore
import SMTPProtocol

/// The SMTP conversation rules (RFC 5321 §4.1.4 command order, limits, relay policy) as a pure value:
/// events in, actions out. No I/O, no store access, no traps on any input.
struct SMTPSessionStateMachine: Sendable {
    enum Listener: Sendable { case mx, submission }

    struct Transaction: Sendable {
        var sender: EmailAddress?
        var parameters: MailParameters
        var recipients: [Envelope.Recipient] = []
        /// BDAT was used: DATA is no longer allowed in this transaction (RFC 3030 §3).
        var chunking = false
    }

    enum State: Sendable {
        case awaitingHello
        case ready(clientName: String, extended: Bool)
        case transaction(clientName: String, extended: Bool, Transaction)
    }

    enum Action: Sendable, Equatable {
        case reply(SMTPReply)
        case replyAndClose(SMTPReply)
        /// Look the recipient up in the store, then call `recipientResolved`.
        case checkRecipient(EmailAddress, RecipientParameters)
        /// Answer 354 and read the content.
        case startData(maximumSize: Int)
        /// Answer 220 and start TLS; then call `tlsEstablished`.
        case startTLS
        /// Run the SASL exchange; then call `authenticated` or `authenticationFailed`.
        case authenticate(mechanism: String, initialResponse: String?)
        /// Check that the authenticated account may use this envelope sender; then `senderChecked`.
        case checkSender(EmailAddress?, MailParameters, account: EmailAddress)
    }

    struct Limits: Sendable {
        var maximumMessageSize: Int
        var maximumRecipients: Int
        var maximumErrors: Int
    }

    let hostname: String
    let listener: Listener
    let limits: Limits
    /// STARTTLS can be offered (a certificate is loaded and the connection is not TLS yet).
    let startTLSAvailable: Bool
    /// The connection runs over TLS (implicit TLS, or after STARTTLS).
    private(set) var tlsActive: Bool
    /// Operators may allow AUTH without TLS (RFC 8314 discourages it); off by default.
    let plaintextAuthAllowed: Bool
    /// The account this session logged in as (submission).
    private(set) var authenticatedAs: EmailAddress?
    private(set) var state = State.awaitingHello
    private(set) var errors = 0
    private(set) var authenticationFailures = 0
    /// NOOP, RSET, VRFY and HELP since the last message: harmless alone, a way to hold a connection
    /// open when repeated. Past `maximumJunkCommands` each counts as an error.
    private(set) var junkCommands = 0
    static let maximumJunkCommands = 100
    /// SMTPUTF8 accepted for this transaction (RCPT may then carry UTF-8).
    var utf8Paths: Bool {
        if case .transaction(_, _, let transaction) = self.state { return transaction.parameters.smtpUTF8 }
        return false
    }

    init(
        hostname: String, listener: Listener, limits: Limits, implicitTLS: Bool, startTLSAvailable: Bool,
        plaintextAuthAllowed: Bool = false
    ) {
        self.hostname = hostname
        self.listener = listener
        self.limits = limits
        self.tlsActive = implicitTLS
        self.startTLSAvailable = startTLSAvailable
        self.plaintextAuthAllowed = plaintextAuthAllowed
    }

    /// AUTH is offered on submission, over TLS (or where the operator allows plaintext), until used.
    var authenticationOffered: Bool {
        self.listener == .submission && (self.tlsActive || self.plaintextAuthAllowed) && self.authenticatedAs == nil
    }

    var extensions: [String] {
        var extensions = [
            "PIPELINING", "SIZE \(self.limits.maximumMessageSize)", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
            "DSN", "CHUNKING",
        ]
        // RFC 3207 §4.2: not offered again once TLS is active.
        if self.startTLSAvailable && !self.tlsActive { extensions.append("STARTTLS") }
        if self.authenticationOffered { extensions.append("AUTH PLAIN LOGIN") }
        return extensions
    }

    /// RFC 3207 §4.2: after the handshake the session starts over; the client must EHLO again.
    mutating func tlsEstablished() {
        self.tlsActive = true
        self.state = .awaitingHello
    }

    var clientName: String? {
        switch self.state {
        case .awaitingHello: nil
        case .ready(let name, _), .transaction(let name, _, _): name
        }
    }

    var transaction: Transaction? {
        if case .transaction(_, _, let transaction) = self.state { return transaction }
        return nil
    }

    mutating func syntaxError(_ error: SMTPSyntaxError) -> Action {
        self.failed(SMTPReply(error))
    }

    mutating func receive(_ command: SMTPCommand, pipelinedInputFollows: Bool) -> Action {
        switch command {
        case .ehlo(let name):
            self.state = .ready(clientName: name, extended: true)
            return .reply(.ehlo(greeting: "\(self.hostname) Hello \(name)", extensions: self.extensions))
        case .helo(let name):
            self.state = .ready(clientName: name, extended: false)
            return .reply(SMTPReply(250, nil, self.hostname))
        case .mail(let sender, let parameters):
            return self.mail(sender, parameters)
        case .rcpt(let path, let parameters):
            guard case .transaction(_, _, let transaction) = self.state else {
                return self.failed(SMTPReply(503, "5.5.1", "Need MAIL before RCPT"))
            }
            guard transaction.recipients.count < self.limits.maximumRecipients else {
                return .reply(SMTPReply(452, "4.5.3", "Too many recipients"))
            }
            switch path {
            case .mailbox(let address): return .checkRecipient(address, parameters)
            case .postmaster:
                // RFC 5321 §4.5.1: <Postmaster> is postmaster of this host.
                guard let address = try? EmailAddress(localPart: "postmaster", domain: self.hostname) else {
                    return self.failed(SMTPReply(550, "5.1.1", "No postmaster mailbox here"))
                }
                return .checkRecipient(address, parameters)
            }
        case .data:
            if let transaction = self.transaction, transaction.chunking {
                return self.failed(SMTPReply(503, "5.5.1", "DATA not allowed after BDAT"))
            }
            guard case .transaction(_, _, let transaction) = self.state, !transaction.recipients.isEmpty else {
                // A client that pipelined the message after a DATA we refuse would have its
                // content read as commands; stop talking to it instead.
                if pipelinedInputFollows {
                    return .replyAndClose(SMTPReply(554, "5.5.0", "SMTP protocol synchronization error"))
                }
                return self.failed(SMTPReply(503, "5.5.1", "Need valid RCPT before DATA"))
            }
            return .startData(maximumSize: self.limits.maximumMessageSize)
        case .rset:
            if let name = self.clientName, case .transaction(_, let extended, _) = self.state {
                self.state = .ready(clientName: name, extended: extended)
            }
            return self.junk(SMTPReply(250, "2.0.0", "Ok"))
        case .noop:
            return self.junk(SMTPReply(250, "2.0.0", "Ok"))
        case .quit:
            return .replyAndClose(SMTPReply(221, "2.0.0", "\(self.hostname) Bye"))
        case .vrfy:
            // Never confirm or deny accounts.
            return self.junk(SMTPReply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"))
        case .expn:
            return self.failed(SMTPReply(502, "5.5.1", "EXPN not available"))
        case .help:
            return self.junk(SMTPReply(214, "2.0.0", "See RFC 5321"))
        case .starttls:
            if self.tlsActive { return self.failed(SMTPReply(503, "5.5.1", "TLS already active")) }
            guard self.startTLSAvailable else { return self.failed(SMTPReply(502, "5.5.1", "STARTTLS not available")) }
            if self.transaction != nil {
                return self.failed(SMTPReply(503, "5.5.1", "STARTTLS not allowed during a mail transaction"))
            }
            return .startTLS
        case .auth(let mechanism, let initialResponse):
            return self.auth(mechanism, initialResponse)
        case .bdat:
            // The framing hands BDAT over with its chunk (`.bdat` frames); a bare BDAT line never arrives.
            return self.failed(SMTPReply(503, "5.5.1", "Bad sequence of commands"))
        }
    }

    private mutating func junk(_ reply: SMTPReply) -> Action {
        self.junkCommands += 1
        return self.junkCommands > Self.maximumJunkCommands ? self.failed(reply) : .reply(reply)
    }

    private mutating func auth(_ mechanism: String, _ initialResponse: String?) -> Action {
        guard self.listener == .submission else {
            return self.failed(SMTPReply(503, "5.5.1", "AUTH not available on this port, use submission"))
        }
        guard self.clientName != nil else { return self.failed(SMTPReply(503, "5.5.1", "Send EHLO first")) }
        guard self.authenticatedAs == nil else { return self.failed(SMTPReply(503, "5.5.1", "Already authenticated")) }
        guard self.transaction == nil else {
            return self.failed(SMTPReply(503, "5.5.1", "AUTH not allowed during a mail transaction"))
        }
        // RFC 4954 §4: no password in plaintext unless the operator allows it.
        guard self.tlsActive || self.plaintextAuthAllowed else {
            return self.failed(SMTPReply(538, "5.7.11", "Encryption required for requested authentication mechanism"))
        }
        guard mechanism == "PLAIN" || mechanism == "LOGIN" else {
            return self.failed(SMTPReply(504, "5.5.4", "Unrecognized authentication type"))
        }
        return .authenticate(mechanism: mechanism, initialResponse: initialResponse)
    }

    /// A BDAT chunk may be taken: a transaction with at least one recipient.
    var acceptsChunk: Bool {
        guard let transaction = self.transaction else { return false }
        return !transaction.recipients.isEmpty
    }

    mutating func chunkReceived() {
        if case .transaction(let name, let extended, var transaction) = self.state {
            transaction.chunking = true
            self.state = .transaction(clientName: name, extended: extended, transaction)
        }
    }

    mutating func authenticated(as account: EmailAddress) -> Action {
        self.authenticatedAs = account
        return .reply(SMTPReply(235, "2.7.0", "Authentication successful"))
    }

    /// After `maximumFailures` failed exchanges on one connection it is closed: a guesser has to
    /// reconnect, and meets the per-network penalties again.
    mutating func authenticationFailed(_ reply: SMTPReply, maximumFailures: Int) -> Action {
        self.authenticationFailures += 1
        if self.authenticationFailures >= maximumFailures {
            return .replyAndClose(SMTPReply(421, "4.7.0", "\(self.hostname) Too many failed authentications, closing connection"))
        }
        return self.failed(reply)
    }

    /// The answer of the sender-ownership check for submission.
    mutating func senderChecked(_ sender: EmailAddress?, _ parameters: MailParameters, owned: Bool) -> Action {
        guard case .ready(let name, let extended) = self.state else {
            return self.failed(SMTPReply(503, "5.5.1", "Bad sequence of commands"))
        }
        guard owned else { return self.failed(SMTPReply(553, "5.7.1", "Sender address not owned by the authenticated user")) }
        self.state = .transaction(clientName: name, extended: extended, Transaction(sender: sender, parameters: parameters))
        return .reply(SMTPReply(250, "2.1.0", "Ok"))
    }

    private mutating func mail(_ sender: EmailAddress?, _ parameters: MailParameters) -> Action {
        switch self.state {
        case .awaitingHello:
            return self.failed(SMTPReply(503, "5.5.1", "Send EHLO or HELO first"))
        case .transaction:
            return self.failed(SMTPReply(503, "5.5.1", "Nested MAIL command"))
        case .ready(let name, let extended):
            if let size = parameters.size, size > self.limits.maximumMessageSize {
                return self.failed(SMTPReply(552, "5.3.4", "Message size exceeds fixed maximum message size"))
            }
            if self.listener == .submission {
                // RFC 6409 §4.3: submission needs an authenticated user, who may only send as themself.
                guard let account = self.authenticatedAs else {
                    return self.failed(SMTPReply(530, "5.7.0", "Authentication required"))
                }
                return .checkSender(sender, parameters, account: account)
            }
            self.state = .transaction(clientName: name, extended: extended, Transaction(sender: sender, parameters: parameters))
            return .reply(SMTPReply(250, "2.1.0", "Ok"))
        }
    }

    /// The store's answer for a recipient (MX policy: local domains only, never an open relay).
    mutating func recipientResolved(
        _ address: EmailAddress, _ parameters: RecipientParameters, _ resolution: RecipientResolution
    ) -> Action {
        guard case .transaction(let name, let extended, var transaction) = self.state else {
            return self.failed(SMTPReply(503, "5.5.1", "Need MAIL before RCPT"))
        }
        switch resolution {
        case .notLocal:
            // Only authenticated submission may relay (RFC 6409); the MX never does.
            if self.authenticatedAs == nil { return self.failed(SMTPReply(554, "5.7.1", "Relay access denied")) }
        case .unknownLocal:
            return self.failed(SMTPReply(550, "5.1.1", "No such user here"))
        case .account(_, let enabled, let quota, let used):
            guard enabled else { return self.failed(SMTPReply(550, "5.2.1", "Mailbox disabled")) }
            if let quota, used >= quota { return .reply(SMTPReply(452, "4.2.2", "Mailbox full, try again later")) }
        case .alias, .catchAll:
            break
        }
        let notify = parameters.notify.map { flags in
            flags.isEmpty ? "NEVER" : flags.map(\.rawValue).sorted().joined(separator: ",")
        }
        transaction.recipients.append(
            Envelope.Recipient(address: address, originalRecipient: parameters.originalRecipient, notify: notify))
        self.state = .transaction(clientName: name, extended: extended, transaction)
        return .reply(SMTPReply(250, "2.1.5", "Ok"))
    }

    /// After the content: back to the ready state whatever happened to the message.
    mutating func transactionEnded() {
        self.junkCommands = 0
        if let name = self.clientName, case .transaction(_, let extended, _) = self.state {
            self.state = .ready(clientName: name, extended: extended)
        }
    }

    var usedExtendedHello: Bool {
        switch self.state {
        case .awaitingHello: false
        case .ready(_, let extended), .transaction(_, let extended, _): extended
        }
    }

    /// Counts a failed command; past the limit the client is cut off.
    mutating func failed(_ reply: SMTPReply) -> Action {
        self.errors += 1
        if self.errors > self.limits.maximumErrors {
            return .replyAndClose(SMTPReply(421, "4.7.0", "\(self.hostname) Error: too many errors"))
        }
        return .reply(reply)
    }
}
