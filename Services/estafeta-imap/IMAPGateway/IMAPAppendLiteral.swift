import Foundation
import MailFormat
import MailStore
import NIOCore

/// An APPEND literal the framer hands over in pieces (a large message), written to the store as it
/// arrives (`ContentUploadWriter`), so the session holds about one piece whatever the message's size.
/// Line ends are made CRLF on the way, as for a literal kept whole (every size reported is then the
/// size sent), and the header section is kept apart for the store's header reads.
struct IMAPAppendLiteral {
    /// A header section larger than this is refused (the store keeps it apart, whole).
    static let maximumHeaderBytes = 1 << 20

    private var encoder = WireLineEncoder(dotStuffing: false)
    private var writer: ContentUploadWriter
    private var headerSection = HeaderSectionCollector(maximumBytes: Self.maximumHeaderBytes)

    init(store: MailStore) {
        self.writer = ContentUploadWriter(store: store)
    }

    var failure: MailStoreError? { self.writer.failure }
    var headerTooLarge: Bool { self.headerSection.isTooLarge }

    mutating func add(_ piece: ByteBuffer) async {
        var wire: [UInt8] = []
        self.encoder.append(piece.readableBytesView, to: &wire)
        await self.take(wire)
    }

    /// The content and its header section once the literal is complete (nil content after a store
    /// failure or with a header section over the limit).
    mutating func finish() async -> (content: ContentUploadWriter.Content?, header: Data) {
        var end: [UInt8] = []
        self.encoder.finish(to: &end)
        await self.take(end)
        self.headerSection.finish()
        guard !self.headerSection.isTooLarge else {
            await self.writer.discard()
            return (nil, Data())
        }
        return (await self.writer.finish(), self.headerSection.header)
    }

    /// The content is a message's now: nothing is left to discard.
    mutating func handedOver() {
        self.writer.handedOver()
    }

    mutating func discard() async {
        await self.writer.discard()
    }

    private mutating func take(_ wire: [UInt8]) async {
        guard !wire.isEmpty else { return }
        self.headerSection.add(wire)
        await self.writer.add(wire)
    }
}

extension IMAPSession {
    /// APPEND of a literal that arrived in pieces and is in the store already as an upload: it becomes
    /// the message's content in the append's commit, or is discarded when the append fails. nil when
    /// the header section is too large to keep.
    func appendStreamed(
        _ literal: inout IMAPAppendLiteral, to mailbox: MailboxID, flags: Set<String>, internalDate: Date
    ) async throws -> StoredMessage? {
        let (content, header) = await literal.finish()
        if literal.headerTooLarge { return nil }
        do {
            switch content {
            case .uploaded(let upload):
                let stored = try await self.store.appendMessage(upload, header: header, to: mailbox, flags: flags, internalDate: internalDate)
                literal.handedOver()
                return stored
            case .whole(let data):
                return try await self.store.appendMessage(data, to: mailbox, flags: flags, internalDate: internalDate)
            case nil:
                throw literal.failure ?? MailStoreError.unavailable("the message could not be stored")
            }
        } catch {
            await literal.discard()
            throw error
        }
    }
}
