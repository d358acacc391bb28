import Foundation
import MailFormat
import Testing

@Suite("RFC 5322 header fields and address lists")
struct MessageHeaderTests {
    @Test("fields are unfolded, names kept as written, and the body is never read")
    func fields() {
        let message = Data("From: Alice\r\n <alice@example.org>\r\nSUBJECT:  hi\r\nX-Empty:\r\n\r\nFrom: body@example.org\r\n".utf8)
        let header = MessageHeader(parsing: message)
        #expect(header.fields.map(\.name) == ["From", "SUBJECT", "X-Empty"])
        #expect(header.values("from") == ["Alice <alice@example.org>"])
        #expect(header.values("Subject") == ["hi"])
        #expect(header.values("x-empty") == [""])
    }

    @Test("the header section ends before the empty line; the hop limit counts Received: fields")
    func sectionAndHops() {
        #expect(MessageHeader.section(of: Data("A: 1\r\nB: 2\r\n\r\nbody\r\n".utf8)) == Data("A: 1\r\nB: 2\r\n".utf8))
        #expect(MessageHeader.section(of: Data("A: 1\n\nbody".utf8)) == Data("A: 1\n".utf8))
        let hops = { (count: Int) in
            MessageHeader(parsing: Data((String(repeating: "Received: x\r\n", count: count) + "\r\nReceived: body\r\n").utf8))
        }
        #expect(!hops(MessageHeader.hopLimit - 1).exceedsHopLimit)
        #expect(hops(MessageHeader.hopLimit).exceedsHopLimit)
    }

    @Test("bare LF line ends and a missing body separator are read too")
    func looseEndings() {
        #expect(MessageHeader(parsing: Data("From: a@b.example\nTo: c@d.example".utf8)).values("to") == ["c@d.example"])
    }

    @Test("names trimmed, lines without a colon or field before a continuation skipped, a CR-only line ends the header, bad UTF-8 repaired, the byte limit kept")
    func oddLines() {
        let header = MessageHeader(parsing: Data(" lost\r\nX-A \t:\tone\r\nno colon here\r\n\tfolded\r\nB:two\r\n\r\nC: body\r\n".utf8))
        #expect(header.fields.map { [$0.name, $0.value] } == [["X-A", "one\tfolded"], ["B", "two"]])
        #expect(MessageHeader(parsing: Data("A: 1\n\r\nB: 2\r\n".utf8)).fields.map(\.name) == ["A"])
        #expect(MessageHeader(parsing: Data([0x53, 0x3A, 0x20, 0xC3, 0x0D, 0x0A])).values("s") == ["\u{FFFD}"])
        #expect(MessageHeader(parsing: Data("A: 12345\r\nB: 2\r\n".utf8), maximumBytes: 6).fields.map { [$0.name, $0.value] } == [["A", "123"]])
        #expect(MessageHeader(parsing: Data()).fields.isEmpty)
        #expect(MessageHeader(parsing: Data("Sub: x\r\n".utf8)).values("SUBJECT").isEmpty)
    }

    @Test("parsing only named fields keeps exactly what a full parse gives for them, folded lines included; names compare ASCII case-insensitively")
    func onlyNamedFields() {
        let message = Data("Received: a\r\n\tb\r\nsubject: Hello\r\n  world\r\nX-Other: 1\r\n\tfolded other\r\nSUBJECT: again\r\nDate: now\r\n\r\nSubject: body\r\n".utf8)
        let full = MessageHeader(parsing: message)
        let only = MessageHeader(parsing: message, only: ["Subject", "DATE"])
        #expect(only.fields.map(\.name) == ["subject", "SUBJECT", "Date"])
        for name in ["subject", "date", "x-other", "received"] {
            #expect(only.values(name) == (["subject", "date"].contains(name) ? full.values(name) : []), "\(name)")
        }
        #expect(only.values("Subject") == ["Hello  world", "again"])
        #expect(MessageHeader(parsing: message, only: []).fields.isEmpty)
        #expect(MessageHeader(parsing: message, only: ["Sub"]).fields.isEmpty)
        #expect(MessageHeader.sameName("Content-Type", "content-TYPE") && !MessageHeader.sameName("A[", "a{") && !MessageHeader.sameName("ab", "abc"))
    }

    @Test(
        "address lists: display names, quotes, comments, groups, routes",
        arguments: [
            ("alice@example.org", ["alice@example.org"]),
            ("Alice <alice@example.org>", ["alice@example.org"]),
            ("\"Bob, the <builder>\" <bob@example.org>, carol@example.org", ["bob@example.org", "carol@example.org"]),
            ("alice@example.org (Alice <mallory@evil.example>)", ["alice@example.org"]),
            ("friends: a@example.org, B <b@example.org>;, c@example.org", ["a@example.org", "b@example.org", "c@example.org"]),
            ("undisclosed-recipients:;", []),
            ("<@relay.example:dave@example.org>", ["dave@example.org"]),
            ("\"odd\\\"local\"@example.org", ["\"odd\\\"local\"@example.org"]),
            ("Eve <eve@example.org> trailing, f@example.org", ["eve@example.org", "f@example.org"]),
        ])
    func addresses(value: String, expected: [String]) {
        #expect(AddressListParser.addresses(in: value) == expected)
    }
}
