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
