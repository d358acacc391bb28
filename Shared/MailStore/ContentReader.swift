import Foundation
import GRDB

/// A stored content read a piece at a time, so that a large message goes out (POP3 RETR, relay) without
/// being held whole: the header lines added at delivery first, then the content's pieces in order (a
/// content kept in one row is read in slices of `pieceBytes`). Each piece is its own short read.
public struct ContentReader: Sendable {
    public static let pieceBytes = 256 * 1024

    let blobID: Int64
    let chunked: Bool
    /// Octets in all: the prefix and the stored content.
    public let size: Int64
    let storedSize: Int64
    /// Bytes to hand out before reading anything more: the prefix, or a small content read at once.
    var pending: Data
    /// Stored octets read so far (not counting the prefix).
    var stored: Int64 = 0
    /// The last piece read, for content kept in pieces.
    var sequence: Int64 = -1
    /// Octets of the next piece read that come before where the reader was moved to (`seek`).
    var skip = 0

    /// `loaded` is the whole stored content when the query that made the reader read it already.
    package init(blobID: Int64, layout: String, storedSize: Int64, prefix: Data, loaded: Data? = nil) {
        self.blobID = blobID
        self.chunked = layout == "chunks"
        self.size = storedSize + Int64(prefix.count)
        self.storedSize = storedSize
        self.pending = loaded.map { prefix.isEmpty ? $0 : prefix + $0 } ?? prefix
        if let loaded { self.stored = Int64(loaded.count) }
    }

    mutating func takePending() -> Data? {
        guard !self.pending.isEmpty else { return nil }
        defer { self.pending = Data() }
        return self.pending
    }
}

extension MailStore {
    /// A reader of one mailbox message's content (nil when there is no such message).
    public func contentReader(in mailbox: MailboxID, uid: UInt32) async throws(MailStoreError) -> ContentReader? {
        try await self.contents.contentReader(in: mailbox, uid: uid)
    }

    /// A reader of a queued message's content (nil when the entry is gone). A content of one piece
    /// or less kept in one row (most mail) comes with the reader, in the same query.
    public func contentReader(ofQueued message: QueueMessageID) async throws(MailStoreError) -> ContentReader? {
        try await self.contents.contentReader(ofQueued: message)
    }

    /// The next piece of a content; nil after the last. A content removed while it was being read
    /// (its message expunged and nothing else holding it) is an error, never a shorter message.
    public func nextPiece(_ reader: inout ContentReader) async throws(MailStoreError) -> Data? {
        if let pending = reader.takePending() { return pending }
        // Every stored octet has been read (the pieces' sizes add up to the content's): no query to learn it.
        guard reader.stored < reader.storedSize else { return nil }
        let piece: (sequence: Int64, data: Data)?
        if reader.chunked {
            piece = try await self.contents.piece(ofContent: reader.blobID, after: reader.sequence)
        } else {
            piece = try await self.contents.slice(ofContent: reader.blobID, from: reader.stored, length: ContentReader.pieceBytes)
                .map { (reader.sequence, $0) }
        }
        // Octets are still due: no piece means the content went away meanwhile.
        guard let piece, !piece.data.isEmpty else { throw .unavailable("content \(reader.blobID) was removed while it was read") }
        reader.sequence = piece.sequence
        reader.stored += Int64(piece.data.count)
        guard reader.skip > 0 else { return piece.data }
        defer { reader.skip = 0 }
        return piece.data.count > reader.skip ? piece.data.subdata(in: (piece.data.startIndex + reader.skip)..<piece.data.endIndex) : Data()
    }

    /// Moves a reader nothing has been read from yet to `offset` octets into the content (the header
    /// lines added at delivery count), so that a stretch far into a large message (an attachment at
    /// its end) is read without the pieces before it. For content kept in pieces, only the pieces'
    /// lengths are read to find where to begin.
    public func seek(_ reader: inout ContentReader, to offset: Int64) async throws(MailStoreError) {
        let prefixSize = reader.size - reader.storedSize
        guard offset > 0 else { return }
        guard reader.stored == 0, offset >= prefixSize else {
            // Still within what the reader holds (the prefix, or content loaded with it).
            let dropped = Int(min(offset, Int64(reader.pending.count)))
            reader.pending = reader.pending.subdata(in: (reader.pending.startIndex + dropped)..<reader.pending.endIndex)
            return
        }
        reader.pending = Data()
        let target = min(offset - prefixSize, reader.storedSize)
        guard reader.chunked else {
            reader.stored = target
            return
        }
        var start: (sequence: Int64, stored: Int64) = (-1, 0)
        for piece in try await self.contents.pieceLengths(ofContent: reader.blobID) {
            if start.stored + piece.length > target { break }
            start = (piece.sequence, start.stored + piece.length)
        }
        reader.sequence = start.sequence
        reader.stored = start.stored
        reader.skip = Int(target - start.stored)
    }
}

extension MailStore {
    /// A content's bytes, given what a query read of its `messageBlob` row: the row's own bytes, or its
    /// pieces in order when it was stored in pieces.
    static func storedContent(_ db: Database, blobID: Int64, layout: String, inline: Data) throws -> Data {
        guard layout == "chunks" else { return inline }
        let pieces = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT data FROM messageChunk WHERE messageBlobId = ? ORDER BY seq"),
            arguments: [blobID])
        var content = Data()
        while let piece = try pieces.next() {
            try piece.withUnsafeData(atIndex: 0) { bytes in
                if let bytes { content.append(bytes) }
            }
        }
        return content
    }
}
