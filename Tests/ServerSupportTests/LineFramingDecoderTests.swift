import NIOCore
import ServerSupport
import Testing

@Suite("LineFramingDecoder")
struct LineFramingDecoderTests {
    /// Feeds `input` split at `splits` and collects every frame.
    private func decode(_ input: [UInt8], splits: [Int], maximum: Int = 64) throws -> [String] {
        var decoder = LineFramingDecoder(maximumLineLength: maximum)
        var buffer = ByteBuffer()
        var frames: [String] = []
        var start = 0
        for end in splits + [input.count] where end >= start {
            buffer.writeBytes(input[start..<end])
            start = end
            while let frame = try decoder.decode(buffer: &buffer) {
                switch frame {
                case .line(let line): frames.append(String(buffer: line))
                case .tooLong: frames.append("<too long>")
                }
            }
            buffer.discardReadBytes()
        }
        return frames
    }

    @Test("every split of the input into two reads gives the same lines")
    func everySplit() throws {
        let input = Array("NOOP\r\nQUIT\nLINE WITH\rCR\r\n\r\n".utf8)
        let expected = ["NOOP", "QUIT", "LINE WITH\rCR", ""]
        for split in 0...input.count {
            #expect(try self.decode(input, splits: [split]) == expected, "split at \(split)")
        }
        // And byte by byte.
        #expect(try self.decode(input, splits: Array(1..<input.count)) == expected)
    }

    @Test("an over-long line becomes one .tooLong and the next line is read normally, however it arrives")
    func overlong() throws {
        let long = String(repeating: "x", count: 500)
        let input = Array("\(long)\r\nNOOP\r\n".utf8)
        for splits in [[], [10], [100, 200, 300], Array(stride(from: 7, to: input.count, by: 7))] {
            #expect(try self.decode(input, splits: splits) == ["<too long>", "NOOP"], "splits \(splits)")
        }
        // Exactly at the limit is still a line.
        let atLimit = String(repeating: "y", count: 64)
        #expect(try self.decode(Array("\(atLimit)\r\n".utf8), splits: []) == [atLimit])
    }

    @Test("a client that never sends LF is not buffered without bound")
    func neverEndingLine() throws {
        var decoder = LineFramingDecoder(maximumLineLength: 64)
        var buffer = ByteBuffer()
        for _ in 0..<1000 {
            buffer.writeBytes(Array(repeating: UInt8(ascii: "z"), count: 100))
            #expect(try decoder.decode(buffer: &buffer) == nil)
            buffer.discardReadBytes()
            #expect(buffer.readableBytes <= 100)
        }
        buffer.writeString("\r\nNEXT\r\n")
        #expect(try decoder.decode(buffer: &buffer) == .tooLong)
        #expect(try decoder.decode(buffer: &buffer) == .line(ByteBuffer(string: "NEXT")))
    }
}
