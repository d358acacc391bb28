import SMTPProtocol
import Testing

@Suite("SMTPReply")
struct SMTPReplyTests {
    @Test("single and multi-line replies carry the enhanced code on every line")
    func encoding() {
        #expect(SMTPReply(250, "2.0.0", "Ok").description == "250 2.0.0 Ok\r\n")
        #expect(SMTPReply(550, "5.1.1", ["No such user", "here"]).description == "550-5.1.1 No such user\r\n550 5.1.1 here\r\n")
        #expect(SMTPReply(220, nil, "mx.example ESMTP").description == "220 mx.example ESMTP\r\n")
        #expect(
            SMTPReply.ehlo(greeting: "mx.example", extensions: ["PIPELINING", "SIZE 1000"]).description
                == "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
    }

    @Test("CR and LF in reply text cannot break the framing")
    func sanitised() {
        #expect(SMTPReply(501, "5.5.4", "bad \r\n250 fake").description == "501 5.5.4 bad  250 fake\r\n")
        #expect(SMTPReply(501, "5.5.4", "bad\r250\nfake").description == "501 5.5.4 bad 250 fake\r\n")
    }

    @Test("syntax errors map to RFC 5321 / RFC 3463 codes")
    func errors() {
        #expect(SMTPReply(.unknownCommand).code == 500)
        #expect(SMTPReply(.lineTooLong).description == "500 5.5.2 Line too long\r\n")
        #expect(SMTPReply(.authLineTooLong).enhancedCode == "5.5.6")
        #expect(SMTPReply(.unsupportedParameter("FOO")).code == 555)
        #expect(SMTPReply(.malformedPath).enhancedCode == "5.1.7")
        #expect(SMTPReply(.addressTooLong).enhancedCode == "5.1.3")
    }
}

@Suite("SMTP client side: reply assembly and DATA encoding")
struct SMTPClientCodecTests {
    @Test("multi-line replies are assembled; EHLO extensions are read; malformed lines are refused")
    func replies() throws {
        var parser = SMTPResponseParser()
        #expect(try parser.feed(Array("250-mx.example.org Hello".utf8)) == nil)
        #expect(try parser.feed(Array("250-PIPELINING".utf8)) == nil)
        #expect(try parser.feed(Array("250-SIZE 1000".utf8)) == nil)
        let ehlo = try #require(try parser.feed(Array("250 STARTTLS".utf8)))
        #expect(ehlo.code == 250 && ehlo.lines.count == 4)
        #expect(ehlo.extensions == ["PIPELINING": "", "SIZE": "1000", "STARTTLS": ""])
        #expect(try parser.feed(Array("354".utf8)) == SMTPResponse(code: 354, lines: [""]))
        #expect(throws: SMTPResponseParser.Failure.self) { try parser.feed(Array("25 short".utf8)) }
        #expect(throws: SMTPResponseParser.Failure.self) { try parser.feed(Array("250x".utf8)) }
        var mixed = SMTPResponseParser()
        _ = try mixed.feed(Array("250-a".utf8))
        #expect(throws: SMTPResponseParser.Failure.self) { try mixed.feed(Array("550 b".utf8)) }
        var bounded = SMTPResponseParser(maximumLines: 3)
        for _ in 0..<3 { _ = try? bounded.feed(Array("250-x".utf8)) }
        #expect(throws: SMTPResponseParser.Failure.tooManyLines) { try bounded.feed(Array("250-x".utf8)) }
    }

    @Test("DATA content: CRLF everywhere, dot-stuffing, a final CRLF.CRLF")
    func dataEncoding() {
        func encoded(_ text: String) -> String { String(decoding: SMTPDataEncoder.encode(Array(text.utf8)), as: UTF8.self) }
        #expect(encoded("a\r\nb\r\n") == "a\r\nb\r\n.\r\n")
        #expect(encoded(".x\r\n..y\r\n") == "..x\r\n...y\r\n.\r\n")
        #expect(encoded("bare\nlf\rcr\r\n.\n") == "bare\r\nlf\r\ncr\r\n..\r\n.\r\n")
        #expect(encoded("no final line end") == "no final line end\r\n.\r\n")
        #expect(encoded("") == ".\r\n")
        // Clean CRLF content: the fast path copies it, but still stuffs a later line's dot.
        #expect(encoded("a\r\nb\r\n") == "a\r\nb\r\n.\r\n")
        #expect(encoded("a\r\n.b\r\n") == "a\r\n..b\r\n.\r\n")
        #expect(encoded("a\r\nb") == "a\r\nb\r\n.\r\n")
    }

    @Test("BDAT chunk: CRLF everywhere, dots left alone, no terminator (RFC 3030)")
    func chunkEncoding() {
        func chunk(_ text: String) -> String { String(decoding: SMTPDataEncoder.chunk(Array(text.utf8)), as: UTF8.self) }
        #expect(chunk(".x\r\n..y\r\n") == ".x\r\n..y\r\n")
        #expect(chunk("bare\nlf\rcr\r\n.\n") == "bare\r\nlf\r\ncr\r\n.\r\n")
        #expect(chunk("no final line end") == "no final line end\r\n")
        #expect(chunk("") == "")
    }
}
