import Foundation
import MailFormat
import Testing

@Suite("MIME structure")
struct MIMEStructureTests {
    private func parse(_ text: String) -> MIMEEntity { MIMEParser.parse(Array(text.utf8)) }

    @Test("parts, nesting into message/rfc822, defaults, and RFC 2231 parameters")
    func structure() {
        let message = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\r\nplain default\r\n"
            + "--b1\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: text/html; name*0*=utf-8''caf%C3%A9; name*1=\".html\"\r\n\r\n<p>\r\n"
            + "--b1--\r\nepilogue\r\n"
        let root = self.parse(message)
        #expect(root.type == "multipart" && root.subtype == "mixed" && root.parameter("boundary") == "b1")
        #expect(root.children.count == 2)
        #expect(root.children[0].type == "text" && root.children[0].parameter("charset") == "us-ascii")
        let bytes = Array(message.utf8)
        #expect(String(decoding: bytes[root.children[0].body], as: UTF8.self) == "plain default")
        let inner = root.part([2, 1])
        #expect(inner?.type == "text" && inner?.subtype == "html" && inner?.parameter("name") == "café.html")
        #expect(root.part([3]) == nil && root.part([1, 1]) != nil && root.part([1, 2]) == nil)
    }

    @Test("M07: missing closing boundary, empty boundary, boundary as a prefix of a body line, a reused boundary")
    func malformedBoundaries() {
        let unclosed = self.parse("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\none\r\n--x\r\n\r\ntwo\r\n")
        #expect(unclosed.children.count == 2)
        #expect(self.parse("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\nbody\r\n").children.isEmpty)
        let prefixed = self.parse("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--xyz is text\r\n--x--\r\n")
        #expect(prefixed.children.count == 1)
        let reused = self.parse(
            "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\na\r\n--x--\r\n")
        #expect(reused.children.count >= 1)
    }

    @Test("M01, M02, M03: 10,000-deep nesting and 100,000 siblings parse to the limits, in bounded time")
    func limits() {
        var deep = ""
        for level in 0..<10_000 { deep += "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n" }
        var root = MIMEParser.parse(Array(deep.utf8))
        var depth = 0
        while let child = root.children.first {
            root = child
            depth += 1
        }
        #expect(depth <= 30)
        let siblings = "Content-Type: multipart/mixed; boundary=s\r\n\r\n" + String(repeating: "--s\r\n\r\nx\r\n", count: 100_000) + "--s--\r\n"
        let wide = MIMEParser.parse(Array(siblings.utf8), maximumParts: 5_000)
        #expect(wide.children.count == 5_000)
        var nestedMessages = ""
        for _ in 0..<10_000 { nestedMessages += "Content-Type: message/rfc822\r\n\r\n" }
        var message = MIMEParser.parse(Array(nestedMessages.utf8))
        depth = 0
        while let inner = message.enclosed.first {
            message = inner
            depth += 1
        }
        #expect(depth <= 30)
    }

    @Test("content types: case, comments, quoted parameters; garbage is no type")
    func contentTypes() {
        let parsed = MIMEParser.contentType("Text/PLAIN (comment); Charset=\"UTF-8\"; format=flowed")
        #expect(parsed?.0 == "text" && parsed?.1 == "plain")
        #expect(parsed?.2.map(\.name) == ["charset", "format"] && parsed?.2.map(\.value) == ["UTF-8", "flowed"])
        #expect(MIMEParser.contentType("garbage") == nil && MIMEParser.contentType("/x") == nil)
        #expect(self.parse("Content-Type: nonsense\r\n\r\nx").type == "text")
    }

    @Test("M04, M05, M06: 500,000 To: lines, a 20 MB header field, 100,000 RFC 2231 continuations stay bounded")
    func hostileHeaders() {
        // M04: every line is a field; parsing is one pass (a quadratic parser would not finish here).
        let many = Array((String(repeating: "To: a@example.org\r\n", count: 500_000) + "\r\nbody\r\n").utf8)
        let root = MIMEParser.parse(many)
        #expect(root.fields.count <= 500_000 && root.field("to") == "a@example.org")
        #expect(MessageHeader(parsing: Data(many), maximumBytes: Int.max).values("To").count == 500_000)
        // M05: a header section is read to at most 1 MB by default; the rest is never made into fields.
        let huge = Data(("Subject: " + String(repeating: "x", count: 20_000_000) + "\r\nTo: late@example.org\r\n\r\nbody").utf8)
        let header = MessageHeader(parsing: huge)
        #expect(header.values("Subject").first?.utf8.count ?? 0 < 1 << 20 && header.values("To").isEmpty)
        // M06: at most 100 parameters are read, continuations included.
        let continuations = (0..<100_000).map { "; name*\($0)*=x" }.joined()
        let parsed = MIMEParser.contentType("application/octet-stream" + continuations)
        #expect(parsed?.0 == "application" && (parsed?.2.first?.value.count ?? 0) <= 100)
    }

    @Test("M10: a line without colon, a continuation as the first line, 8-bit names and NUL are kept as raw text")
    func oddHeaderLines() {
        let bytes: [UInt8] = Array(" first continuation\r\nno colon\r\nX-\u{e9}t\u{e9}: v\r\nSubject: a".utf8) + [0]
            + Array("b\r\n\r\nbody\r\n".utf8)
        let entity = MIMEParser.parse(bytes)
        #expect(entity.fields.map(\.name) == ["X-\u{e9}t\u{e9}", "Subject"])
        #expect(entity.field("subject") == "a\u{0}b")
        #expect(String(decoding: bytes[entity.body], as: UTF8.self) == "body\r\n")
    }
}
