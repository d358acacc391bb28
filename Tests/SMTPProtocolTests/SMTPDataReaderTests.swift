import NIOCore
import SMTPProtocol
import Testing

@Suite("SMTPDataReader: end of data, dot-stuffing, smuggling shapes, size")
struct SMTPDataReaderTests {
    /// Feeds `input` in pieces split at `splits`; returns the reader and the bytes left after the end.
    private func read(_ input: [UInt8], splits: [Int] = [], maximum: Int = 1 << 20) -> (SMTPDataReader, [UInt8]) {
        var reader = SMTPDataReader(maximumSize: maximum)
        var leftover: [UInt8] = []
        var start = 0
        for end in splits + [input.count] where end >= start {
            var buffer = ByteBuffer(bytes: input[start..<end])
            start = end
            if reader.isFinished {
                leftover += buffer.readableBytesView
                continue
            }
            _ = reader.consume(&buffer)
            leftover += buffer.readableBytesView
        }
        return (reader, leftover)
    }

    @Test("CRLF.CRLF ends the data; the pipelined command after it is left over; every split agrees")
    func endOfData() {
        let input = Array("Subject: x\r\n\r\nline one\r\n..dot\r\n.x\r\n.\r\nQUIT\r\n".utf8)
        let expected = Array("Subject: x\r\n\r\nline one\r\n.dot\r\nx\r\n".utf8)
        for split in 0...input.count {
            let (reader, leftover) = self.read(input, splits: [split])
            #expect(reader.isFinished, "split \(split)")
            #expect(Array(reader.content.readableBytesView) == expected, "split \(split)")
            #expect(leftover == Array("QUIT\r\n".utf8), "split \(split)")
            #expect(!reader.sawBareLineEnding)
        }
        let (byByte, _) = self.read(input, splits: Array(1..<input.count))
        #expect(Array(byByte.content.readableBytesView) == expected)
    }

    @Test("an empty message ends at the first line")
    func empty() {
        let (reader, leftover) = self.read(Array(".\r\n".utf8))
        #expect(reader.isFinished && reader.content.readableBytes == 0 && leftover.isEmpty)
    }

    // None of these ends the data; each is flagged; only the real CRLF.CRLF ends it.
    @Test(
        "smuggling shapes never end the data",
        arguments: [
            "\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r.\n", "\n.\r", "\r.\r\n", "\r\n.\r", "\r\n\u{0}.\r\n",
        ])
    func smuggling(_ shape: String) {
        let input = Array("a\(shape)MAIL FROM:<evil@example.net>\r\nbody\r\n.\r\nNOOP\r\n".utf8)
        for split in 0...input.count {
            let (reader, leftover) = self.read(input, splits: [split])
            #expect(reader.isFinished, "\(shape.debugDescription) split \(split)")
            #expect(leftover == Array("NOOP\r\n".utf8), "\(shape.debugDescription) split \(split)")
            let content = String(decoding: reader.content.readableBytesView, as: UTF8.self)
            #expect(content.contains("MAIL FROM:<evil@example.net>"), "the smuggled command stays content")
            if shape != "\r\n\u{0}.\r\n" {
                #expect(reader.sawBareLineEnding, "\(shape.debugDescription) should be flagged")
            }
        }
    }

    @Test("a bare CR or LF anywhere is flagged")
    func bareEndings() {
        #expect(self.read(Array("a\rb\r\n.\r\n".utf8)).0.sawBareLineEnding)
        #expect(self.read(Array("a\nb\r\n.\r\n".utf8)).0.sawBareLineEnding)
        #expect(!self.read(Array("a b\r\n.\r\n".utf8)).0.sawBareLineEnding)
    }

    @Test("a 5,000-octet line is kept byte-exact")
    func longLine() {
        let line = String(repeating: "x", count: 5_000)
        let (reader, _) = self.read(Array("\(line)\r\n.\r\n".utf8), splits: [100, 2_500, 4_999])
        #expect(Array(reader.content.readableBytesView) == Array("\(line)\r\n".utf8))
    }

    @Test("content over the limit is read to the end and discarded")
    func oversize() {
        let body = String(repeating: "y", count: 1_000)
        let (reader, leftover) = self.read(Array("\(body)\r\n.\r\nRSET\r\n".utf8), maximum: 100)
        #expect(reader.isFinished && reader.exceededMaximumSize)
        #expect(reader.content.readableBytes == 100 && reader.contentSize == 1_002)
        #expect(leftover == Array("RSET\r\n".utf8))
    }
}
