import Foundation
import Logging
import MailFormat
import MailStore
import NIOCore

/// The content of the message in the current SMTP transaction (DATA, or BDAT chunks) as it arrives.
///
/// A small message stays in memory and is committed in one go, as most mail is. Once
/// `pieceBytes` have come, the content goes to the store as an upload, a piece at a time, so a session
/// holds at most one piece and the header section whatever the message's size. The header section
/// (through its empty line) is kept apart, up to `maximumHeaderBytes`, for the checks made before
/// the message is accepted (hop count, author). Nothing is visible to anyone before `acceptMessage`
/// commits the whole message; an upload that does not become a message is discarded.
struct IncomingMessage {
    /// What is written to the store at once; the session holds no more content than this.
    static let pieceBytes = 256 * 1024

    enum Content {
        case whole(Data)
        case uploaded(ContentUpload)
    }

    private let store: MailStore
    private let logger: Logger
    let maximumSize: Int
    let maximumHeaderBytes: Int

    /// Content not written to the store yet.
    private var held = Data()
    private var upload: ContentUpload?
    /// The header section, through its empty line once `headerComplete`.
    private(set) var header = Data()
    private var headerComplete = false
    private(set) var headerTooLarge = false
    /// Octets offered, including those past `maximumSize` (which are not kept).
    private(set) var size = 0
    private(set) var exceededMaximumSize = false
    /// A store write failed: the content is no longer kept and the message will get a temporary failure.
    private(set) var storeFailure: MailStoreError?
    /// Bare CR or LF seen (checked here for BDAT; DATA's reader checks its own).
    private(set) var sawBareLineEnding = false
    private var previousByte: UInt8 = 0

    init(store: MailStore, logger: Logger, maximumSize: Int, maximumHeaderBytes: Int) {
        self.store = store
        self.logger = logger
        self.maximumSize = maximumSize
        self.maximumHeaderBytes = maximumHeaderBytes
    }

    /// Whether the content is still kept (the message may still be accepted).
    private var keepsContent: Bool {
        !self.exceededMaximumSize && !self.headerTooLarge && self.storeFailure == nil
    }

    /// Takes the next bytes of content; writes a piece to the store when enough is held. BDAT content
    /// is checked for bare line endings here (`checkingLineEndings`); DATA's reader checks its own.
    mutating func add(_ bytes: ByteBuffer, checkingLineEndings: Bool = false) async {
        let (sum, overflow) = self.size.addingReportingOverflow(bytes.readableBytes)
        self.size = overflow ? Int.max : sum
        guard self.keepsContent else { return }
        if self.size > self.maximumSize {
            self.exceededMaximumSize = true
            await self.discard()
            return
        }
        if checkingLineEndings { self.scanLineEndings(bytes) }
        self.collectHeader(bytes)
        if self.headerTooLarge {
            await self.discard()
            return
        }
        self.held.append(contentsOf: bytes.readableBytesView)
        if self.held.count >= Self.pieceBytes { await self.writeHeld() }
    }

    /// The whole content once the last bytes are in (nil when it was not kept: see the flags). An
    /// uploaded content belongs to the caller from here on: accept it, or `discard()` it.
    mutating func finish() async -> Content? {
        guard self.keepsContent else { return nil }
        if !self.headerComplete, self.header.count > self.maximumHeaderBytes {
            self.headerTooLarge = true
            await self.discard()
            return nil
        }
        // Only ever set by a scan: content ending in a CR.
        if self.previousByte == UInt8(ascii: "\r") { self.sawBareLineEnding = true }
        guard self.upload != nil else { return .whole(self.held) }
        if !self.held.isEmpty { await self.writeHeld() }
        guard let upload = self.upload, self.storeFailure == nil else { return nil }
        return .uploaded(upload)
    }

    /// The content is a message's now (it was accepted): nothing is left to discard.
    mutating func handedOver() {
        self.held = Data()
        self.upload = nil
    }

    /// Drops what was kept, in memory and in the store.
    mutating func discard() async {
        self.held = Data()
        self.header = Data()
        guard let upload = self.upload else { return }
        self.upload = nil
        do {
            try await self.store.discardUpload(upload)
        } catch {
            // The purge deletes it later (an upload nobody writes to is abandoned); nothing was promised.
            self.logger.warning("cannot discard an upload", metadata: ["error": "\(error)"])
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
            self.logger.error("cannot store message content", metadata: ["error": "\(error)"])
            self.storeFailure = error
            await self.discard()
        }
    }

    /// Keeps the header section, up to one octet more than the limit (which tells it is too large).
    private mutating func collectHeader(_ bytes: ByteBuffer) {
        guard !self.headerComplete else { return }
        let view = bytes.readableBytesView
        if self.header.isEmpty {
            // Most messages come in one piece with the whole header in it: copy only the header.
            let length = MIMEParser.headerLength(of: view)
            if length < view.count || Self.endsWithEmptyLine(view) {
                self.header = Data(view.prefix(length))
                self.headerComplete = true
                if self.header.count > self.maximumHeaderBytes { self.headerTooLarge = true }
                return
            }
        }
        let room = self.maximumHeaderBytes + 1 - self.header.count
        self.header.append(contentsOf: view.prefix(max(0, room)))
        let length = MIMEParser.headerLength(of: self.header)
        if length < self.header.count || Self.endsWithEmptyLine(self.header) {
            self.header = Data(self.header.prefix(length))
            self.headerComplete = true
        }
        if self.header.count > self.maximumHeaderBytes { self.headerTooLarge = true }
    }

    /// `headerLength` says "the end" both for a header that ends with its empty line exactly there and
    /// for one that has not ended yet; these are told apart by the last octets.
    private static func endsWithEmptyLine(_ bytes: some Collection<UInt8>) -> Bool {
        let tail = Array(bytes.suffix(3))
        if tail.suffix(2) == [10, 10] || tail == [10, 13, 10] { return true }
        return bytes.count == tail.count && (tail == [13, 10] || tail == [10])
    }

    /// A CR not followed by LF, or an LF not preceded by CR.
    private mutating func scanLineEndings(_ bytes: ByteBuffer) {
        guard !self.sawBareLineEnding else { return }
        var previous = self.previousByte
        for byte in bytes.readableBytesView {
            if (byte == 10 && previous != 13) || (previous == 13 && byte != 10) {
                self.sawBareLineEnding = true
                return
            }
            previous = byte
        }
        self.previousByte = previous
    }
}
