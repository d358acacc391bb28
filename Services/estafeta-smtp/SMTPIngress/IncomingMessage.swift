import Foundation
import Logging
import MailAuth
import MailDNS
import MailFormat
import MailStore
import NIOCore

/// The content of the message in the current SMTP transaction (DATA, or BDAT chunks) as it arrives.
///
/// A small message stays in memory and is committed in one go, as most mail is; a larger one goes to
/// the store as an upload, a piece at a time (`ContentUploadWriter`), so a session holds at most one
/// piece and the header section whatever the message's size. The header section is kept apart, up to
/// `maximumHeaderBytes`, for the checks made before the message is accepted (hop count, author,
/// signatures) and is written with the trace fields when it is (`content` is the body only): fields
/// may be added to it or, like a forged `Authentication-Results`, removed.
/// Nothing is visible to anyone before `acceptMessage` commits the whole message; an upload that does
/// not become a message is discarded.
struct IncomingMessage {
    typealias Content = ContentUploadWriter.Content

    let maximumSize: Int
    private var writer: ContentUploadWriter
    private var headerSection: HeaderSectionCollector
    /// Octets offered, including those past `maximumSize` (which are not kept).
    private(set) var size = 0
    private(set) var exceededMaximumSize = false
    /// Bare CR or LF seen (checked here for BDAT; DATA's reader checks its own).
    private(set) var sawBareLineEnding = false
    private var previousByte: UInt8 = 0
    /// The body's DKIM hash (relaxed), worked out as the content arrives when the message may be signed:
    /// the body is never read again, however large.
    private var bodyHasher: DKIMBodyHasher?
    /// Mail from other servers: its DKIM signatures are checked as it arrives.
    private let verifiesSignatures: Bool
    private var signatureVerifier: DKIMVerifier?

    init(store: MailStore, maximumSize: Int, maximumHeaderBytes: Int, hashingBody: Bool = false, verifyingSignatures: Bool = false) {
        self.writer = ContentUploadWriter(store: store)
        self.headerSection = HeaderSectionCollector(maximumBytes: maximumHeaderBytes)
        self.maximumSize = maximumSize
        if hashingBody { self.bodyHasher = DKIMBodyHasher(canonicalization: .relaxed) }
        self.verifiesSignatures = verifyingSignatures
    }

    var maximumHeaderBytes: Int { self.headerSection.maximumBytes }
    /// The header section, through its empty line.
    var header: Data { self.headerSection.header }
    var headerTooLarge: Bool { self.headerSection.isTooLarge }
    /// A store write failed: the message gets a temporary failure.
    var storeFailure: MailStoreError? { self.writer.failure }

    /// Whether the content is still kept (the message may still be accepted).
    private var keepsContent: Bool {
        !self.exceededMaximumSize && !self.headerSection.isTooLarge && self.writer.failure == nil
    }

    /// Takes the next bytes of content. BDAT content is checked for bare line endings here
    /// (`checkingLineEndings`); DATA's reader checks its own.
    mutating func add(_ bytes: ByteBuffer, checkingLineEndings: Bool = false) async {
        let (sum, overflow) = self.size.addingReportingOverflow(bytes.readableBytes)
        self.size = overflow ? Int.max : sum
        guard self.keepsContent else { return }
        if self.size > self.maximumSize {
            self.exceededMaximumSize = true
            await self.writer.discard()
            return
        }
        if checkingLineEndings { self.scanLineEndings(bytes) }
        let start = self.size - bytes.readableBytes
        let headerWasComplete = self.headerSection.isComplete
        self.headerSection.add(bytes.readableBytesView)
        if self.headerSection.isTooLarge {
            await self.writer.discard()
            return
        }
        guard self.headerSection.isComplete else { return }
        // The body starts after the header's empty line, which may be in this piece.
        let body = bytes.readableBytesView.dropFirst(headerWasComplete ? 0 : max(0, self.headerSection.header.count - start))
        if !headerWasComplete && self.verifiesSignatures {
            let verifier = DKIMVerifier(header: self.headerSection.header)
            if verifier.hasSignatures { self.signatureVerifier = verifier }
        }
        self.bodyHasher?.add(body)
        self.signatureVerifier?.add(body: body)
        await self.writer.add(body)
    }

    /// The body once the last bytes are in (nil when it was not kept: see the flags); the header section
    /// is `header`. An uploaded body belongs to the caller from here on: accept it, or `discard()` it.
    mutating func finish() async -> Content? {
        guard self.keepsContent else { return nil }
        let headerWasComplete = self.headerSection.isComplete
        self.headerSection.finish()
        if !headerWasComplete && self.verifiesSignatures && self.headerSection.isComplete {
            // All header, no body: the signatures are checked all the same.
            let verifier = DKIMVerifier(header: self.headerSection.header)
            if verifier.hasSignatures { self.signatureVerifier = verifier }
        }
        if self.headerSection.isTooLarge {
            await self.writer.discard()
            return nil
        }
        // Only ever set by a scan: content ending in a CR.
        if self.previousByte == UInt8(ascii: "\r") { self.sawBareLineEnding = true }
        return await self.writer.finish()
    }

    /// The DKIM verdicts on the message's signatures once the content is finished (none when it has
    /// none or was not set up to check them).
    mutating func signatureVerdicts(dns: any DNSLookup) async -> [DKIMVerdict] {
        guard var verifier = self.signatureVerifier else { return [] }
        self.signatureVerifier = nil
        return await verifier.finish(dns: dns)
    }

    /// The DKIM body hash (relaxed canonicalisation, SHA-256) once the content is finished; nil when
    /// the message was not set up to be signed.
    mutating func bodyHash() -> Data? {
        guard var hasher = self.bodyHasher else { return nil }
        self.bodyHasher = nil
        return hasher.finish()
    }

    /// The content is a message's now (it was accepted): nothing is left to discard.
    mutating func handedOver() {
        self.writer.handedOver()
    }

    /// Drops what was kept, in memory and in the store.
    mutating func discard() async {
        await self.writer.discard()
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
