import MailFormat
import Testing

@Suite("MessagePreview")
struct MessagePreviewTests {
    func preview(_ message: String) -> String {
        let bytes = Array(message.utf8)
        return MessagePreview.text(of: bytes, root: MIMEParser.parse(bytes))
    }

    @Test("one line of at most 256 characters, white space and controls made single spaces, counted in characters")
    func oneLine() {
        let long = String(repeating: "é🙂 ", count: 200)
        let text = self.preview("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \t\r\n  " + long)
        #expect(text.count == 256 && text.first == "é" && !text.hasSuffix(" ") && !text.contains("  "))
        #expect(self.preview("Subject: x\r\n\r\nA\u{7}b\r\n\r\nc") == "A b c")
    }

    @Test("HTML: tags separate words, script, style and comments are dropped, references decoded, an unclosed tag ends the text")
    func html() {
        let html = "Content-Type: text/html\r\n\r\n<style>a{}</style><SCRIPT>x<y</SCRIPT><!-- c --><b>Bold</b>text<br/>&#65;&#x42; &amp;&bogus; &lt<i"
        #expect(self.preview(html) == "Bold text AB &&bogus; &lt")
    }

    @Test("the plain part is chosen over HTML and over attachments; a message with neither has an empty preview")
    func parts() {
        let mixed = """
            Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\
            --x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n\
            --x\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--x--\r\n
            """
        #expect(self.preview(mixed) == "plain text")
        #expect(self.preview("Content-Type: application/pdf\r\n\r\n%PDF") == "")
        #expect(self.preview("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>only html</p>\r\n--x--\r\n") == "only html")
    }
}
