import Foundation
import MailFormat
import MailStore
import NIOCore
import POP3Protocol
import ServerSupport
import Synchronization

/// The TRANSACTION state of one POP3 session: the maildrop with its deletion marks and the read-ahead
/// window. The session and its connection's line shortcut both answer maildrop commands through
/// `answer(_:)`, so the event loop answers RETR from the window (and STAT, LIST, UIDL, DELE, RSET,
/// NOOP) exactly as the session would, without a trip through the session's task; whatever needs the
/// store (a RETR outside the window, QUIT) or is an error (the session counts errors) goes to the
/// session. The session waits for its next line whenever the shortcut runs; the lock only makes that
/// hand-over safe.
final class POP3Transaction: CommandLineShortcut {
    enum Answer: Equatable {
        case reply([UInt8])
        /// RETR or TOP of message `number`, whose content is not in the window: read the window that
        /// starts with it (`readAheadWindow(from:)`), `replaceReadAhead`, and ask again.
        case needsContent(number: Int)
    }

    let account: AccountID
    let mailbox: MailboxID
    private let state: Mutex<(maildrop: POP3Maildrop, readAhead: POP3ReadAhead)>
    private static let errorPrefix = Array("-ERR".utf8)

    init(account: AccountID, mailbox: MailboxID, maildrop: POP3Maildrop) {
        self.account = account
        self.mailbox = mailbox
        self.state = Mutex((maildrop, POP3ReadAhead()))
    }

    var statistics: (count: Int, size: Int64) { self.state.withLock { $0.maildrop.statistics } }

    /// The UIDs to remove at UPDATE.
    var deletedUIDs: [UInt32] { self.state.withLock { $0.maildrop.deletedUIDs } }

    /// The answer to a TRANSACTION-state command other than QUIT; nil for any other command.
    func answer(_ command: POP3Command) -> Answer? {
        self.state.withLock { state in
            switch command {
            case .stat:
                let (count, size) = state.maildrop.statistics
                return .reply(POP3Response.ok("\(count) \(size)"))
            case .list(let number?):
                guard let message = state.maildrop.message(number) else { return .reply(POP3Response.err("No such message")) }
                return .reply(POP3Response.ok("\(number) \(message.size)"))
            case .list(nil):
                let (count, size) = state.maildrop.statistics
                let maildrop = state.maildrop
                let listing = maildrop.visible.compactMap { number in maildrop.message(number).map { "\(number) \($0.size)" } }
                return .reply(POP3Response.multiline("\(count) messages (\(size) octets)", lines: listing))
            case .uidl(let number?):
                guard let id = state.maildrop.uniqueID(number) else { return .reply(POP3Response.err("No such message")) }
                return .reply(POP3Response.ok("\(number) \(id)"))
            case .uidl(nil):
                let maildrop = state.maildrop
                let listing = maildrop.visible.compactMap { number in maildrop.uniqueID(number).map { "\(number) \($0)" } }
                return .reply(POP3Response.multiline("Unique-ID listing follows", lines: listing))
            case .retr(let number), .top(let number, _):
                guard let message = state.maildrop.message(number) else { return .reply(POP3Response.err("No such message")) }
                guard let content = state.readAhead.content(of: message.uid) else { return .needsContent(number: number) }
                if case .top(_, let count) = command {
                    return .reply(POP3Response.ok("Top of message follows") + POP3Response.content(POP3Response.top(of: Array(content), lines: count)))
                }
                state.readAhead.consume(message.uid)
                return .reply(POP3Response.ok("\(message.size) octets", content: content))
            case .dele(let number):
                guard state.maildrop.markDeleted(number) else {
                    return .reply(POP3Response.err(state.maildrop.messages.indices.contains(number - 1) ? "Message already deleted" : "No such message"))
                }
                return .reply(POP3Response.ok("Message \(number) deleted"))
            case .rset:
                state.maildrop.unmarkAll()
                let (count, size) = state.maildrop.statistics
                return .reply(POP3Response.ok("\(count) messages (\(size) octets)"))
            case .noop:
                return .reply(POP3Response.ok())
            case .user, .pass, .apop, .auth, .stls, .capa, .quit:
                return nil
            }
        }
    }

    /// Message `number` of the maildrop, unless deleted.
    func message(_ number: Int) -> POP3Maildrop.Message? {
        self.state.withLock { $0.maildrop.message(number) }
    }

    /// The UIDs to read for RETR or TOP of `number` (see `POP3Maildrop.readAheadWindow`).
    func readAheadWindow(from number: Int) -> ClosedRange<UInt32>? {
        self.state.withLock {
            $0.maildrop.readAheadWindow(
                from: number, maximumMessages: POP3ReadAhead.maximumMessages, maximumBytes: POP3ReadAhead.maximumBytes)
        }
    }

    func replaceReadAhead(with contents: [UInt32: Data]) {
        self.state.withLock { $0.readAhead.replace(with: contents) }
    }

    // MARK: CommandLineShortcut

    func answer(_ line: ByteBuffer) -> ByteBuffer? {
        guard let command = line.withUnsafeReadableBytes({ try? POP3CommandParser().parse(bytes: $0) }) else { return nil }
        if case .retr(let number) = command, let answer = self.retrieveInPlace(number) { return answer }
        guard case .reply(let bytes)? = self.answer(command), !bytes.starts(with: Self.errorPrefix) else { return nil }
        return ByteBuffer(bytes: bytes)
    }

    /// RETR of a message in the window whose content goes out as stored (CRLF throughout, no line to
    /// dot-stuff: what ingress and APPEND store), written straight into the answer's buffer: one copy
    /// of the content instead of two. The same bytes as `answer(_:)`'s; nil leaves the line to it.
    private func retrieveInPlace(_ number: Int) -> ByteBuffer? {
        self.state.withLock { state in
            guard let message = state.maildrop.message(number), let content = state.readAhead.content(of: message.uid) else { return nil }
            let answer = content.withUnsafeBytes { bytes -> ByteBuffer? in
                guard WireLines.isNormalised(bytes, dotStuffing: true) else { return nil }
                var buffer = ByteBufferAllocator().buffer(capacity: bytes.count + 32)
                buffer.writeString("+OK \(message.size) octets\r\n")
                buffer.writeBytes(bytes)
                buffer.writeStaticString(".\r\n")
                return buffer
            }
            if answer != nil { state.readAhead.consume(message.uid) }
            return answer
        }
    }
}
