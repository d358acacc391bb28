import Foundation
import IMAPProtocol
import MailStore
import NIOCore
import Synchronization

/// Answers FETCH and UID FETCH of a few messages on the connection's event loop, while the session
/// waits for its next command, so a client reading its mail one message per command (most do) costs
/// no trip through the session's task for each. The session parks its selection here before it waits (`park`) and takes it back with the
/// next command it gets (`unpark`); the lock only makes that hand-over safe.
///
/// It answers only what the session would answer the same way, with the same `IMAPFetchResponse`:
/// FETCH that sets no flag (PEEK sections, or a read-only selection), of up to 64 messages within the
/// session's one-batch limits, when the mailbox's change feed holds nothing this selection has not
/// seen and no expunge waits to be told. Anything else, and any store error, goes to the session.
final class IMAPFetchShortcut: Sendable {
    private struct Parked: Sendable {
        var selection: IMAPSelection
        /// UTF8=ACCEPT enabled: how the command is parsed.
        let utf8: Bool
        /// ENVELOPE and BODYSTRUCTURE strings in UTF-8 (UTF8=ACCEPT or IMAP4rev2).
        let utf8Structures: Bool
    }

    private let store: MailStore
    /// Larger messages are the session's: it sends them a piece at a time.
    private let streamedMessageBytes: Int64
    private let parked = Mutex<Parked?>(nil)

    init(store: MailStore, streamedMessageBytes: Int64) {
        self.store = store
        self.streamedMessageBytes = streamedMessageBytes
    }

    /// Lends the selection (if any) to the event loop until `unpark`.
    func park(_ selection: IMAPSelection?, utf8: Bool, rev2: Bool) {
        guard let selection else { return }
        self.parked.withLock { $0 = Parked(selection: selection, utf8: utf8, utf8Structures: utf8 || rev2) }
    }

    /// The selection back, with what the answers here have learnt about its flags.
    func unpark() -> IMAPSelection? {
        self.parked.withLock { $0.take()?.selection }
    }

    /// The complete answer to `command` (FETCH responses and the tagged OK, or the tagged NO the
    /// session would give), or nil to hand the command to the session.
    func answer(_ command: IMAPCommandBytes) -> ByteBuffer? {
        guard command.literals.isEmpty, command.lines.count == 1, Self.mayBeFetch(command.lines[0]) else { return nil }
        return self.parked.withLock { parked -> ByteBuffer? in
            guard var current = parked.take() else { return nil }
            defer { parked = current }
            return try? self.answer(command, with: &current)
        }
    }

    private func answer(_ bytes: IMAPCommandBytes, with parked: inout Parked) throws(MailStoreError) -> ByteBuffer? {
        guard case .success(let command) = IMAPCommandParser(utf8Enabled: parked.utf8).parse(bytes),
            // CONDSTORE's FETCH turns it on for the session: the session's to answer.
            case .fetch(let set, let attributes, let byUID, nil, _, nil) = command.kind, set != .saved, !attributes.contains(.modSeq),
            parked.selection.pendingExpunges.isEmpty
        else { return nil }
        let response = IMAPFetchResponse(attributes, byUID: byUID, utf8: parked.utf8Structures)
        guard !response.setsSeen(readOnly: parked.selection.readOnly) else { return nil }
        let uids = parked.selection.targets(set, byUID: byUID, saved: [])
        guard let first = uids.first, let last = uids.last, uids.count <= 64, last - first < 128 else { return nil }
        let mailbox = parked.selection.mailbox.id
        guard let immediate = self.store.immediate, try IMAPSession.isCurrent(parked.selection, store: self.store) else { return nil }
        if response.content != .omitted, uids.count > 1 {
            // More than the session reads in one batch is the session's: it sends batches as it goes.
            let wanted = Set(uids)
            let listed = try immediate.messagesWithContent(in: mailbox, uids: first...last, content: .omitted)
            let total = listed.reduce(Int64(0)) { $0 + (wanted.contains($1.message.uid) ? $1.message.size : 0) }
            guard total <= IMAPSession.fetchBatchBytes else { return nil }
        }
        let listed = try immediate.messagesWithContent(
            in: mailbox, uids: first...last, content: response.content, largest: self.streamedMessageBytes)
        // A large message's content is left unread: the session sends it a piece at a time.
        if response.content == .whole, listed.contains(where: { $0.content == nil }) { return nil }
        let messages = Dictionary(listed.map { ($0.message.uid, $0) }, uniquingKeysWith: { $1 })
        let encoder = IMAPResponseEncoder(utf8: parked.utf8, utf8Strings: parked.utf8Structures)
        var output = ByteBuffer()
        output.reserveCapacity(listed.reduce(64) { $0 + ($1.content?.count ?? 0) + 256 })
        for uid in uids {
            guard let (message, content) = messages[uid], let number = parked.selection.sequenceNumber(of: uid) else { continue }
            if response.items.contains(.flags) {
                for line in parked.selection.announce(message.flags) { encoder.write(line, into: &output) }
            }
            if let failure = response.write(
                number: number, message: message, content: content, flags: parked.selection.shown(message.flags, of: uid),
                announceFlags: false, into: &output)
            {
                return encoder.encode(failure.response(tag: command.tag))
            }
            parked.selection.setFlags(message.flags, of: uid)
        }
        encoder.write(.status(tag: command.tag, .ok, nil, "FETCH completed"), into: &output)
        return output
    }

    /// Whether the line's command is FETCH or UID FETCH, read from its bytes: every other command
    /// goes to the session without being parsed twice.
    static func mayBeFetch(_ line: [UInt8]) -> Bool {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return false }
        var rest = line[(space + 1)...]
        func take(_ word: String) -> Bool {
            let word = Array(word.utf8)
            guard rest.count > word.count, rest[rest.startIndex + word.count] == UInt8(ascii: " ") else { return false }
            for (offset, expected) in word.enumerated() where rest[rest.startIndex + offset] & 0xDF != expected { return false }
            rest = rest.dropFirst(word.count + 1)
            return true
        }
        _ = take("UID")
        return take("FETCH")
    }
}
