import Foundation
import MailStore

/// The content a relay transaction sends: in memory when small, or read from the store a piece at a
/// time while it is sent, so that a worker relaying many large messages at once holds about one
/// piece of each rather than each whole message.
struct RelayContent: Sendable {
    private enum Source: Sendable {
        case whole(Data)
        case stored(MailStore, ContentReader)
    }

    /// Octets as stored (what SIZE announces, RFC 1870).
    let size: Int
    private let source: Source

    init(_ content: Data) {
        self.size = content.count
        self.source = .whole(content)
    }

    /// A content read ahead in full when it is one piece anyway, else left in the store.
    static func reading(_ reader: ContentReader, from store: MailStore) async throws(MailStoreError) -> RelayContent {
        var reader = reader
        guard reader.size <= Int64(RelayContent.inMemoryBytes) else { return RelayContent(store: store, reader: reader) }
        var content = Data()
        while let piece = try await store.nextPiece(&reader) { content.append(piece) }
        return RelayContent(content)
    }

    private init(store: MailStore, reader: ContentReader) {
        self.size = Int(clamping: reader.size)
        self.source = .stored(store, reader)
    }

    static let inMemoryBytes = 256 * 1024

    /// The pieces in order, each read when asked for.
    struct Pieces {
        fileprivate var pending: Data?
        fileprivate var stored: (MailStore, ContentReader)?

        mutating func next() async throws -> Data? {
            if let pending = self.pending {
                self.pending = nil
                return pending
            }
            guard let (store, stored) = self.stored else { return nil }
            var reader = stored
            let piece = try await store.nextPiece(&reader)
            self.stored = (store, reader)
            return piece
        }
    }

    func pieces() -> Pieces {
        switch self.source {
        case .whole(let content): Pieces(pending: content, stored: nil)
        case .stored(let store, let reader): Pieces(pending: nil, stored: (store, reader))
        }
    }

    /// Whether an octet is over 127 (BODY=8BITMIME, RFC 6152): for a stored content, one more pass.
    func hasEightBitOctets() async throws -> Bool {
        var pieces = self.pieces()
        while let piece = try await pieces.next() {
            if piece.contains(where: { $0 >= 0x80 }) { return true }
        }
        return false
    }
}
