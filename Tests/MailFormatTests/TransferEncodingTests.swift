import Foundation
import MailFormat
import Testing

@Suite("Content-Transfer-Encoding decoding")
struct TransferEncodingTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("base64: line breaks and junk ignored, padding optional, a cut-short group decoded as far as it goes")
    func base64() {
        let original = Array((0...255).map { UInt8($0) }) + bytes("end")
        let encoded = Data(original).base64EncodedString(options: .lineLength76Characters)
        #expect(TransferEncoding.base64(bytes(encoded)) == original)
        #expect(TransferEncoding.base64(bytes("aGVs\r\nbG8=\r\n")) == bytes("hello"))
        #expect(TransferEncoding.base64(bytes("aGVsbG8")) == bytes("hello"))  // padding missing
        #expect(TransferEncoding.base64(bytes("aGVs bG8*!")) == bytes("hello"))  // junk outside the alphabet
        #expect(TransferEncoding.base64(bytes("aGVsbG8=IGlnbm9yZWQ=")) == bytes("hello"))  // data ends at padding
        #expect(TransferEncoding.base64(bytes("aGVsbA")) == bytes("hell"))
        #expect(TransferEncoding.base64(bytes("aGVsb")) == bytes("hel"))  // one leftover character carries nothing
        #expect(TransferEncoding.base64([]) == [])
    }

    @Test("quoted-printable: =XX, soft line breaks, transport padding, stray = kept")
    func quotedPrintable() {
        #expect(TransferEncoding.quotedPrintable(bytes("caf=C3=A9 =3D ok\r\n")) == bytes("café = ok\r\n"))
        #expect(TransferEncoding.quotedPrintable(bytes("one long=\r\n line\r\n")) == bytes("one long line\r\n"))
        #expect(TransferEncoding.quotedPrintable(bytes("soft = \r\nnext")) == bytes("soft next"))
        #expect(TransferEncoding.quotedPrintable(bytes("padded   \t\r\nx")) == bytes("padded\r\nx"))
        #expect(TransferEncoding.quotedPrintable(bytes("bare lf=\nx=4\n")) == bytes("bare lfx=4\r\n"))
        #expect(TransferEncoding.quotedPrintable(bytes("=ZZ and =a9")) == bytes("=ZZ and ") + [0xA9])
        #expect(TransferEncoding.quotedPrintable(bytes("end=")) == bytes("end"))
    }

    @Test("by name: identity encodings as they are, unknown ones nil")
    func byName() {
        #expect(TransferEncoding.decode(bytes("x\r\n"), encoding: nil) == bytes("x\r\n"))
        #expect(TransferEncoding.decode(bytes("x"), encoding: " 8BIT ") == bytes("x"))
        #expect(TransferEncoding.decode(bytes("eA=="), encoding: "Base64") == bytes("x"))
        #expect(TransferEncoding.decode(bytes("=78"), encoding: "quoted-printable") == bytes("x"))
        #expect(TransferEncoding.decode(bytes("x"), encoding: "x-uuencode") == nil)
    }
}
