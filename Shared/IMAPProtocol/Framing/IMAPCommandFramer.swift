import NIOCore

/// One client command as it arrived: its lines, and the literal data (RFC 9051 §4.3) announced at the end
/// of every line but the last. `lines[i]` ends with `{n}`, `{n+}` or `~{n}` (without CRLF) for each
/// `literals[i]`; the last line ends the command.
public struct IMAPCommandBytes: Sendable, Equatable {
    public var lines: [[UInt8]]
    public var literals: [[UInt8]]
    /// The literal (by index) that was handed over in `IMAPFrame.literalPiece`s as it arrived instead
    /// of being kept here (its place in `literals` is empty), with its size.
    public var streamedLiteral: (index: Int, size: Int)?

    public init(lines: [[UInt8]], literals: [[UInt8]] = [], streamedLiteral: (index: Int, size: Int)? = nil) {
        self.lines = lines
        self.literals = literals
        self.streamedLiteral = streamedLiteral
    }

    public static func == (left: IMAPCommandBytes, right: IMAPCommandBytes) -> Bool {
        left.lines == right.lines && left.literals == right.literals
            && left.streamedLiteral?.index == right.streamedLiteral?.index && left.streamedLiteral?.size == right.streamedLiteral?.size
    }

    /// The tag the command began with, as far as it can be read: for error replies to a command that
    /// could not be framed or parsed (`*` when there is none).
    public var tag: String { IMAPCommandBytes.tag(of: self.lines.first ?? []) }

    static func tag(of line: [UInt8]) -> String {
        let end = line.firstIndex(of: UInt8(ascii: " ")) ?? line.endIndex
        let candidate = line[..<min(end, line.startIndex + 64)]
        guard !candidate.isEmpty, candidate.allSatisfy(IMAPGrammar.isTagChar) else { return "*" }
        return String(decoding: candidate, as: UTF8.self)
    }
}

/// What the framer hands the session.
public enum IMAPFrame: Sendable, Equatable {
    /// A complete command with all its literals.
    case command(IMAPCommandBytes)
    /// Part of a large APPEND literal, handed over while the rest arrives (see
    /// `IMAPFramingLimits.streamedLiteralSize`); the command that follows names it `streamedLiteral`.
    case literalPiece(ByteBuffer)
    /// The client announced a synchronising literal and waits for `+` before sending it (RFC 9051 §7.5).
    case continuationRequest
    /// A line longer than the limit was skipped (with a non-synchronising literal it announced):
    /// answer `tag BAD` and go on.
    case lineTooLong(tag: String)
    /// A synchronising literal larger than allowed was announced: the client has not sent it, so
    /// answer `tag NO [TOOBIG]` (before login the session answers `BAD`) without `+`; the command is dropped.
    case literalTooLarge(tag: String)
    /// A non-synchronising literal larger than allowed (or than LITERAL- allows) is already on its way,
    /// or a command grew past its byte or literal-count budget: say `* BYE [TOOBIG]` and close.
    case fatal(tag: String, reason: String)
}

/// Limits of the framer; every one keeps the memory of one connection bounded.
public struct IMAPFramingLimits: Sendable, Equatable {
    /// Bytes of one line, literals not counted (RFC 2683 §3.2.1.5 asks for at least 8000).
    public var maximumLineLength: Int
    /// Bytes of one literal (APPENDLIMIT for APPEND).
    public var maximumLiteralSize: Int
    /// Bytes of one command, lines and literals together.
    public var maximumCommandSize: Int
    /// Literals in one command.
    public var maximumLiterals: Int
    /// LITERAL- (RFC 7888 §5): non-synchronising literals only up to 4096 bytes. LITERAL+ when false.
    public var literalMinus: Bool
    /// An APPEND literal larger than this is handed over in pieces as it arrives (the message goes to
    /// the store as it comes) rather than kept until the command is complete.
    public var streamedLiteralSize: Int

    public init(
        maximumLineLength: Int = 65_536, maximumLiteralSize: Int = 50 * 1024 * 1024,
        maximumCommandSize: Int = 64 * 1024 * 1024, maximumLiterals: Int = 1000, literalMinus: Bool = false,
        streamedLiteralSize: Int = .max
    ) {
        self.streamedLiteralSize = streamedLiteralSize
        self.maximumLineLength = maximumLineLength
        self.maximumLiteralSize = maximumLiteralSize
        self.maximumCommandSize = maximumCommandSize
        self.maximumLiterals = maximumLiterals
        self.literalMinus = literalMinus
    }

    /// Bytes of one literal before login. Until a client has logged in it needs literals only for a user
    /// name and a password (or a SASL response), and an unknown peer must not make the server hold
    /// megabytes: a larger synchronising literal is refused without `+`, a larger non-synchronising one
    /// ends the connection.
    public static let maximumLiteralSizeBeforeLogin = 8192

    /// These limits narrowed for a client that has not logged in: small literals, few of them, and a
    /// command no larger than a few lines.
    public var beforeLogin: IMAPFramingLimits {
        IMAPFramingLimits(
            maximumLineLength: self.maximumLineLength,
            maximumLiteralSize: min(self.maximumLiteralSize, Self.maximumLiteralSizeBeforeLogin),
            maximumCommandSize: min(self.maximumCommandSize, 4 * Self.maximumLiteralSizeBeforeLogin + 2 * self.maximumLineLength),
            maximumLiterals: min(self.maximumLiterals, 4), literalMinus: self.literalMinus, streamedLiteralSize: .max)
    }
}

/// Splits the client's byte stream into commands (RFC 9051 §2.2.1): lines ending in CRLF, each possibly
/// ending in a literal announcement whose bytes follow. Pure and incremental: feed it whatever the
/// network delivered, in pieces of any size, and take frames out; it never holds more than one command.
public struct IMAPCommandFramer: Sendable {
    public var limits: IMAPFramingLimits

    private enum State: Sendable {
        /// Reading a line of the current command.
        case line
        /// Reading `remaining` bytes of a literal; a streamed one is handed over in pieces.
        case literal(remaining: Int, streamed: Bool)
        /// Skipping the rest of an over-long line; `tail` keeps its last bytes to spot a literal
        /// announcement at its end (whose bytes must be skipped too, never run as commands).
        case skippingLine(tag: String, tail: [UInt8])
        /// Skipping the bytes of a non-synchronising literal announced by a skipped line.
        case skippingLiteral(tag: String, remaining: Int)
        /// A fatal error was reported: nothing more is framed.
        case failed
    }

    private var state = State.line
    private var lines: [[UInt8]] = []
    private var literals: [[UInt8]] = []
    private var current: [UInt8] = []
    private var commandBytes = 0
    private var streamedLiteral: (index: Int, size: Int)?
    /// Bytes of a streamed literal not handed over yet.
    private var piece = ByteBuffer()

    /// A streamed literal is handed over in pieces of about this size.
    static let literalPieceBytes = 64 * 1024

    public init(limits: IMAPFramingLimits = IMAPFramingLimits()) { self.limits = limits }

    /// Part of a command has arrived (a line with a literal, or literal bytes, or part of a line being
    /// skipped) and the rest has not.
    public var isInsideCommand: Bool {
        switch self.state {
        case .literal, .skippingLine, .skippingLiteral: true
        case .line: !self.lines.isEmpty || !self.current.isEmpty
        case .failed: false
        }
    }

    /// Drops everything buffered and starts afresh: after STARTTLS nothing sent in plaintext may be
    /// run inside TLS (CVE-2011-0411).
    public mutating func reset() {
        self = IMAPCommandFramer(limits: self.limits)
    }

    /// Takes the next frame out of `buffer`, consuming what it used; nil when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) -> IMAPFrame? {
        while buffer.readableBytes > 0 {
            switch self.state {
            case .failed:
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                return nil
            case .literal(let remaining, let streamed):
                // A streamed literal is cut into pieces however much arrived at once.
                let room = streamed ? Self.literalPieceBytes - self.piece.readableBytes : Int.max
                let take = min(remaining, buffer.readableBytes, room)
                if streamed {
                    if var bytes = buffer.readSlice(length: take) { self.piece.writeBuffer(&bytes) }
                } else if let bytes = buffer.readBytes(length: take) {
                    self.current.append(contentsOf: bytes)
                }
                if remaining - take > 0 {
                    self.state = .literal(remaining: remaining - take, streamed: streamed)
                    if streamed, self.piece.readableBytes >= Self.literalPieceBytes { return self.takePiece() }
                } else {
                    self.literals.append(streamed ? [] : self.current)
                    self.current = []
                    self.state = .line
                    if streamed, self.piece.readableBytes > 0 { return self.takePiece() }
                }
            case .skippingLiteral(let tag, let remaining):
                let take = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: take)
                if remaining - take > 0 {
                    self.state = .skippingLiteral(tag: tag, remaining: remaining - take)
                } else {
                    // The skipped command goes on after its literal: skip that line too.
                    self.state = .skippingLine(tag: tag, tail: [])
                }
            case .skippingLine(let tag, let tail):
                let view = buffer.readableBytesView
                guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
                    let keep = Array((tail + view).suffix(32))
                    buffer.moveReaderIndex(forwardBy: view.count)
                    self.state = .skippingLine(tag: tag, tail: keep)
                    return nil
                }
                let lineTail = Array((tail + view[view.startIndex..<newline]).suffix(32))
                buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
                let ended = Self.trimCR(lineTail)
                if let announcement = IMAPGrammar.literalAnnouncement(endOf: ended), !announcement.synchronising {
                    self.state = .skippingLiteral(tag: tag, remaining: announcement.size)
                    continue
                }
                self.state = .line
                self.discardCommand()
                return .lineTooLong(tag: tag)
            case .line:
                if let frame = self.readLine(from: &buffer) { return frame }
            }
        }
        return nil
    }

    /// Reads (part of) a line; returns a frame when one is complete or an error is found.
    private mutating func readLine(from buffer: inout ByteBuffer) -> IMAPFrame? {
        let view = buffer.readableBytesView
        let newline = view.firstIndex(of: UInt8(ascii: "\n"))
        let available = (newline ?? view.endIndex) - view.startIndex
        if self.current.count + available > self.limits.maximumLineLength + 2 {
            let tag = self.lines.isEmpty ? IMAPCommandBytes.tag(of: self.current + view.prefix(64)) : IMAPCommandBytes.tag(of: self.lines[0])
            self.state = .skippingLine(tag: tag, tail: Array(self.current.suffix(32)))
            self.current = []
            return nil
        }
        guard let newline else {
            self.current.append(contentsOf: view)
            buffer.moveReaderIndex(forwardBy: view.count)
            return nil
        }
        self.current.append(contentsOf: view[view.startIndex..<newline])
        buffer.moveReaderIndex(forwardBy: available + 1)
        let line = Self.trimCR(self.current)
        self.current = []
        self.commandBytes += line.count + 2
        let tag = IMAPCommandBytes.tag(of: self.lines.first ?? line)
        if self.commandBytes > self.limits.maximumCommandSize {
            return self.fail(tag: tag, reason: "Command too large")
        }
        guard let announcement = IMAPGrammar.literalAnnouncement(endOf: line) else {
            self.lines.append(line)
            let command = IMAPCommandBytes(lines: self.lines, literals: self.literals, streamedLiteral: self.streamedLiteral)
            self.discardCommand()
            return .command(command)
        }
        let tooMany = self.literals.count + 1 > self.limits.maximumLiterals
        let tooLarge = announcement.size > self.limits.maximumLiteralSize
            || self.commandBytes + announcement.size > self.limits.maximumCommandSize
        if announcement.synchronising {
            if tooMany || tooLarge {
                self.discardCommand()
                return .literalTooLarge(tag: tag)
            }
        } else {
            if tooMany || tooLarge || (self.limits.literalMinus && announcement.size > 4096) {
                return self.fail(tag: tag, reason: "Literal too large")
            }
        }
        // A CATENATE part (RFC 4469) is joined with others in memory, so its literal is kept whole.
        let streamed = announcement.size > self.limits.streamedLiteralSize && self.streamedLiteral == nil
            && Self.isAppend(self.lines.first ?? line) && !(self.lines + [line]).contains(where: Self.mentionsCatenate)
        if streamed { self.streamedLiteral = (self.literals.count, announcement.size) }
        self.lines.append(line)
        self.commandBytes += announcement.size
        self.state = .literal(remaining: announcement.size, streamed: streamed)
        if announcement.size == 0 {
            self.literals.append([])
            self.state = .line
        }
        return announcement.synchronising ? .continuationRequest : nil
    }

    private mutating func fail(tag: String, reason: String) -> IMAPFrame {
        self.discardCommand()
        self.state = .failed
        return .fatal(tag: tag, reason: reason)
    }

    private mutating func discardCommand() {
        self.lines = []
        self.literals = []
        self.current = []
        self.commandBytes = 0
        self.streamedLiteral = nil
        self.piece = ByteBuffer()
    }

    private mutating func takePiece() -> IMAPFrame {
        let piece = self.piece
        self.piece = ByteBuffer()
        return .literalPiece(piece)
    }

    /// Whether the command's first line is `tag APPEND …` (the only command whose literal is streamed).
    static func isAppend(_ line: [UInt8]) -> Bool {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return false }
        let verb = Array("APPEND ".utf8)
        let rest = line[(space + 1)...]
        return rest.count > verb.count && zip(rest, verb).allSatisfy { $0 & 0xDF == $1 & 0xDF }
    }

    /// Whether the line holds the word CATENATE (in any case).
    static func mentionsCatenate(_ line: [UInt8]) -> Bool {
        let word = Array("CATENATE".utf8)
        guard line.count >= word.count else { return false }
        return (0...(line.count - word.count)).contains { start in
            zip(line[start..<(start + word.count)], word).allSatisfy { $0 & 0xDF == $1 }
        }
    }

    private static func trimCR(_ line: [UInt8]) -> [UInt8] {
        line.last == UInt8(ascii: "\r") ? Array(line.dropLast()) : line
    }
}
