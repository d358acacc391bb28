import Credentials
import Foundation
import IMAPProtocol
import MailAuth
import MailFormat
import MailboxFormats
import NIOCore
import POP3Protocol
import SMTPProtocol

/// What each fuzz target feeds the bytes to: every parser that reads what a peer sends. A target must
/// never trap (in Swift a trap ends the whole process, every session of every protocol with it); where
/// a parser promises something checkable (the same frames whichever way the bytes are split), the
/// harness checks that too and traps when it does not hold, so the fuzzer reports it.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case smtpCommand = "smtp-command"
    case smtpData = "smtp-data"
    case imapCommand = "imap-command"
    case pop3Command = "pop3-command"
    case mime
    case address
    case encodedWords = "encoded-words"
    case sasl
    case mailAuth = "mail-auth"
    /// Files an import reads: Dovecot's uidlist, keywords, subscriptions and Maildir file names, and mbox.
    case mailboxFiles = "mailbox-files"

    public func run(_ bytes: [UInt8]) {
        switch self {
        case .smtpCommand:
            for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                _ = try? SMTPCommandParser(utf8PathsAllowed: false).parse(line)
                _ = try? SMTPCommandParser(utf8PathsAllowed: true).parse(line)
            }
        case .smtpData:
            Self.smtpData(bytes)
        case .imapCommand:
            Self.imapCommand(bytes)
        case .pop3Command:
            for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                _ = try? POP3CommandParser().parse(Array(line))
            }
        case .mime:
            let root = MIMEParser.parse(bytes)
            _ = MessageText.body(of: bytes, entity: root)
            _ = MessageHeader(parsing: Data(bytes))
            Self.mimeInPieces(bytes, whole: root)
        case .address:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? EmailAddress(parsing: text)
            _ = AddressListParser.addresses(in: text)
        case .encodedWords:
            _ = EncodedWords.decode(String(decoding: bytes, as: UTF8.self))
        case .sasl:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? SASL.plain(base64: text)
            _ = try? SASL.plain(bytes)
            _ = try? SASL.loginField(bytes)
        case .mailAuth:
            Self.mailAuth(bytes)
        case .mailboxFiles:
            Self.mailboxFiles(bytes)
        }
    }

    /// What a sending server controls in mail authentication: the header section with its signature
    /// fields and Authentication-Results, the body, and the SPF, DMARC and key records of its domain;
    /// and what a destination controls: its MTA-STS record and policy.
    /// The body hash must not depend on how the body arrives (here in two, where the first byte says).
    static func mailAuth(_ bytes: [UInt8]) {
        let headerLength = MIMEParser.headerLength(of: bytes)
        var verifier = DKIMVerifier(header: bytes.prefix(headerLength))
        verifier.add(body: bytes.dropFirst(headerLength))
        _ = AuthenticationResults.removingClaims(of: "mx.example.org", from: Data(bytes.prefix(headerLength)))
        for field in DKIMHeaderField.fields(of: bytes.prefix(headerLength)) {
            _ = field.canonicalized(.relaxed)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(64) {
            let record = String(line)
            _ = try? DKIMSignature(parsing: record)
            _ = PublishedRecords.spf([record])
            _ = PublishedRecords.dmarc([record])
            _ = PublishedRecords.dkim([record], algorithm: .rsaSHA256, publicKey: Data([1, 2, 3]))
            _ = MTASTSRecord(parsing: record)
        }
        // An MTA-STS policy is a whole body fetched from the domain's policy host.
        if let policy = try? MTASTSPolicy(parsing: bytes) {
            for line in text.split(separator: "\n").prefix(16) { _ = policy.permits(mx: String(line)) }
        }
        let body = bytes.dropFirst(headerLength)
        let split = body.isEmpty ? 0 : Int(body[body.startIndex]) % (body.count + 1)
        for canonicalization in [DKIMCanonicalization.simple, .relaxed] {
            var whole = DKIMBodyHasher(canonicalization: canonicalization)
            whole.add(body)
            var pieces = DKIMBodyHasher(canonicalization: canonicalization)
            pieces.add(body.prefix(split))
            pieces.add(body.dropFirst(split))
            precondition(whole.finish() == pieces.finish(), "the body hash depends on how the body arrives")
        }
    }

    /// The DATA reader ends the data at the same place with the same content whether the bytes come
    /// in one piece or in two (split where the first byte says).
    /// A large message's structure and decoded parts are worked out as it is read: the same as at once,
    /// however it is cut (here in two, where the first byte says).
    private static func mimeInPieces(_ bytes: [UInt8], whole: MIMEEntity) {
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) * bytes.count / 256
        var scanner = MIMEStructureScanner()
        scanner.feed(bytes[..<cut])
        scanner.feed(bytes[cut...])
        precondition(scanner.finish() == whole, "MIME structure differs when read in two pieces")
        for encoding in [TransferDecoder.Encoding.base64, .quotedPrintable] {
            var atOnce = TransferDecoder(encoding)
            var decoder = TransferDecoder(encoding)
            var output: [UInt8] = []
            bytes[..<cut].withUnsafeBytes { decoder.decode($0, into: &output) }
            bytes[cut...].withUnsafeBytes { decoder.decode($0, into: &output) }
            decoder.finish(into: &output)
            precondition(output == atOnce.decodeAll(bytes), "\(encoding) decoding differs when read in two pieces")
        }
    }

    static func smtpData(_ bytes: [UInt8]) {
        var whole = SMTPDataReader(maximumSize: 1 << 16)
        var buffer = ByteBuffer(bytes: bytes)
        let wholeEnded = whole.consume(&buffer)
        let wholeLeft = buffer.readableBytes
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        var pieces = SMTPDataReader(maximumSize: 1 << 16)
        var first = ByteBuffer(bytes: bytes[..<split])
        var ended = pieces.consume(&first)
        var left = first.readableBytes
        if !ended {
            var second = ByteBuffer(bytes: bytes[split...])
            ended = pieces.consume(&second)
            left = second.readableBytes
        } else {
            left += bytes.count - split
        }
        precondition(ended == wholeEnded && left == wholeLeft && pieces.content == whole.content, "DATA split changes the result")
    }

    /// The framer yields the same frames whether the bytes come in one piece or one byte at a time, and
    /// every command it frames parses to a command or a failure.
    static func imapCommand(_ bytes: [UInt8]) {
        let limits = IMAPFramingLimits(maximumLineLength: 1024, maximumLiteralSize: 4096, maximumCommandSize: 8192, maximumLiterals: 8)
        var whole = IMAPCommandFramer(limits: limits)
        var buffer = ByteBuffer(bytes: bytes)
        var wholeFrames: [IMAPFrame] = []
        while let frame = whole.next(from: &buffer) { wholeFrames.append(frame) }
        var bytewise = IMAPCommandFramer(limits: limits)
        var byteFrames: [IMAPFrame] = []
        for byte in bytes {
            var one = ByteBuffer(bytes: [byte])
            while let frame = bytewise.next(from: &one) { byteFrames.append(frame) }
        }
        precondition(wholeFrames == byteFrames, "framing depends on how the bytes are split")
        for case .command(let command) in wholeFrames {
            _ = IMAPCommandParser(utf8Enabled: false).parse(command)
            _ = IMAPCommandParser(utf8Enabled: true).parse(command)
        }
        // With APPEND literals streamed, the pieces may be cut elsewhere, but what they carry and every
        // other frame must not depend on the split either.
        var streamingLimits = limits
        streamingLimits.streamedLiteralSize = 16
        func streamed(_ inputs: [[UInt8]]) -> (pieces: [UInt8], frames: [IMAPFrame]) {
            var framer = IMAPCommandFramer(limits: streamingLimits)
            var pieces: [UInt8] = []
            var frames: [IMAPFrame] = []
            for input in inputs {
                var buffer = ByteBuffer(bytes: input)
                while let frame = framer.next(from: &buffer) {
                    if case .literalPiece(let piece) = frame { pieces += piece.readableBytesView } else { frames.append(frame) }
                }
            }
            return (pieces, frames)
        }
        let streamedWhole = streamed([bytes])
        let streamedBytewise = streamed(bytes.map { [$0] })
        precondition(streamedWhole.pieces == streamedBytewise.pieces && streamedWhole.frames == streamedBytewise.frames,
                     "streamed framing depends on how the bytes are split")
        for case .command(let command) in streamedWhole.frames {
            _ = IMAPCommandParser(utf8Enabled: false).parse(command)
        }
    }

    /// Every Dovecot file reader, and the mbox reader, which must give the same messages (or the same
    /// error) however the file is split into pieces.
    static func mailboxFiles(_ bytes: [UInt8]) {
        if let list = try? DovecotUIDList(parsing: bytes) {
            // What is written back (version 3) reads back the same.
            guard let again = try? DovecotUIDList(parsing: Array(list.text.utf8)), again.records == list.records,
                again.uidValidity == list.uidValidity, again.nextUID == list.nextUID, again.mailboxGUID == list.mailboxGUID
            else { fatalError("uidlist round trip differs") }
        }
        _ = DovecotKeywords(parsing: bytes).text
        _ = DovecotSubscriptions.text(DovecotSubscriptions.parse(bytes))
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            _ = MaildirFileName(String(decoding: line, as: UTF8.self))
        }
        for quoting in MboxReader.Quoting.allCases {
            func read(_ pieceSize: Int) -> Result<[MboxReader.Message], MboxReader.ReadError> {
                var reader = MboxReader(quoting: quoting, maximumMessageBytes: 4096)
                var messages: [MboxReader.Message] = []
                var offset = 0
                do {
                    while offset < bytes.count {
                        messages += try reader.read(bytes[offset..<min(offset + pieceSize, bytes.count)])
                        offset += pieceSize
                    }
                    return .success(messages + (try reader.finish()))
                } catch {
                    return .failure(error)
                }
            }
            guard read(1) == read(max(bytes.count, 1)) && read(3) == read(1) else { fatalError("mbox pieces differ") }
        }
    }
}
