import MailFormat
import SMTPProtocol
import Testing

@Suite("SMTPCommandParser")
struct SMTPCommandParserTests {
    let parser = SMTPCommandParser()

    private func parse(_ line: String, utf8: Bool = false) throws(SMTPSyntaxError) -> SMTPCommand {
        try SMTPCommandParser(utf8PathsAllowed: utf8).parse(Array(line.utf8))
    }

    @Test("simple commands, case-insensitive verbs")
    func simple() throws {
        #expect(try self.parse("ehlo client.example") == .ehlo(domain: "client.example"))
        #expect(try self.parse("HELO [192.0.2.1]") == .helo(domain: "[192.0.2.1]"))
        #expect(try self.parse("EHLO [IPv6:2001:db8::1]") == .ehlo(domain: "[IPv6:2001:db8::1]"))
        #expect(try self.parse("DATA") == .data)
        #expect(try self.parse("rset") == .rset)
        #expect(try self.parse("NOOP anything at all") == .noop)
        #expect(try self.parse("QUIT") == .quit)
        #expect(try self.parse("STARTTLS") == .starttls)
        #expect(try self.parse("HELP") == .help(nil))
        #expect(try self.parse("VRFY root") == .vrfy("root"))
        #expect(try self.parse("BDAT 1000") == .bdat(size: 1000, last: false))
        #expect(try self.parse("BDAT 0 last") == .bdat(size: 0, last: true))
        #expect(try self.parse("AUTH plain AGFsaWNlAHB3") == .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3"))
        #expect(try self.parse("AUTH LOGIN") == .auth(mechanism: "LOGIN", initialResponse: nil))
    }

    @Test("MAIL FROM with every supported parameter; the null path")
    func mail() throws {
        let command = try self.parse("MAIL FROM:<Alice@Example.org> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 AUTH=<>")
        guard case .mail(let path, let parameters) = command else { Issue.record("not MAIL: \(command)"); return }
        #expect(path?.description == "Alice@example.org")
        #expect(parameters.size == 1000 && parameters.body == .eightBitMIME && parameters.returnContent == .headers)
        #expect(parameters.envelopeID == "QQ+1" && parameters.authenticatedSender == "<>")
        #expect(try self.parse("MAIL FROM:<>") == .mail(reversePath: nil, parameters: MailParameters()))
        // A space after the colon is not RFC 5321, but common; accepted.
        if case .mail(let spaced, _) = try self.parse("MAIL FROM: <a@b.example>") {
            #expect(spaced?.description == "a@b.example")
        } else {
            Issue.record("MAIL FROM: <…> should parse")
        }
    }

    @Test("RCPT TO with NOTIFY and ORCPT; Postmaster; source routes are dropped")
    func rcpt() throws {
        let command = try self.parse("RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.org")
        guard case .rcpt(.mailbox(let address), let parameters) = command else { Issue.record("\(command)"); return }
        #expect(address.description == "bob@example.org")
        #expect(parameters.notify == [.success, .failure])
        #expect(parameters.originalRecipient == "rfc822;bob@example.org")
        #expect(try self.parse("RCPT TO:<postmaster>") == .rcpt(forwardPath: .postmaster, parameters: .init()))
        if case .rcpt(.mailbox(let routed), _) = try self.parse("RCPT TO:<@relay.example,@other.example:bob@example.org>") {
            #expect(routed.description == "bob@example.org")
        } else {
            Issue.record("source route should parse")
        }
        if case .rcpt(_, let never) = try self.parse("RCPT TO:<a@b.example> NOTIFY=NEVER") {
            #expect(never.notify == [])
        }
    }

    // Relay tricks never turn into an off-site address.
    @Test("relay-hack paths stay local or are refused", arguments: [
        "<x%other.example@ourdomain.example>", "<\"x@other.example\"@ourdomain.example>",
        "<other.example!x@ourdomain.example>",
    ])
    func relayHacks(_ path: String) throws {
        let command = try self.parse("RCPT TO:\(path)")
        guard case .rcpt(.mailbox(let address), _) = command else { Issue.record("\(command)"); return }
        #expect(address.domain == "ourdomain.example")
    }

    // Shell and template syntax is RFC 5322 atext; it stays opaque address data.
    @Test("shell-looking local parts are plain data")
    func shellLooking() throws {
        guard case .rcpt(.mailbox(let address), _) = try self.parse("RCPT TO:<${run{/bin/sh}}@x.example>") else {
            Issue.record("should parse as an ordinary (unknown) address")
            return
        }
        #expect(address.localPart == "${run{/bin/sh}}")
    }

    @Test("x@other@ourdomain is refused")
    func doubleAt() {
        #expect(throws: SMTPSyntaxError.malformedPath) { try self.parse("RCPT TO:<x@other.example@ourdomain.example>") }
    }

    @Test(
        "syntax errors map to the right error",
        arguments: [
            ("FOO bar", SMTPSyntaxError.unknownCommand),
            ("MAIL FROM:a@b.example", .malformedPath),
            ("MAIL FROM:<a@b.example", .malformedPath),
            ("MAIL TO:<a@b.example>", .malformedArguments("expected FROM:")),
            ("MAIL FROM:<a@b.example> SIZE=99999999999999999999", .malformedParameter("SIZE")),
            ("MAIL FROM:<a@b.example> SIZE=-1", .malformedParameter("SIZE")),
            ("MAIL FROM:<a@b.example> SIZE=", .malformedParameter("SIZE")),
            ("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", .duplicateParameter("SIZE")),
            ("MAIL FROM:<a@b.example> FOO=bar", .unsupportedParameter("FOO")),
            ("MAIL FROM:<a@b.example> BODY=9BIT", .malformedParameter("BODY")),
            ("MAIL FROM:<;sleep 66;>", .malformedPath),
            ("RCPT TO:<bob@[192.0.2.1]>", .unsupportedAddressLiteral),
            ("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", .malformedParameter("NOTIFY")),
            ("RCPT TO:<a@b.example> ORCPT=rfc822;a+zz", .malformedParameter("ORCPT")),
            ("BDAT 18446744073709551616", .malformedArguments("BDAT needs a chunk size (and LAST)")),
            ("BDAT -1", .malformedArguments("BDAT needs a chunk size (and LAST)")),
            ("BDAT 10 FIRST", .malformedArguments("BDAT takes only LAST")),
            ("DATA now", .malformedArguments("no argument expected")),
            ("EHLO", .malformedDomain),
            ("EHLO [999.1.1.1]", .malformedDomain),
            ("EHLO [IPv6:zzz]", .malformedDomain),
            ("EHLO bad_name!.example", .malformedDomain),
        ])
    func errors(_ line: String, _ expected: SMTPSyntaxError) {
        #expect(throws: expected) { try self.parse(line) }
    }

    // Over-long local parts, domains and paths.
    @Test("over-long addresses")
    func tooLong() {
        let local = String(repeating: "a", count: 65)
        #expect(throws: SMTPSyntaxError.addressTooLong) { try self.parse("RCPT TO:<\(local)@example.org>") }
        let path = "<" + String(repeating: "b", count: 60) + "@" + String(repeating: "c.", count: 120) + "org>"
        #expect(throws: SMTPSyntaxError.addressTooLong) { try self.parse("RCPT TO:\(path)") }
        let longName = String(repeating: "d", count: 300)
        #expect(throws: SMTPSyntaxError.malformedDomain) { try self.parse("EHLO \(longName)") }
    }

    // NUL, control characters and invalid UTF-8.
    @Test("NUL, control bytes and invalid UTF-8 are refused")
    func invalidBytes() {
        for bytes: [UInt8] in [
            Array("NOOP\u{0}".utf8), Array("MAIL FROM:<a\u{1}@b.example>".utf8),
            Array("EHLO ".utf8) + [0xC3, 0x28], Array("RCPT TO:<".utf8) + [0xFF] + Array("@b.example>".utf8),
        ] {
            #expect(throws: SMTPSyntaxError.invalidCharacters) { try self.parser.parse(bytes) }
        }
    }

    @Test("UTF-8 addresses need SMTPUTF8 (RFC 6531)")
    func smtputf8() throws {
        #expect(throws: SMTPSyntaxError.invalidCharacters) { try self.parse("MAIL FROM:<josé@example.org>") }
        guard case .mail(let path, let parameters) = try self.parse("MAIL FROM:<josé@example.org> SMTPUTF8") else {
            Issue.record("MAIL with SMTPUTF8 should parse")
            return
        }
        #expect(path?.localPart == "josé" && parameters.smtpUTF8)
        #expect(throws: SMTPSyntaxError.invalidCharacters) { try self.parse("RCPT TO:<用户@例子.广告>") }
        #expect(try self.parse("RCPT TO:<用户@例子.广告>", utf8: true) != .noop)
    }

    @Test("xtext round trip")
    func xtext() {
        for text in ["plain", "a+b=c", "sp ace", "ünï"] {
            #expect(XText.decode(XText.encode(text)) == text)
        }
        #expect(XText.decode("+2") == nil)
        #expect(XText.decode("+zz") == nil)
        // Control characters are not text: a NUL (which PostgreSQL's text refuses), CR LF, DEL.
        for escaped in ["a+00b", "+0D+0Ax", "x+7F"] { #expect(XText.decode(escaped) == nil, "\(escaped)") }
        #expect(XText.decode("tab+09ok") == "tab\tok")
        #expect(throws: SMTPSyntaxError.malformedParameter("ENVID")) { try self.parse("MAIL FROM:<a@example.org> ENVID=id+00x") }
        #expect(throws: SMTPSyntaxError.malformedParameter("ORCPT")) {
            try self.parse("RCPT TO:<b@example.org> ORCPT=rfc822;b+00@example.org")
        }
    }
}
