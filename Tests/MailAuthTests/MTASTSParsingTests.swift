import Testing

@testable import MailAuth

/// MTA-STS records and policies (RFC 8461 §3.1, §3.2) and MX matching (§4.1), without a network.
@Suite struct MTASTSParsingTests {
    @Test func records() {
        #expect(MTASTSRecord.select(["v=STSv1; id=20160831085700Z;"]) == MTASTSRecord(id: "20160831085700Z"))
        #expect(MTASTSRecord.select(["v=spf1 -all", "v=STSv1;id=abc"]) == MTASTSRecord(id: "abc"))
        #expect(MTASTSRecord.select(["v=STSv1; id=a;", "v=STSv1; id=b;"]) == nil, "two records: no policy")
        #expect(MTASTSRecord.select(["v=STSv1; ext=1; id=x9"]) == MTASTSRecord(id: "x9"), "extension fields are ignored")
        #expect(MTASTSRecord(parsing: "v=STSv1;") == nil, "id is required")
        #expect(MTASTSRecord(parsing: "v=STSv1; id=not-alnum") == nil)
        #expect(MTASTSRecord(parsing: "v=STSv1; id=" + String(repeating: "a", count: 33)) == nil)
        #expect(MTASTSRecord(parsing: "id=abc; v=STSv1") == nil, "v comes first")
    }

    @Test func policies() throws {
        let crlf = try MTASTSPolicy(parsing: Array("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n".utf8))
        #expect(crlf == MTASTSPolicy(mode: .enforce, mx: ["mail.example.com", "*.example.net"], maxAge: 604_800))
        let lf = try MTASTSPolicy(parsing: Array("version: STSv1\nmode: testing\nmx: MX.Example.COM\nmax_age: 86400\nfuture: x".utf8))
        #expect(lf == MTASTSPolicy(mode: .testing, mx: ["mx.example.com"], maxAge: 86_400))
        #expect(try MTASTSPolicy(parsing: Array("version: STSv1\nmode: none\nmax_age: 1\n".utf8)).mode == .none)
        // The first of a repeated field counts (mx excepted).
        #expect(try MTASTSPolicy(parsing: Array("version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 5".utf8)).mode == .testing)

        let broken: [(String, MTASTSPolicy.ParseError)] = [
            ("mode: enforce\nmx: a.example\nmax_age: 1", .missingField("version")),
            ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1", .invalid("version", "STSv2")),
            ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1", .invalid("mode", "strict")),
            ("version: STSv1\nmode: enforce\nmax_age: 1", .missingField("mx")),
            ("version: STSv1\nmode: enforce\nmx: a.example", .missingField("max_age")),
            ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601", .invalid("max_age", "31557601")),
            ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1", .invalid("max_age", "-1")),
            ("version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1", .invalid("mx", "a..example")),
            ("version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1", .invalid("mx", "mail.*.example")),
            ("<html>not a policy</html>", .invalid("line", "<html>not a policy</html>")),
        ]
        for (text, error) in broken {
            #expect(throws: error, "\(text)") { try MTASTSPolicy(parsing: Array(text.utf8)) }
        }
        #expect(throws: MTASTSPolicy.ParseError.notText) { try MTASTSPolicy(parsing: [0xFF, 0xFE, 0x0A]) }
    }

    @Test func mxMatching() {
        let policy = MTASTSPolicy(mode: .enforce, mx: ["mail.example.com", "*.example.net"], maxAge: 60)
        #expect(policy.permits(mx: "mail.example.com"))
        #expect(policy.permits(mx: "MAIL.example.com."))
        #expect(policy.permits(mx: "mx1.example.net"))
        #expect(!policy.permits(mx: "example.net"), "a wildcard needs one more label")
        #expect(!policy.permits(mx: "a.b.example.net"), "a wildcard stands for exactly one label")
        #expect(!policy.permits(mx: "mail.example.com.evil.example"))
        #expect(!policy.permits(mx: "xmail.example.com"))
    }
}

/// TLS-RPT records (RFC 8460 §3).
@Suite struct TLSRPTRecordTests {
    @Test func records() {
        #expect(TLSRPTRecord.select(["v=TLSRPTv1; rua=mailto:reports@example.com"]) == TLSRPTRecord(destinations: [.mail("reports@example.com")]))
        #expect(
            TLSRPTRecord.select(["v=spf1 -all", "v=TLSRPTv1;rua=mailto:a@example.com,https://reporting.example.com/v1/tlsrpt"])
                == TLSRPTRecord(destinations: [.mail("a@example.com"), .https("https://reporting.example.com/v1/tlsrpt")]))
        #expect(TLSRPTRecord.select(["v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"]) == nil)
        #expect(TLSRPTRecord(parsing: "v=TLSRPTv1;") == nil, "rua is required")
        #expect(TLSRPTRecord(parsing: "v=TLSRPTv1; rua=http://insecure.example.com/") == nil, "only mailto and https")
        #expect(TLSRPTRecord(parsing: "rua=mailto:a@example.com; v=TLSRPTv1") == nil, "v comes first")
        #expect(TLSRPTRecord(parsing: "v=TLSRPTv1; rua=mailto:tls%2Brpt@example.com")?.destinations == [.mail("tls+rpt@example.com")])
    }
}
