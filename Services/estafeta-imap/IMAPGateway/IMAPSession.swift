import Credentials
import Foundation
import IMAPProtocol
import Logging
import MailFormat
import MailStore
import NIOCore
import ServerSupport
import ServiceHost
import ServiceLifecycle

/// One IMAP conversation (RFC 9051, with RFC 3501 behaviour until `ENABLE IMAP4rev2`): not
/// authenticated → authenticated → selected → logout. This file holds the command loop, what each
/// connection state admits (`IMAPCommandKind.admission`) and the dispatch; the commands are carried out
/// by concern in its extensions (`+Select`, `+Mailboxes`, `+Append`, `+Fetch`, `+Sort`, `+Messages`,
/// `+Metadata`, `+QResync`, `+Changes` for IDLE and what changed elsewhere, `+Notify`, `+Updates` for
/// CONTEXT=SEARCH/SORT), and every response is a
/// value written by `IMAPResponseEncoder` or, for message data, `IMAPFetchWriter`.
struct IMAPSession: Sendable {
    typealias Connection = ProtocolConnection<IMAPFrame, IMAPOutput>

    let store: MailStore
    let implicitTLS: Bool
    let plaintextAuthAllowed: Bool
    let login: PasswordLogin
    let maximumAuthFailures: Int
    let appendLimit: Int
    /// Messages stored larger than this are answered a piece at a time (`IMAPLargeMessage`).
    let streamedMessageBytes: Int64
    /// Between `* OK Still here` lines during IDLE.
    let idleKeepalive: Duration
    let watcher: IMAPChangeWatcher
    let userConnections: IMAPUserConnections
    /// The service's, for what goes wrong outside any one connection's answer.
    let logger: Logger

    /// Everything that changes during a session.
    struct State {
        var tls: Bool
        var account: (id: AccountID, address: EmailAddress)?
        var selected: IMAPSelection?
        var rev2 = false
        var utf8 = false
        /// CONDSTORE is on (RFC 7162 §3.1: ENABLE, or the first command that uses it): SELECT tells the
        /// highest modseq and FETCH responses of flag changes carry MODSEQ.
        var condstore = false
        /// QRESYNC is on (ENABLE QRESYNC): expunges are told as VANISHED (RFC 7162 §3.2).
        var qresync = false
        /// COMPRESS=DEFLATE is on (RFC 4978); it stays for the connection's life, through UNAUTHENTICATE.
        var compressed = false
        var authFailures = 0
        var invalidBeforeLogin = 0
        /// UIDs of the last `SEARCH RETURN (SAVE)` (RFC 5182), for `$`.
        var savedSearch: [UInt32] = []
        /// The large APPEND literal arriving in pieces, for the command that names it.
        var appendLiteral: IMAPAppendLiteral?
        /// What NOTIFY (RFC 5465) asked to be told, and what it last told.
        var notifier: IMAPNotifier?

        /// Where the connection stands (RFC 9051 §3), which decides the commands it admits.
        var connectionState: IMAPConnectionState {
            guard self.account != nil else { return .notAuthenticated }
            guard let selected = self.selected else { return .authenticated }
            return .selected(readOnly: selected.readOnly)
        }
    }

    /// What the session does after a command: the encoded responses to send, and what comes with them.
    enum Next {
        case send(ByteBuffer)
        case close(ByteBuffer)
        case startTLS(ByteBuffer)
        case startCompression(ByteBuffer)
    }

    static let shutdownReply = IMAPResponseEncoder.bye("Server shutting down", code: .unavailable)

    func run(on connection: Connection) async throws {
        let gate = SessionShutdownGate()
        var state = State(tls: self.implicitTLS)
        defer { if let account = state.account { self.userConnections.release(account.id) } }
        do {
            try await self.serve(connection, state: &state, gate: gate)
        } catch {
            // An APPEND literal cut off with the connection is not a message.
            if var literal = state.appendLiteral.take() { await literal.discard() }
            throw error
        }
        if var literal = state.appendLiteral.take() { await literal.discard() }
    }

    private func serve(_ connection: Connection, state: inout State, gate: SessionShutdownGate) async throws {
        let channel = connection.channel
        try await withGracefulShutdownHandler {
            let greeting = IMAPResponse.status(tag: nil, .ok, .capability(self.capabilities(state)), "Estafeta IMAP server ready")
            try await connection.outbound.write(.send(Self.encoder(state).encode(greeting)))
            let shortcut = IMAPFetchShortcut(store: self.store, streamedMessageBytes: self.streamedMessageBytes)
            try await connection.outbound.write(.answerFetches(with: shortcut))
            var frames = connection.inbound.makeAsyncIterator()
            while true {
                guard gate.willAwaitInput() else {
                    try await connection.outbound.write(.sendAndClose(Self.shutdownReply))
                    return
                }
                let frame: IMAPFrame?
                if state.notifier != nil {
                    frame = try await self.nextFrameNotifying(state: &state, connection: connection, frames: &frames)
                } else {
                    // The selection is lent to the connection's shortcut while this waits.
                    shortcut.park(state.selected.take(), utf8: state.utf8, rev2: state.rev2)
                    frame = try await frames.next()
                    state.selected = shortcut.unpark()
                }
                guard let frame, gate.willWork() else { return }
                let next: Next
                if case .literalPiece(let piece) = frame {
                    var literal = state.appendLiteral ?? IMAPAppendLiteral(store: self.store)
                    await literal.add(piece)
                    state.appendLiteral = literal
                    continue
                }
                // Pieces belong only to the command that comes right after them.
                var namesLiteral = false
                if case .command(let bytes) = frame { namesLiteral = bytes.streamedLiteral != nil }
                if !namesLiteral, var literal = state.appendLiteral.take() { await literal.discard() }
                switch frame {
                case .continuationRequest, .literalPiece:
                    continue
                case .lineTooLong(let tag):
                    next = self.send([.status(tag: tag, .bad, nil, "Line too long")], state)
                case .literalTooLarge(let tag) where state.account == nil:
                    next = self.bad(tag, "Literals before login are limited to \(IMAPFramingLimits.maximumLiteralSizeBeforeLogin) octets", state: &state)
                case .literalTooLarge(let tag):
                    next = self.send([.status(tag: tag, .no, .tooBig, "Literal too large")], state)
                case .fatal(_, let reason):
                    next = .close(Self.encoder(state).encode(.status(tag: nil, .bye, .tooBig, reason)))
                case .command(let bytes):
                    switch IMAPCommandParser(utf8Enabled: state.utf8).parse(bytes) {
                    case .failure(let failure) where failure.error.exceedsLimit:
                        next = self.send([.status(tag: failure.tag, .bad, nil, failure.error.message)], state)
                    case .failure(let failure):
                        next = self.bad(failure.tag, failure.error.message, state: &state)
                    case .success(let command):
                        next = try await self.handle(command, state: &state, connection: connection, frames: &frames)
                    }
                    // A streamed literal the command did not take (it failed, or was not an APPEND).
                    if var literal = state.appendLiteral.take() { await literal.discard() }
                }
                switch next {
                case .send(let buffer): try await connection.outbound.write(.send(buffer))
                case .close(let buffer):
                    try await connection.outbound.write(.sendAndClose(buffer))
                    return
                case .startTLS(let buffer):
                    try await connection.outbound.write(.sendThenStartTLS(buffer))
                    state.tls = true
                case .startCompression(let buffer):
                    try await connection.outbound.write(.sendThenCompress(buffer))
                }
            }
        } onGracefulShutdown: {
            if gate.shutDown() {
                channel.writeAndFlush(IMAPOutput.sendAndClose(Self.shutdownReply), promise: nil)
            }
        }
    }

    /// BAD, and before login a limit on how many.
    func bad(_ tag: String, _ text: String, state: inout State) -> Next {
        let reply = IMAPResponse.status(tag: tag, .bad, nil, text)
        guard state.account == nil else { return self.send([reply], state) }
        state.invalidBeforeLogin += 1
        if state.invalidBeforeLogin > 3 {
            return .close(Self.encoder(state).encode([reply, .status(tag: nil, .bye, nil, "Too many invalid IMAP commands")]))
        }
        return self.send([reply], state)
    }

    /// How responses are written in this session (mailbox names and strings in UTF-8 once enabled).
    static func encoder(_ state: State) -> IMAPResponseEncoder {
        IMAPResponseEncoder(utf8: state.utf8, utf8Strings: state.utf8 || state.rev2)
    }

    func send(_ responses: [IMAPResponse], _ state: State) -> Next {
        .send(Self.encoder(state).encode(responses))
    }

    /// A tagged NO.
    func no(_ tag: String, _ code: IMAPResponseCode?, _ text: String, _ state: State) -> Next {
        self.send([.status(tag: tag, .no, code, text)], state)
    }

    /// The untagged responses, then the tagged OK.
    func reply(_ tag: String, _ text: String, _ untagged: [IMAPResponse], _ state: State, code: IMAPResponseCode? = nil) -> Next {
        self.send(untagged + [.status(tag: tag, .ok, code, text)], state)
    }

    func capabilities(_ state: State) -> [String] {
        var items = [
            "IMAP4rev2", "IMAP4rev1", "LITERAL+", "ENABLE", "ID", "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "ESEARCH", "SEARCHRES", "IDLE",
            "BINARY", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "APPENDLIMIT=\(self.appendLimit)", "STATUS=SIZE",
            "QUOTA", "QUOTA=RES-STORAGE", "CONDSTORE", "QRESYNC", "SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
            "OBJECTID", "SAVEDATE", "PREVIEW", "MULTIAPPEND", "PARTIAL", "METADATA", "METADATA-SERVER", "CATENATE", "NOTIFY", "CONTEXT=SEARCH", "CONTEXT=SORT",
        ]
        if state.account == nil {
            if !state.tls { items.append("STARTTLS") }
            if state.tls || self.plaintextAuthAllowed {
                items += ["AUTH=PLAIN", "SASL-IR"]
            } else {
                items.append("LOGINDISABLED")
            }
        } else {
            items += ["UTF8=ACCEPT", "UNAUTHENTICATE", "COMPRESS=DEFLATE"]
        }
        return items
    }

    func handle(
        _ command: IMAPCommand, state: inout State, connection: Connection,
        frames: inout NIOAsyncChannelInboundStream<IMAPFrame>.AsyncIterator
    ) async throws -> Next {
        let tag = command.tag
        func no(_ code: IMAPResponseCode?, _ text: String) -> Next { self.no(tag, code, text, state) }
        switch command.kind.admission(in: state.connectionState, tls: state.tls, plaintextAuthAllowed: self.plaintextAuthAllowed) {
        case .proceed: break
        case .bad(let text): return self.bad(tag, text, state: &state)
        case .no(let code, let text): return no(code, text)
        }
        switch command.kind {
        case .capability:
            return self.reply(tag, "CAPABILITY completed", [.capability(self.capabilities(state))], state)
        case .noop, .check:
            return try await self.completed(tag, "\(command.kind == .noop ? "NOOP" : "CHECK") completed", state: &state)
        case .logout:
            return .close(Self.encoder(state).encode([.status(tag: nil, .bye, nil, "Logging out"), .status(tag: tag, .ok, nil, "LOGOUT completed")]))
        case .id:
            return self.reply(tag, "ID completed", [.id([IMAPIDField("name", "Estafeta")])], state)
        case .startTLS:
            return .startTLS(Self.encoder(state).encode(.status(tag: tag, .ok, nil, "Begin TLS negotiation now")))
        case .login(let user, let password):
            return try await self.login(tag, user: user, password: password, state: &state, connection: connection)
        case .authenticate(let mechanism, let initialResponse):
            guard mechanism == "PLAIN" else { return no(nil, "Unsupported authentication mechanism") }
            var response = initialResponse
            if response == nil {
                try await connection.outbound.write(.send(Self.encoder(state).encode(.continuation(""))))
                guard let frame = try await frames.next() else { return .close(ByteBuffer()) }
                guard case .command(let bytes) = frame, bytes.literals.isEmpty, let line = bytes.lines.first else {
                    return self.bad(tag, "Invalid SASL response", state: &state)
                }
                response = String(decoding: line, as: UTF8.self)
            }
            guard let response, response != "*" else { return self.bad(tag, "Authentication cancelled", state: &state) }
            guard let credentials = try? SASL.plain(base64: response) else {
                return self.bad(tag, "Malformed PLAIN response", state: &state)
            }
            return try await self.login(tag, user: credentials.loginUser, password: credentials.password, state: &state, connection: connection)
        case .unauthenticate:
            guard let account = state.account else { return self.bad(tag, "Not authenticated", state: &state) }
            // RFC 8437 §3: the selected mailbox is left without expunging, and what ENABLE turned on is
            // off again; TLS stays. The connection counts against the user no more.
            self.userConnections.release(account.id)
            let (authFailures, compressed) = (state.authFailures, state.compressed)  // failed logins still count
            state = State(tls: state.tls)
            state.authFailures = authFailures
            state.compressed = compressed
            try await connection.outbound.write(.loggedOut)
            connection.context.logger.info("unauthenticated", metadata: ["account": "\(account.address)"])
            return self.reply(tag, "UNAUTHENTICATE completed", [], state)
        case .idle:
            return try await self.idle(tag, state: &state, connection: connection, frames: &frames)
        default:
            break
        }
        guard let account = state.account else { return self.bad(tag, "Log in first", state: &state) }
        do {
            return try await self.authenticated(command, account: account.id, state: &state, connection: connection)
        } catch let error as MailStoreError {
            switch error {
            case .unknownMailbox: return no(.nonExistent, "No such mailbox")
            case .mailboxExists: return no(.alreadyExists, "Mailbox already exists")
            case .invalidMailboxName: return no(.cannot, "Invalid mailbox name")
            case .mailboxProtected: return no(.cannot, "This mailbox cannot be changed so")
            case .mailboxHasChildren: return no(.hasChildren, "Delete the mailboxes below it first")
            case .overQuota: return no(.overQuota, "The account's quota would be exceeded")
            case .storageFull: return no(.limit, "Not enough storage on the server now, try again later")
            default:
                connection.context.logger.error("store error", metadata: ["error": "\(error)"])
                return no(.unavailable, "Try again later")
            }
        }
    }

    func login(_ tag: String, user: String, password: String, state: inout State, connection: Connection) async throws -> Next {
        let logger = connection.context.logger
        let unavailable = self.no(tag, .unavailable, "Cannot check the login now, try again later", state)
        let address: EmailAddress
        switch try await self.login.attempt(user: user, password: password, from: connection.context.remoteAddress, logger: logger) {
        case .accepted(let accepted): address = accepted
        case .lockedOut:
            return .close(Self.encoder(state).encode(.status(tag: tag, .no, .unavailable, "Too many failed logins, try again later")))
        case .unavailable: return unavailable
        case .refused:
            state.authFailures += 1
            var replies = [IMAPResponse.status(tag: tag, .no, .authenticationFailed, "Authentication failed")]
            guard state.authFailures >= self.maximumAuthFailures else { return self.send(replies, state) }
            replies.append(.status(tag: nil, .bye, nil, "Too many failed logins"))
            return .close(Self.encoder(state).encode(replies))
        }
        let account: Account
        do {
            account = try await self.store.account(address)
        } catch {
            logger.error("login unavailable: store error", metadata: ["error": "\(error)"])
            return unavailable
        }
        guard self.userConnections.acquire(account.id) else {
            connection.context.logger.notice("login refused: connection limit", metadata: ["account": "\(address)"])
            return self.no(tag, .limit, "Too many connections for this user, close one and try again", state)
        }
        state.account = (account.id, address)
        try await connection.outbound.write(.loggedIn)
        connection.context.logger.info("logged in", metadata: ["account": "\(address)"])
        return self.reply(tag, "Logged in", [], state, code: .capability(self.capabilities(state)))
    }

    /// Commands of the authenticated and selected states.
    func authenticated(
        _ command: IMAPCommand, account: AccountID, state: inout State, connection: Connection
    ) async throws -> Next {
        let tag = command.tag
        func no(_ code: IMAPResponseCode?, _ text: String) -> Next { self.no(tag, code, text, state) }
        switch command.kind {
        case .enable(let capabilities):
            var enabled: [String] = []
            for capability in capabilities {
                if capability == "IMAP4REV2", !state.rev2 { state.rev2 = true; enabled.append("IMAP4rev2") }
                if capability == "UTF8=ACCEPT", !state.utf8 { state.utf8 = true; enabled.append("UTF8=ACCEPT") }
                if capability == "CONDSTORE", !state.condstore {
                    Self.enableCondstore(&state)
                    enabled.append("CONDSTORE")
                }
                // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
                if capability == "QRESYNC", !state.qresync {
                    Self.enableCondstore(&state)
                    state.qresync = true
                    state.selected?.reportsVanished = true
                    enabled.append("QRESYNC")
                }
            }
            return self.reply(tag, "ENABLE completed", [.enabled(enabled)], state)
        case .namespace:
            return self.reply(tag, "NAMESPACE completed", [.namespace(prefix: "", delimiter: "/")], state)
        case .compress(let mechanism):
            // RFC 4978 §3: after login only, so that nothing secret shares a compression history with
            // what an attacker chose before authentication.
            guard mechanism == "DEFLATE" else { return self.bad(tag, "Unknown compression mechanism", state: &state) }
            guard !state.compressed else { return no(.compressionActive, "DEFLATE is already active") }
            state.compressed = true
            return .startCompression(Self.encoder(state).encode(.status(tag: tag, .ok, nil, "DEFLATE active")))
        case .select(let name, let readOnly, let condstore, let qresync):
            return try await self.select(tag, name, readOnly: readOnly, condstore: condstore, qresync: qresync, account: account, state: &state)
        case .create(let name, _) where !name.isWellEncoded, .rename(_, let name) where !name.isWellEncoded,
            .subscribe(let name) where !name.isWellEncoded:
            return no(.cannot, "The mailbox name is not valid modified UTF-7")
        case .create(let name, let use):
            return try await self.create(tag, name, use: use, account: account, state: &state)
        case .list(let reference, let patterns, let selection, let returning, let statusItems):
            return try await self.list(
                tag, reference: reference, patterns: patterns, selection: selection, returning: returning, statusItems: statusItems,
                account: account, state: &state)
        case .lsub(let reference, let pattern):
            let subscribed = try await self.store.subscriptions(of: account)
            return self.reply(tag, "LSUB completed", Self.lsubLines(subscribed, pattern: reference + pattern), state)
        case .status(let name, let attributes):
            if attributes.contains(.highestModSeq) { Self.enableCondstore(&state) }
            let mailbox = try await self.mailbox(named: name.name, of: account)
            let status = try await self.store.mailboxStatus(mailbox.id)
            let line = IMAPResponse.mailboxStatus(mailbox: mailbox.name, try await self.statusItems(attributes, of: status))
            return try await self.completed(tag, "STATUS completed", untagged: [line], state: &state)
        case .append(let name, let messages):
            return try await self.append(tag, to: name, messages, account: account, state: &state)
        case .getQuotaRoot(let name):
            let mailbox = try await self.mailbox(named: name.name, of: account)
            guard let quota = try await self.quotaLine(state) else {
                return self.reply(tag, "GETQUOTAROOT completed", [.quotaRoot(mailbox: mailbox.name, roots: [])], state)
            }
            return self.reply(tag, "GETQUOTAROOT completed", [.quotaRoot(mailbox: mailbox.name, roots: [""]), quota], state)
        case .getQuota(let root):
            guard root.isEmpty, let quota = try await self.quotaLine(state) else { return no(.nonExistent, "No such quota root") }
            return self.reply(tag, "GETQUOTA completed", [quota], state)
        case .setQuota:
            return no(.noPerm, "Quotas are set by the mail administrator")
        case .notify(let request):
            return try await self.notify(tag, request, account: account, state: &state)
        case .getMetadata(let name, let entries, let maxSize, let depth):
            return try await self.getMetadata(tag, mailbox: name, entries: entries, maxSize: maxSize, depth: depth, account: account, state: &state)
        case .setMetadata(let name, let values):
            return try await self.setMetadata(tag, mailbox: name, values: values, account: account, state: &state)
        case .subscribe(let name), .unsubscribe(let name):
            if case .subscribe = command.kind {
                try await self.store.setSubscribed(true, mailbox: name.name, of: account)
            } else {
                try await self.store.setSubscribed(false, mailbox: name.name, of: account)
            }
            return try await self.completed(tag, "Done", state: &state)
        case .delete(let name):
            guard name.name != "INBOX" else { return no(.cannot, "INBOX cannot be deleted") }
            if state.selected?.mailbox.name == name.name { state.selected = nil }
            try await self.store.deleteMailbox(named: name.name, of: account)
            return try await self.completed(tag, "DELETE completed", state: &state)
        case .rename(let from, let to):
            let trimmed = to.name.hasSuffix("/") ? String(to.name.dropLast()) : to.name
            try await self.store.renameMailbox(from: from.name, to: trimmed, of: account)
            return try await self.completed(tag, "RENAME completed", state: &state)
        default:
            break
        }
        return try await self.selected(command, state: &state, connection: connection)
    }

    /// Commands of the selected state. The selection is read and changed where it lies in `state`,
    /// never through a copy: a copy would duplicate its per-message tables at the first change (a
    /// STORE in a mailbox of 1,000 messages copied them all).
    func selected(_ command: IMAPCommand, state: inout State, connection: Connection) async throws -> Next {
        let tag = command.tag
        guard let mailbox = state.selected?.mailbox.id, let readOnly = state.selected?.readOnly else {
            return self.bad(tag, "Select a mailbox first", state: &state)
        }
        // The messages of the selection flagged \Deleted, among `uids` when given.
        func deleted(among uids: Set<UInt32>? = nil) -> [UInt32] {
            guard let selection = state.selected else { return [] }
            return zip(selection.uids, selection.flags).compactMap { uid, flags in
                uids?.contains(uid) != false && flags.contains("\\Deleted") ? uid : nil
            }
        }
        switch command.kind {
        case .close, .unselect:
            if command.kind == .close, !readOnly {
                try await self.store.expunge(uids: deleted(), in: mailbox)
            }
            state.selected = nil
            return self.reply(tag, command.kind == .close ? "CLOSE completed" : "UNSELECT completed", [], state)
        case .expunge, .uidExpunge:
            var wanted: Set<UInt32>?
            if case .uidExpunge(let set) = command.kind { wanted = Set(self.targets(set, byUID: true, state: state)) }
            let removed = try await self.store.expunge(uids: deleted(among: wanted), in: mailbox)
            let lines = state.selected?.expungeLines(removed) ?? []
            return try await self.completed(tag, "EXPUNGE completed", untagged: lines, state: &state)
        case .store(let set, let action, let byUID):
            return try await self.storeFlags(tag, set, action, byUID: byUID, in: mailbox, state: &state)
        case .fetch(let set, let attributes, let byUID, let changedSince, let vanished, let partial):
            if vanished && !state.qresync { return self.bad(tag, "VANISHED needs ENABLE QRESYNC first", state: &state) }
            if changedSince != nil || attributes.contains(.modSeq) { Self.enableCondstore(&state) }
            var prefix: [IMAPResponse] = []
            if vanished, let changedSince, let selection = state.selected {
                // UIDs of the set expunged since CHANGEDSINCE, before the FETCH responses (RFC 7162 §3.2.6).
                let named = set.resolved(largest: max(selection.largestUID, 1))
                prefix = try await self.vanishedEarlier(since: changedSince, among: named, in: selection)
            }
            return try await self.fetch(
                tag, set: set, attributes: attributes, byUID: byUID, changedSince: changedSince, partial: partial, untagged: prefix,
                state: &state, connection: connection)
        case .search(let charset, let key, let returning, let byUID):
            // RFC 9051 §6.4.4: an unsupported charset is NO [BADCHARSET], not BAD.
            if let charset, charset != "UTF-8", charset != "US-ASCII" {
                return self.no(tag, .badCharset(["UTF-8", "US-ASCII"]), "Unsupported charset", state)
            }
            if IMAPSearch.usesModSeq(key) { Self.enableCondstore(&state) }
            return try await self.search(tag, key: key, returning: returning, byUID: byUID, state: &state)
        case .sort(let criteria, let charset, let key, let byUID, let returning):
            return try await self.sort(
                tag, criteria: criteria, charset: charset, key: key, byUID: byUID, returning: returning, state: &state)
        case .thread(let algorithm, let charset, let key, let byUID):
            return try await self.thread(tag, algorithm: algorithm, charset: charset, key: key, byUID: byUID, state: &state)
        case .cancelUpdate(let tags):
            return try await self.cancelUpdate(tag, tags: tags, state: &state)
        case .copy(let set, let name, let byUID), .move(let set, let name, let byUID):
            let isMove: Bool = if case .move = command.kind { true } else { false }
            return try await self.copy(tag, set, to: name, byUID: byUID, move: isMove, from: mailbox, state: &state)
        default:
            return self.no(tag, .cannot, "Not supported by this server yet", state)
        }
    }

    /// Turns CONDSTORE on for the rest of the session (RFC 7162 §3.1), the selected mailbox included.
    static func enableCondstore(_ state: inout State) {
        state.condstore = true
        state.selected?.reportsModSeq = true
    }

    /// The UIDs a sequence set names in the selected mailbox.
    func targets(_ set: IMAPSequenceSet, byUID: Bool, state: State) -> [UInt32] {
        state.selected?.targets(set, byUID: byUID, saved: state.savedSearch) ?? []
    }

    /// The tagged OK, preceded by the command's own lines and by what changed in the selected mailbox
    /// meanwhile (other sessions, other processes, deliveries, POP3): EXISTS, FETCH FLAGS, and EXPUNGE
    /// only where sequence numbers may change (RFC 9051 §7.5.1).
    func completed(
        _ tag: String, _ text: String, code: IMAPResponseCode? = nil, untagged: [IMAPResponse] = [], prefix: consuming ByteBuffer = ByteBuffer(),
        expungesAllowed: Bool = true, state: inout State
    ) async throws -> Next {
        // Moved, not copied: a FETCH's answer can be a megabyte.
        var output = consume prefix
        let encoder = Self.encoder(state)
        for response in untagged { encoder.write(response, into: &output) }
        // Taken out of the state while it changes, so it has a single owner and its tables are updated
        // in place instead of copied; put back however this ends.
        var closingReply: IMAPResponse?
        if var selection = state.selected.take() {
            defer { state.selected = selection }
            var lines = try await Self.synchronise(&selection, store: self.store, expungesAllowed: expungesAllowed)
            // After EXISTS and the flag changes that caused them (RFC 5267 §4.3.3).
            if !selection.updatingSearches.isEmpty { lines += try await self.updates(of: &selection, saved: state.savedSearch) }
            for response in lines { encoder.write(response, into: &output) }
            closingReply = selection.closingReply
        }
        // The session cannot stay in a mailbox that is gone (Dovecot too disconnects) or that it can
        // no longer follow; BYE before the tagged OK, so a client reading up to its tag has heard it
        // (RFC 9051 §7.1.5).
        if let closingReply { encoder.write(closingReply, into: &output) }
        encoder.write(.status(tag: tag, .ok, code, text), into: &output)
        return closingReply == nil ? .send(output) : .close(output)
    }
}
