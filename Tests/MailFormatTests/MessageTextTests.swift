import Foundation
import MailFormat
import Testing

@Suite("Searchable message text")
struct MessageTextTests {
    @Test("RFC 2047 words: B and Q, charsets, adjacent words joined, malformed ones kept")
    func encodedWords() {
        #expect(EncodedWords.decode("=?utf-8?q?caf=C3=A9?=") == "café")
        #expect(EncodedWords.decode("=?UTF-8?B?w6l0w6k=?= ok") == "été ok")
        #expect(EncodedWords.decode("=?iso-8859-1?q?na=EFve_idea?=") == "naïve idea")
        #expect(EncodedWords.decode("=?utf-8?q?a?= =?utf-8?q?b?=") == "ab")  // RFC 2047 §6.2
        #expect(EncodedWords.decode("x =?utf-8?q?a?= y") == "x a y")
        #expect(EncodedWords.decode("=?utf-8*en?q?hi?=") == "hi")  // RFC 2231 language
        #expect(EncodedWords.decode("=?broken") == "=?broken")
        #expect(EncodedWords.decode("=?utf-8?x?abc?= plain") == "=?utf-8?x?abc?= plain")
        #expect(EncodedWords.decode("no words at all") == "no words at all")
        #expect(EncodedWords.decode("") == "" && EncodedWords.decode("=") == "=" && EncodedWords.decode("?=") == "?=")
        #expect(EncodedWords.decode("tail =?utf-8?q?caf=C3=A9?=") == "tail café")
    }

    @Test("body text: text parts decoded and converted, attached messages included, binary attachments left out")
    func body() {
        let message = Array((
            "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            + "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve =\r\nsoft\r\n"
            + "--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+w6l0w6k8L2I+\r\n"
            + "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0\r\n"
            + "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: =?utf-8?q?inner_caf=C3=A9?=\r\n\r\ninner words\r\n"
            + "--b--\r\n").utf8)
        let text = MessageText.body(of: message)
        #expect(text.contains("naïve soft"))
        #expect(text.contains("<b>été</b>"))
        #expect(!text.contains("secret") && !text.contains("c2VjcmV0"))
        #expect(text.contains("Subject: inner café") && text.contains("inner words"))
        // No MIME at all: the body is text/plain.
        #expect(MessageText.body(of: Array("Subject: s\r\n\r\nplain body\r\n".utf8)).contains("plain body"))
        // Bytes that are not the declared charset still give something to search.
        #expect(MessageText.body(of: Array("Content-Type: text/plain; charset=utf-8\r\n\r\nbad \u{FF}".utf8)).contains("bad"))
    }

    @Test("hostile encoded words and encodings never crash (catalogue M08, M09)")
    func hostile() {
        // Unknown charset, invalid and truncated UTF-8: something readable, no crash.
        #expect(EncodedWords.decode("=?x-unknown?q?abc?=") == "abc")
        #expect(!EncodedWords.decode("=?utf-8?q?=FF=FE?=").isEmpty)
        #expect(EncodedWords.decode("=?utf-8?q?caf=C3?=").hasPrefix("caf"))
        // A word longer than RFC 2047 allows stays as written.
        let long = "=?utf-8?q?" + String(repeating: "a", count: 5_000) + "?="
        #expect(EncodedWords.decode(long) == long)
        // CR LF inside a word decode for searching only; nothing here writes them back into a header.
        #expect(EncodedWords.decode("=?utf-8?Q?=0D=0ABcc:_x@evil?=") == "\r\nBcc: x@evil")
        // A 10,000-character quoted-printable line, and one made only of '=' signs.
        let line = Array(String(repeating: "=41", count: 10_000).utf8)
        #expect(TransferEncoding.quotedPrintable(line) == Array(repeating: UInt8(ascii: "A"), count: 10_000))
        #expect(TransferEncoding.quotedPrintable(Array(repeating: UInt8(ascii: "="), count: 10_000)).count == 9_999)
        #expect(TransferEncoding.base64(Array(repeating: UInt8(ascii: "*"), count: 10_000)).isEmpty)
    }
}
