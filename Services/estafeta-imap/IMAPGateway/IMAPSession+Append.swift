import Foundation
import IMAPProtocol
import MailFormat
import MailStore

/// APPEND (RFC 9051 §6.3.12): one message, several at once (MULTIAPPEND, RFC 3502), and messages made
/// of parts (CATENATE, RFC 4469).
extension IMAPSession {
    func append(_ tag: String, to name: IMAPMailboxName, _ messages: [IMAPAppendedMessage], account: AccountID, state: inout State)
        async throws -> Next
    {
        var messages = messages
        guard let mailbox = try await self.existingMailbox(name.name, of: account) else {
            return self.no(tag, .tryCreate, "No such mailbox", state)
        }
        guard !self.store.spaceIsLow else { throw MailStoreError.storageFull("below the free space minimum") }
        // CATENATE (RFC 4469): each such message made first, from its parts.
        for index in messages.indices {
            guard let parts = messages[index].catenate, let address = state.account?.address else { continue }
            switch try await self.catenated(parts, account: account, address: address) {
            case .success(let bytes):
                messages[index] = IMAPAppendedMessage(flags: messages[index].flags, internalDate: messages[index].internalDate, message: bytes)
            case .failure(let refusal):
                return self.no(tag, refusal.code, refusal.text, state)
            }
        }
        let tooBig = self.no(tag, .tooBig, "The header section is over \(IMAPAppendLiteral.maximumHeaderBytes) octets", state)
        guard messages.count == 1, let message = messages.first else {
            // MULTIAPPEND (RFC 3502): every message in one transaction, or none.
            guard let stored = try await self.appendAll(messages, to: mailbox.id, streamed: &state.appendLiteral) else { return tooBig }
            let code = IMAPResponseCode.appendUID(uidValidity: mailbox.uidValidity, uids: stored.map(\.uid))
            return try await self.completed(tag, "APPEND completed", code: code, state: &state)
        }
        let flags = Self.storedFlags(message.flags)
        let stored: StoredMessage
        if var literal = state.appendLiteral.take() {
            guard let appended = try await self.appendStreamed(
                &literal, to: mailbox.id, flags: flags, internalDate: message.internalDate ?? Date())
            else { return tooBig }
            stored = appended
        } else {
            stored = try await self.store.appendMessage(
                Self.storedContent(message.message), to: mailbox.id, flags: flags, internalDate: message.internalDate ?? Date())
        }
        return try await self.completed(tag, "APPEND completed", code: .appendUID(uidValidity: mailbox.uidValidity, uids: [stored.uid]), state: &state)
    }

    /// The flags an APPEND stores: all it names but \Recent, which only the server sets.
    static func storedFlags(_ flags: [IMAPFlag]) -> Set<String> {
        Set(flags.filter { $0 != .recent }.map(\.text))
    }

    /// A literal as stored: with CRLF line ends, so every size reported is the size sent.
    static func storedContent(_ literal: [UInt8]) -> Data {
        Data(WireLines.normalised(literal, dotStuffing: false))
    }

    /// MULTIAPPEND (RFC 3502 §6.3.11): the messages filed together, in order, or none; the one whose
    /// literal arrived in pieces (`streamed`) is taken from the upload it went to. nil when that one's
    /// header section is too large to keep.
    func appendAll(_ messages: [IMAPAppendedMessage], to mailbox: MailboxID, streamed: inout IMAPAppendLiteral?) async throws
        -> [StoredMessage]?
    {
        var literal: IMAPAppendLiteral?
        var filed: [NewMessage] = []
        for message in messages {
            let flags = Self.storedFlags(message.flags)
            let date = message.internalDate ?? Date()
            guard message.streamed else {
                filed.append(NewMessage(content: .whole(Self.storedContent(message.message)), flags: flags, internalDate: date))
                continue
            }
            guard var pieces = streamed.take() else { throw MailStoreError.unavailable("the streamed message is missing") }
            let (content, header) = await pieces.finish()
            literal = pieces
            if pieces.headerTooLarge { return nil }
            switch content {
            case .uploaded(let upload): filed.append(NewMessage(content: .uploaded(upload, header: header), flags: flags, internalDate: date))
            case .whole(let data): filed.append(NewMessage(content: .whole(data), flags: flags, internalDate: date))
            case nil: throw pieces.failure ?? MailStoreError.unavailable("the message could not be stored")
            }
        }
        do {
            let stored = try await self.store.appendMessages(filed, to: mailbox)
            literal?.handedOver()
            return stored
        } catch {
            await literal?.discard()
            throw error
        }
    }
}
