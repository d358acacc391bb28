import IMAPProtocol
import NIOCore
import Testing

@Suite("IMAP command framing")
struct IMAPFramerTests {
    /// Feeds `input` in pieces of the given sizes and collects every frame.
    private func frames(_ input: [UInt8], splits: [Int]? = nil, limits: IMAPFramingLimits = IMAPFramingLimits()) -> [IMAPFrame] {
        var framer = IMAPCommandFramer(limits: limits)
        var output: [IMAPFrame] = []
        var pieces: [[UInt8]] = []
        if let splits {
            var start = 0
            for split in splits + [input.count] where split >= start {
                pieces.append(Array(input[start..<min(split, input.count)]))
                start = min(split, input.count)
            }
        } else {
            pieces = [input]
        }
        for piece in pieces {
            var buffer = ByteBuffer(bytes: piece)
            while let frame = framer.next(from: &buffer) { output.append(frame) }
            #expect(buffer.readableBytes == 0)
        }
        return output
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("lines, synchronising and non-synchronising literals, binary literals, empty literals")
    func literals() {
        let input = bytes("a1 NOOP\r\na2 LOGIN {5}\r\nalice {3+}\r\npw!\r\na3 APPEND INBOX ~{4}\r\n\u{0}\u{1}xy\r\na4 X {0}\r\n\r\n")
        let expected: [IMAPFrame] = [
            .command(IMAPCommandBytes(lines: [bytes("a1 NOOP")])),
            .continuationRequest,
            .command(IMAPCommandBytes(lines: [bytes("a2 LOGIN {5}"), bytes(" {3+}"), []], literals: [bytes("alice"), bytes("pw!")])),
            .continuationRequest,
            .command(IMAPCommandBytes(lines: [bytes("a3 APPEND INBOX ~{4}"), []], literals: [[0, 1, 120, 121]])),
            .continuationRequest,
            .command(IMAPCommandBytes(lines: [bytes("a4 X {0}"), []], literals: [[]])),
        ]
        #expect(self.frames(input) == expected)
        // Every way of splitting the stream in two, and byte by byte, frames the same.
        for split in 0...input.count {
            #expect(self.frames(input, splits: [split]) == expected, "split at \(split)")
        }
        #expect(self.frames(input, splits: Array(1..<input.count)) == expected)
        // A bare LF ends a line too (lenient, as most servers are).
        #expect(self.frames(bytes("a NOOP\n")) == [.command(IMAPCommandBytes(lines: [bytes("a NOOP")]))])
    }

    @Test("a synchronising literal over the limit or beyond 64 bits gets TOOBIG before any +")
    func literalTooLarge() {
        let limits = IMAPFramingLimits(maximumLiteralSize: 1000)
        #expect(self.frames(bytes("a APPEND INBOX {4294967296}\r\nb NOOP\r\n"), limits: limits)
            == [.literalTooLarge(tag: "a"), .command(IMAPCommandBytes(lines: [bytes("b NOOP")]))])
        #expect(self.frames(bytes("a APPEND INBOX {99999999999999999999}\r\nb NOOP\r\n"), limits: limits)
            == [.literalTooLarge(tag: "a"), .command(IMAPCommandBytes(lines: [bytes("b NOOP")]))])
        #expect(self.frames(bytes("a APPEND INBOX {1000}\r\n"), limits: limits) == [.continuationRequest])
    }

    @Test("a non-synchronising literal too large, past LITERAL-'s 4096, or one literal too many is fatal")
    func fatalLiterals() {
        let limits = IMAPFramingLimits(maximumLiteralSize: 10_000, maximumLiterals: 3, literalMinus: true)
        #expect(self.frames(bytes("a APPEND INBOX {5000+}\r\n") + Array(repeating: 65, count: 5000) + bytes("\r\nb NOOP\r\n"), limits: limits)
            == [.fatal(tag: "a", reason: "Literal too large")])
        #expect(self.frames(bytes("a APPEND INBOX {4096+}\r\n") + Array(repeating: 65, count: 4096) + bytes("\r\n"), limits: limits).count == 1)
        let many = bytes("a SEARCH") + Array(repeating: bytes(" TEXT {1+}\r\nx"), count: 5).joined() + bytes("\r\n")
        #expect(self.frames(many, limits: limits) == [.fatal(tag: "a", reason: "Literal too large")])
    }

    @Test("an over-long line is skipped with its non-synchronising literal, whose bytes never run")
    func longLines() {
        let limits = IMAPFramingLimits(maximumLineLength: 100)
        let long = bytes("a NOOP " + String(repeating: "x", count: 500) + "\r\nb NOOP\r\n")
        #expect(self.frames(long, limits: limits) == [.lineTooLong(tag: "a"), .command(IMAPCommandBytes(lines: [bytes("b NOOP")]))])
        for split in [5, 50, 101, 102, 400, 506, 507, 508] {
            #expect(self.frames(long, splits: [split], limits: limits)
                == [.lineTooLong(tag: "a"), .command(IMAPCommandBytes(lines: [bytes("b NOOP")]))], "split at \(split)")
        }
        // The literal after an over-long line holds a command: it is skipped, not run.
        let smuggled = bytes("a X " + String(repeating: "y", count: 200) + " {16+}\r\nb DELETE INBOX\r\n\r\nc NOOP\r\n")
        #expect(self.frames(smuggled, limits: limits) == [.lineTooLong(tag: "a"), .command(IMAPCommandBytes(lines: [bytes("c NOOP")]))])
        for split in [150, 205, 210, 215, 220, 230] {
            #expect(self.frames(smuggled, splits: [split], limits: limits)
                == [.lineTooLong(tag: "a"), .command(IMAPCommandBytes(lines: [bytes("c NOOP")]))], "split at \(split)")
        }
    }

    @Test("reset drops the part of a command pipelined before TLS")
    func reset() {
        var framer = IMAPCommandFramer()
        var buffer = ByteBuffer(string: "A STARTTLS\r\nB NO")
        #expect(framer.next(from: &buffer) == .command(IMAPCommandBytes(lines: [Array("A STARTTLS".utf8)])))
        #expect(framer.next(from: &buffer) == nil)
        framer.reset()
        var next = ByteBuffer(string: "OP\r\nC NOOP\r\n")
        #expect(framer.next(from: &next) == .command(IMAPCommandBytes(lines: [Array("OP".utf8)])))
        #expect(framer.next(from: &next) == .command(IMAPCommandBytes(lines: [Array("C NOOP".utf8)])))
    }

    @Test("before login: literals of 8 KiB at most, at most four of them, and the command a few lines long")
    func beforeLogin() {
        let limits = IMAPFramingLimits(maximumLiteralSize: 50_000_000).beforeLogin
        #expect(limits.maximumLiteralSize == 8192 && limits.maximumLiterals == 4)
        #expect(self.frames(bytes("a LOGIN {8192}\r\n"), limits: limits) == [.continuationRequest])
        #expect(self.frames(bytes("a LOGIN {8193}\r\nb NOOP\r\n"), limits: limits)
            == [.literalTooLarge(tag: "a"), .command(IMAPCommandBytes(lines: [bytes("b NOOP")]))])
        #expect(self.frames(bytes("a LOGIN {30000000+}\r\n"), limits: limits) == [.fatal(tag: "a", reason: "Literal too large")])
        let five = bytes("a X {1+}\r\n1 {1+}\r\n2 {1+}\r\n3 {1+}\r\n4 {1+}\r\n5\r\n")
        #expect(self.frames(five, limits: limits).last == .fatal(tag: "a", reason: "Literal too large"))
    }

    @Test("an APPEND literal over the streaming size comes in pieces, however it is split; other commands' literals do not")
    func streamedLiteral() {
        let limits = IMAPFramingLimits(streamedLiteralSize: 1000)
        let message = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        let input = bytes("s1 APPEND INBOX (\\Seen) {200000+}\r\n") + message + bytes("\r\ns2 LOGIN a {2000+}\r\n")
            + [UInt8](repeating: 65, count: 2000) + bytes("\r\n")
        for splits in [nil, Array(stride(from: 7, to: input.count, by: 4099))] {
            let output = self.frames(input, splits: splits, limits: limits)
            var streamed: [UInt8] = []
            var commands: [IMAPCommandBytes] = []
            for frame in output {
                switch frame {
                case .literalPiece(let piece):
                    #expect(commands.isEmpty && piece.readableBytes <= 70_000)
                    streamed += piece.readableBytesView
                case .command(let command): commands.append(command)
                default: Issue.record("unexpected \(frame)")
                }
            }
            #expect(streamed == message)
            #expect(commands.count == 2)
            #expect(commands.first?.literals == [[]] && commands.first?.streamedLiteral?.index == 0
                    && commands.first?.streamedLiteral?.size == 200_000)
            // LOGIN's literal is kept with its command: only APPEND streams.
            #expect(commands.last?.literals == [[UInt8](repeating: 65, count: 2000)] && commands.last?.streamedLiteral == nil)
        }
        // At or under the size, an APPEND literal stays with its command.
        let small = self.frames(bytes("s3 APPEND INBOX {1000+}\r\n") + [UInt8](repeating: 66, count: 1000) + bytes("\r\n"), limits: limits)
        #expect(small == [.command(IMAPCommandBytes(lines: [bytes("s3 APPEND INBOX {1000+}"), []], literals: [[UInt8](repeating: 66, count: 1000)]))])
    }

    @Test("a CATENATE part's literal (RFC 4469) stays with its command, however large: the parts are joined in memory")
    func catenateLiteral() {
        let limits = IMAPFramingLimits(streamedLiteralSize: 1000)
        let text = [UInt8](repeating: 67, count: 5000)
        let output = self.frames(bytes("c1 APPEND INBOX catenate (URL \"/INBOX/;UID=1\" TEXT {5000+}\r\n") + text + bytes(")\r\n"), limits: limits)
        guard case .command(let command)? = output.first, output.count == 1 else {
            Issue.record("not one command: \(output)")
            return
        }
        #expect(command.literals == [text] && command.streamedLiteral == nil)
        guard case .success(let parsed) = IMAPCommandParser().parse(command) else {
            Issue.record("not parsed")
            return
        }
        #expect(parsed.kind == .append(IMAPMailboxName("INBOX"), [IMAPAppendedMessage(message: [], catenate: [.url("/INBOX/;UID=1"), .text(text)])]))
    }
}
