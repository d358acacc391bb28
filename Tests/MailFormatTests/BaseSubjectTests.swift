import MailFormat
import Testing

@Suite("Base subject (RFC 5256)")
struct BaseSubjectTests {
    @Test(
        "reply and forward markers, blobs, (fwd) and [Fwd: …] are taken off; case and white space do not count",
        arguments: [
            ("Re: hello", "HELLO"), ("RE: Re: re:hello", "HELLO"), ("Fwd: hello", "HELLO"), ("FW: hello", "HELLO"),
            ("Re [list]: hello", "HELLO"), ("[list] Re: hello", "HELLO"), ("[list] hello", "HELLO"), ("[only a blob]", "[ONLY A BLOB]"),
            ("hello (fwd)", "HELLO"), ("hello (FWD) (fwd)  ", "HELLO"), ("[Fwd: Re: hello]", "HELLO"), ("  hello\t  world ", "HELLO WORLD"),
            ("=?utf-8?q?Re=3A_caf=C3=A9?=", "CAFÉ"), ("Reply all", "REPLY ALL"), ("", ""), ("Re:", ""),
        ])
    func base(_ subject: String, _ expected: String) {
        #expect(BaseSubject.of(subject) == expected)
    }
}
