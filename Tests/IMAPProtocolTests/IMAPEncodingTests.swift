import IMAPProtocol
import Testing

@Suite("IMAP response strings and literals")
struct IMAPEncodingTests {
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("strings are quoted with escapes, or literals for line ends, length and 8-bit without UTF-8")
    func strings() {
        #expect(self.text(IMAPEncoding.string("Hello \"you\" \\ there")) == "\"Hello \\\"you\\\" \\\\ there\"")
        #expect(self.text(IMAPEncoding.string("two\r\nlines")) == "{10}\r\ntwo\r\nlines")
        #expect(self.text(IMAPEncoding.string("café", utf8: true)) == "\"café\"")
        #expect(self.text(IMAPEncoding.string("café", utf8: false)) == "{5}\r\ncafé")
        #expect(IMAPEncoding.string(String(repeating: "x", count: 1025)).starts(with: Array("{1025}\r\n".utf8)))
    }

    @Test("NUL never goes out outside a literal8 (RFC 9051 §4.3): a space in strings, literal8 for binary data")
    func nul() {
        #expect(self.text(IMAPEncoding.string([0x61, 0, 0x62])) == "\"a b\"")
        #expect(self.text(IMAPEncoding.string([0x61, 0, 0x0D, 0x0A])) == "{4}\r\na \r\n")
        #expect(IMAPEncoding.binaryLiteral([0x61, 0]) == Array("~{2}\r\n".utf8) + [0x61, 0])
        #expect(IMAPEncoding.binaryLiteral([0x61]) == Array("{1}\r\na".utf8))
    }
}
