import Foundation
import MailDNS
import Testing

@testable import MailAuth

/// The parts of SPF, DMARC and Authentication-Results that need no DNS: macros (RFC 7208 §7.4's
/// examples), record syntax, organizational domains, and the header field's form.
@Suite struct MailAuthUnitTests {
    static let checker = SPFChecker(dns: try! DNSResolver(server: "127.0.0.1:9"))

    static func evaluation(sender: String, address: String) -> SPFChecker.Evaluation {
        let at = sender.lastIndex(of: "@")!
        return SPFChecker.Evaluation(
            address: IPAddress(address)!, sender: sender, localPart: String(sender[..<at]),
            senderDomain: String(sender[sender.index(after: at)...]), helo: "mx.example.org", deadline: .now + .seconds(20))
    }

    @Test(arguments: [
        ("%{s}", "strong-bad@email.example.com"), ("%{o}", "email.example.com"), ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"), ("%{d3}", "email.example.com"), ("%{d2}", "example.com"), ("%{d1}", "com"),
        ("%{dr}", "com.example.email"), ("%{d2r}", "example.email"), ("%{l}", "strong-bad"), ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"), ("%{lr-}", "bad.strong"), ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ])
    func macros(spec: String, expanded: String) throws {
        let state = Self.evaluation(sender: "strong-bad@email.example.com", address: "192.0.2.3")
        #expect(try Self.checker.expand(spec, domain: "email.example.com", state) == expanded)
    }

    @Test func ipv6Macro() throws {
        let state = Self.evaluation(sender: "strong-bad@email.example.com", address: "2001:db8::cb01")
        #expect(
            try Self.checker.expand("%{ir}.%{v}._spf.%{d2}", domain: "email.example.com", state)
                == "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")
        #expect(throws: SPFChecker.Stop.self) { try Self.checker.expand("%{x}", domain: "a.example", state) }
        #expect(throws: SPFChecker.Stop.self) { try Self.checker.expand("%{d", domain: "a.example", state) }
    }

    @Test func addresses() {
        #expect(IPAddress("::ffff:192.0.2.1")?.isV4 == true)
        #expect(IPAddress("192.0.2.200")!.matches(IPAddress("192.0.2.0")!.octets, prefixLength: 24))
        #expect(!IPAddress("192.0.3.1")!.matches(IPAddress("192.0.2.0")!.octets, prefixLength: 24))
        #expect(IPAddress("2001:db8::1")!.matches(IPAddress("2001:db8::")!.octets, prefixLength: 32))
        #expect(IPAddress("not an address") == nil)
        #expect(IPAddress("192.0.2.3")!.reverseName == "3.2.0.192.in-addr.arpa")
    }

    @Test func spfRecords() throws {
        let record = try SPFRecord(parsing: "v=spf1 ip4:192.0.2.0/24 a/24 mx:mail.example//64 -include:x.example ~all exp=explain.example")
        #expect(record.directives.count == 5)
        #expect(record.directives[2].mechanism == .mx("mail.example", v4: 32, v6: 64))
        #expect(record.directives[3].qualifier == .fail)
        for bad in ["v=spf1 ip4:300.1.1.1", "v=spf1 redirect=a.example redirect=b.example", "v=spf1 a/33", "v=spf1 all:x", "v=spf1 include"] {
            #expect(throws: SPFChecker.Stop.self, "\(bad)") { try SPFRecord(parsing: bad) }
        }
        #expect(PublishedRecords.spf(["v=spf1 +all"]).problem != nil)
        #expect(PublishedRecords.spf(["v=spf1 mx -all", "other"]).problem == nil)
        #expect(PublishedRecords.spf(["v=spf1 mx -all", "v=spf1 -all"]).problem != nil)
    }

    @Test func organizationalDomains() {
        let list = PublicSuffixList.shipped
        #expect(list.organizationalDomain("mail.example.com") == "example.com")
        #expect(list.organizationalDomain("a.b.example.co.uk") == "example.co.uk")
        #expect(list.organizationalDomain("com") == "com")
        #expect(list.organizationalDomain("sub.good.example") == "good.example")  // the default rule "*"
        // Wildcard and exception rules (*.ck, !www.ck).
        #expect(list.organizationalDomain("a.b.c.ck") == "b.c.ck")
        #expect(list.organizationalDomain("x.www.ck") == "www.ck")
    }

    @Test func dmarcRecords() {
        let record = DMARCRecord(parsing: "v=DMARC1; p=reject; sp=quarantine; pct=20; adkim=s")
        #expect(record == DMARCRecord(policy: .reject, subdomainPolicy: .quarantine, percent: 20, strictDKIM: true, strictSPF: false))
        #expect(DMARCRecord(parsing: "p=reject; v=DMARC1") == nil)  // v= must come first
        #expect(DMARCRecord(parsing: "v=DMARC1; p=bogus") == nil)
        #expect(DMARCRecord(parsing: "v=DMARC1; p=bogus; rua=mailto:a@example.org")?.policy == DMARCChecker.Policy.none)
        #expect(DMARCRecord(parsing: "v=DMARC1; p=none; pct=500")?.percent == 100)
    }

    @Test func signatureFields() throws {
        func unusable(_ value: String) -> String? {
            do {
                _ = try DKIMSignature(parsing: value)
                return nil
            } catch {
                return error.reason
            }
        }
        let good = "v=1; a=rsa-sha256; d=example.org; s=s1; h=from:to; bh=\(Data(count: 32).base64EncodedString()); b=AAAA"
        #expect(unusable(good) == nil)
        #expect(unusable(good.replacingOccurrences(of: "v=1", with: "v=2")) == "unsupported version")
        #expect(unusable(good.replacingOccurrences(of: "h=from:to", with: "h=to")) == "From is not signed")
        #expect(unusable(good.replacingOccurrences(of: "rsa-sha256", with: "rsa-sha1")) == "unsupported algorithm rsa-sha1")
        #expect(unusable(good + "; i=@other.example") == "i= is not within d=")
        #expect(unusable(good + "; l=12x") == "malformed l=")
        #expect(unusable(good + "; t=20; x=10") == "x= is before t=")
        #expect(unusable(good.replacingOccurrences(of: "b=AAAA", with: "b=!!")) == "b= is not base64")
        #expect(unusable("v=1; v=1") == "malformed tag list")
    }

    @Test func authenticationResults() {
        var results = AuthenticationResults(authservID: "mx.example.org")
        results.add(spf: SPFChecker.Outcome(result: .pass, domain: "example.net", reason: nil), nullSender: false)
        results.add(dkim: [])
        results.add(
            dmarc: DMARCChecker.Outcome(
                result: .fail, fromDomain: "example.net", publishedPolicy: .reject, disposition: .reject, reason: nil))
        #expect(
            results.field
                == "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=example.net;\r\n\tdkim=none;\r\n\tdmarc=fail (p=reject dis=reject) header.from=example.net\r\n")
        #expect(AuthenticationResults.quoted("a\"b\r\nc") == "\"a\\\"bc\"")
        let header = Data("Authentication-Results: (comment) MX.example.org; dkim=pass\r\nAuthentication-Results: other.example; spf=pass\r\nSubject: x\r\n\r\n".utf8)
        let kept = String(decoding: AuthenticationResults.removingClaims(of: "mx.example.org", from: header), as: UTF8.self)
        #expect(kept == "Authentication-Results: other.example; spf=pass\r\nSubject: x\r\n\r\n")
    }
}
