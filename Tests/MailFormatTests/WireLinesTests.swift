import Foundation
import MailFormat
import Testing

@Suite("WireLines")
struct WireLinesTests {
    private func wire(_ text: String, dotStuffing: Bool = true) -> String {
        String(decoding: WireLines.normalised(Data(text.utf8), dotStuffing: dotStuffing), as: UTF8.self)
    }

    @Test("clean content passes unchanged; every way of being unclean is repaired, wherever it sits")
    func normalisation() {
        let clean = "Subject: x\r\n\r\nline one\r\nline two.\r\n\r\n"
        #expect(self.wire(clean) == clean)
        #expect(self.wire("") == "")
        let cases: [(String, String)] = [
            (".first line\r\n", "..first line\r\n"),
            ("a\r\n.b\r\n", "a\r\n..b\r\n"),
            ("a\r\nb\r\n.\r\n", "a\r\nb\r\n..\r\n"),
            ("a\r\nbare\nc\r\n", "a\r\nbare\r\nc\r\n"),
            ("a\rb\r\n", "a\r\nb\r\n"),
            ("a\r\r\n", "a\r\n\r\n"),
            ("\n", "\r\n"),
            ("\r", "\r\n"),
            ("no line end", "no line end\r\n"),
            ("a\r\nlast", "a\r\nlast\r\n"),
            ("a\r\nlast\r", "a\r\nlast\r\n"),
            ("ends in LF\n", "ends in LF\r\n"),
        ]
        for (input, expected) in cases {
            #expect(self.wire(input) == expected, "\(input.debugDescription)")
        }
        #expect(self.wire(".a\r\n", dotStuffing: false) == ".a\r\n")
        #expect(self.wire(".a\nb", dotStuffing: false) == ".a\r\nb\r\n")
        // A long clean message with one flaw deep inside is still repaired.
        let long = String(repeating: "0123456789 abcdefghij\r\n", count: 500)
        #expect(self.wire(long) == long)
        #expect(self.wire(long + ".x\r\n" + long) == long + "..x\r\n" + long)
        #expect(self.wire(long + "x\ny\r\n") == long + "x\r\ny\r\n")
    }

    @Test("in pieces, split anywhere, the encoder makes the same bytes as the whole content normalised")
    func piecewise() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array("ab.\r\n".utf8) + [13, 10, 13, 10, UInt8(ascii: ".")]
        for round in 0..<400 {
            let length = Int.random(in: 0...200, using: &generator)
            let content = (0..<length).map { _ in alphabet.randomElement(using: &generator) ?? 0 }
            for dotStuffing in [true, false] {
                let expected = WireLines.normalised(content, dotStuffing: dotStuffing)
                var encoder = WireLineEncoder(dotStuffing: dotStuffing)
                var output: [UInt8] = []
                var start = 0
                while start < content.count {
                    let end = min(content.count, start + Int.random(in: 1...7, using: &generator))
                    encoder.append(content[start..<end], to: &output)
                    start = end
                }
                encoder.finish(to: &output)
                #expect(output == expected, "round \(round): \(content)")
            }
        }
    }
}
