import Foundation
import GRDB
import Logging

/// Message content written in pieces as it arrives (a large SMTP message or IMAP APPEND literal), before the
/// message it belongs to exists: the session holds one piece at a time instead of the whole message.
///
/// The pieces are committed one by one without waiting for the disk, and belong to no message until
/// `acceptMessage(_:leadingWith:header:envelope:)` turns the upload into a message's content in the
/// same durable commit that queues it. Until then no reader can see the content; an upload whose
/// session ends without that (a refused message, a client gone, a killed process) is discarded, or
/// deleted by the purge once nobody has written to it for `RetentionPolicy.abandonedUploads`.
public struct ContentUpload: Sendable {
    /// The content row's id, in the backend that made it.
    package let blobID: Int64
    /// Octets written so far.
    public private(set) var size = 0
    /// Pieces are numbered from 1; 0 is kept for what the server puts in front (`Received:`).
    package private(set) var pieces = 0

    package init(blobID: Int64) {
        self.blobID = blobID
    }

    mutating func added(_ octets: Int) {
        self.size += octets
        self.pieces += 1
    }
}

/// The content of a message being accepted.
enum AcceptedContent: Sendable {
    /// Received in full, stored in one row.
    case whole(Data)
    /// Written beforehand as an upload; `prefix` goes in front of it, and `header` is the upload's
    /// header section through its empty line (kept apart for header reads, `messageHeader`).
    case uploaded(ContentUpload, prefix: Data, header: Data)

    /// What the group commit counts towards its batch size: the bytes this commit writes.
    var bytesWritten: Int {
        switch self {
        case .whole(let content): content.count
        case .uploaded(_, let prefix, let header): prefix.count + header.count
        }
    }
}

extension MailStore {
    /// Starts an upload: an empty content no message refers to yet.
    public func beginUpload(now: Date = Date()) async throws(MailStoreError) -> ContentUpload {
        try await self.contents.beginUpload(now: now)
    }

    /// Adds the next piece of an upload. Not synced: the commit that accepts the message syncs, and
    /// with it every piece before it. The upload's time is renewed, so that a slow but living client's
    /// upload is not taken for an abandoned one.
    public func appendToUpload(_ upload: inout ContentUpload, _ piece: Data, now: Date = Date()) async throws(MailStoreError) {
        try await self.contents.appendToUpload(upload, piece: piece, sequence: upload.pieces + 1, now: now)
        upload.added(piece.count)
    }

    /// Deletes an upload that will not become a message (the message was refused, or its session ended).
    public func discardUpload(_ upload: ContentUpload) async throws(MailStoreError) {
        try await self.contents.discardUpload(upload)
    }

    /// Turns an upload into stored content, inside the accepting transaction: its prefix becomes piece
    /// 0 and its header section is kept apart. Fails if the upload was purged as abandoned meanwhile.
    static func sealUpload(_ db: Database, _ upload: ContentUpload, prefix: Data, header: Data, now: Date) throws -> Int64 {
        try db.cachedStatement(
            sql: "UPDATE messageBlob SET layout = 'chunks', size = ?, createdAt = ? WHERE id = ? AND layout = 'upload'"
        ).execute(arguments: [upload.size + prefix.count, now, upload.blobID])
        guard db.changesCount == 1 else { throw MailStoreError.unavailable("upload \(upload.blobID) is gone (abandoned?)") }
        if !prefix.isEmpty {
            try db.cachedStatement(sql: "INSERT INTO messageChunk(messageBlobId, seq, data) VALUES (?, 0, ?)")
                .execute(arguments: [upload.blobID, prefix])
        }
        try db.cachedStatement(sql: "INSERT INTO messageHeader(messageBlobId, header) VALUES (?, ?)")
            .execute(arguments: [upload.blobID, prefix + header])
        return upload.blobID
    }

    /// Stores a message's content inside its transaction: a new row, or an upload sealed. Returns the
    /// content's id and size.
    static func insertContent(_ db: Database, _ content: AcceptedContent, now: Date) throws -> (blobID: Int64, size: Int) {
        switch content {
        case .whole(let content):
            return (try Self.insertBlob(db, content: content, now: now), content.count)
        case .uploaded(let upload, let prefix, let header):
            return (try Self.sealUpload(db, upload, prefix: prefix, header: header, now: now), upload.size + prefix.count)
        }
    }

    /// Deletes uploads nobody has written to since `cutoff`, a few at a time; returns how many.
    static func purgeAbandonedUploads(_ db: Database, before cutoff: Date) throws -> Int {
        try db.execute(
            sql: """
                DELETE FROM messageBlob WHERE id IN (
                    SELECT id FROM messageBlob WHERE layout = 'upload' AND createdAt < ? LIMIT 16)
                """, arguments: [cutoff])
        return db.changesCount
    }
}

/// Content written to the store as it arrives, for a session that must not hold a large message
/// whole: it is kept in memory until `pieceBytes` have come (most mail is smaller and is then stored
/// in one go with its message), then written as an upload, a piece at a time. A store failure is
/// remembered (the message then gets the protocol's temporary failure) and what was written is dropped.
public struct ContentUploadWriter: Sendable {
    /// What is written to the store at once; the session holds no more content than this.
    public static let pieceBytes = 256 * 1024

    /// The content once complete.
    public enum Content: Sendable {
        case whole(Data)
        case uploaded(ContentUpload)
    }

    private let store: MailStore
    private var held = Data()
    private var upload: ContentUpload?
    /// Octets taken so far.
    public private(set) var size = 0
    public private(set) var failure: MailStoreError?

    public init(store: MailStore) {
        self.store = store
    }

    /// Takes the next bytes; writes a piece when enough is held. Nothing more is kept after a failure.
    public mutating func add(_ bytes: some Collection<UInt8>) async {
        guard self.failure == nil else { return }
        self.size += bytes.count
        self.held.append(contentsOf: bytes)
        if self.held.count >= Self.pieceBytes { await self.writeHeld() }
    }

    /// The whole content (nil after a failure). An upload belongs to the caller from here on: it
    /// becomes a message's content in the commit that stores the message, or is discarded.
    public mutating func finish() async -> Content? {
        guard self.failure == nil else { return nil }
        guard self.upload != nil else { return .whole(self.held) }
        if !self.held.isEmpty { await self.writeHeld() }
        guard let upload = self.upload, self.failure == nil else { return nil }
        return .uploaded(upload)
    }

    /// The content is a message's now: nothing is left to discard.
    public mutating func handedOver() {
        self.held = Data()
        self.upload = nil
    }

    /// Drops what was kept, in memory and in the store.
    public mutating func discard() async {
        self.held = Data()
        guard let upload = self.upload else { return }
        self.upload = nil
        do {
            try await self.store.discardUpload(upload)
        } catch {
            // The purge deletes it later (an upload nobody writes to is abandoned); nothing was promised.
            self.store.logger.warning("cannot discard an upload", metadata: ["error": "\(error)"])
        }
    }

    private mutating func writeHeld() async {
        do {
            if self.upload == nil { self.upload = try await self.store.beginUpload() }
            guard var upload = self.upload else { return }
            try await self.store.appendToUpload(&upload, self.held)
            self.upload = upload
            self.held = Data()
        } catch {
            self.store.logger.error("cannot store message content", metadata: ["error": "\(error)"])
            self.failure = error
            await self.discard()
        }
    }
}
