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
}
