import IMAPProtocol
import MailFormat
import NIOCore
import Testing

@Suite("IMAPResponseEncoder")
struct IMAPResponseEncoderTests {
    private func wire(_ response: IMAPResponse, utf8: Bool = false) -> String {
        String(buffer: IMAPResponseEncoder(utf8: utf8).encode(response))
    }

    @Test("status responses: tagged and untagged, with and without a code; text never breaks the line")
    func statusResponses() {
        #expect(self.wire(.status(tag: "a1", .ok, nil, "NOOP completed")) == "a1 OK NOOP completed\r\n")
        #expect(self.wire(.status(tag: nil, .bye, .unavailable, "Server shutting down")) == "* BYE [UNAVAILABLE] Server shutting down\r\n")
        #expect(self.wire(.status(tag: "t", .bad, nil, "bad\r\n* OK forged")) == "t BAD bad  * OK forged\r\n")
        #expect(self.wire(.status(tag: "t", .no, .badCharset(["UTF-8", "US-ASCII"]), "x")) == "t NO [BADCHARSET (UTF-8 US-ASCII)] x\r\n")
        // A URL that holds "]" would end the code early (RFC 9051 resp-text-code).
        #expect(self.wire(.status(tag: "t", .no, .badURL("imap://a/b]c"), "x")) == "t NO [BADURL imap://a/b c] x\r\n")
        #expect(self.wire(.continuation("")) == "+ \r\n")
    }

    @Test("codes that carry values (RFC 4315, RFC 7162, RFC 5464, RFC 8474)")
    func codesWithValues() {
        let copy = IMAPResponseCode.copyUID(uidValidity: 7, sources: [5, 3, 4], copies: [10, 11, 12])
        // COPYUID pairs source and copy by position, so neither list is reordered or made into ranges.
        #expect(self.wire(.status(tag: "m", .ok, copy, "Moved")) == "m OK [COPYUID 7 5,3,4 10,11,12] Moved\r\n")
        #expect(self.wire(.status(tag: "a", .ok, .appendUID(uidValidity: 7, uids: [3, 1, 2, 9]), "A")) == "a OK [APPENDUID 7 1:3,9] A\r\n")
        #expect(self.wire(.status(tag: "s", .ok, .modified([2, 3, 7]), "S")) == "s OK [MODIFIED 2:3,7] S\r\n")
        #expect(self.wire(.status(tag: nil, .ok, .permanentFlags(["\\Seen", "$Label1", "\\*"]), "F"))
            == "* OK [PERMANENTFLAGS (\\Seen $Label1 \\*)] F\r\n")
        #expect(self.wire(.status(tag: "g", .ok, .metadataLongEntries(70000), "G")) == "g OK [METADATA LONGENTRIES 70000] G\r\n")
        #expect(self.wire(.status(tag: nil, .ok, .mailboxID("F12"), "M")) == "* OK [MAILBOXID (F12)] M\r\n")
    }

    @Test("mailbox names are modified UTF-7 until UTF-8 is enabled, and quoted as needed")
    func mailboxNames() {
        let list = IMAPResponse.list(attributes: ["\\HasNoChildren"], mailbox: "Entwürfe \"alt\"")
        #expect(self.wire(list) == "* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe \\\"alt\\\"\"\r\n")
        #expect(self.wire(list, utf8: true) == "* LIST (\\HasNoChildren) \"/\" \"Entwürfe \\\"alt\\\"\"\r\n")
        #expect(self.wire(.list(attributes: [], mailbox: "a", childInfoSubscribed: true))
            == "* LIST () \"/\" \"a\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")
        let status = IMAPResponse.mailboxStatus(
            mailbox: "INBOX", [IMAPStatusItem(.messages, .number(3)), IMAPStatusItem(.mailboxID, .objectID("F1"))])
        #expect(self.wire(status) == "* STATUS \"INBOX\" (MESSAGES 3 MAILBOXID (F1))\r\n")
    }

    @Test("search results: SEARCH, ESEARCH in the order asked, SORT, THREAD")
    func searchResults() {
        #expect(self.wire(.search([], modSeq: nil)) == "* SEARCH\r\n")
        #expect(self.wire(.search([2, 5], modSeq: 9)) == "* SEARCH 2 5 (MODSEQ 9)\r\n")
        let partial = IMAPPartialRange(1...2)
        let esearch = IMAPResponse.esearch(
            tag: "t\"1", byUID: true, [.count(3), .min(2), .all([2...3, 9...9]), .partial(partial, []), .modSeq(4)])
        #expect(self.wire(esearch) == "* ESEARCH (TAG \"t\\\"1\") UID COUNT 3 MIN 2 ALL 2:3,9 PARTIAL (1:2 NIL) MODSEQ 4\r\n")
        #expect(self.wire(.sort([3, 1, 2])) == "* SORT 3 1 2\r\n")
        let threads = [MessageThreading.Node(1, [MessageThreading.Node(2), MessageThreading.Node(3)])]
        #expect(self.wire(.thread(threads)) == "* THREAD (1 (2)(3))\r\n")
        #expect(self.wire(.thread([])) == "* THREAD\r\n")
    }

    @Test("untagged data: flags FETCH, VANISHED, QUOTA, METADATA with a value that holds NUL, ID, NAMESPACE")
    func untaggedData() {
        #expect(self.wire(.fetchFlags(number: 4, uid: 9, flags: ["\\Seen"], modSeq: 12)) == "* 4 FETCH (UID 9 FLAGS (\\Seen) MODSEQ (12))\r\n")
        #expect(self.wire(.fetchFlags(number: 4, uid: nil, flags: nil, modSeq: 12)) == "* 4 FETCH (MODSEQ (12))\r\n")
        #expect(self.wire(.vanished(earlier: true, [1...3, 7...7])) == "* VANISHED (EARLIER) 1:3,7\r\n")
        #expect(self.wire(.quota(root: "", [IMAPQuotaResource("STORAGE", usage: 10, limit: 512)])) == "* QUOTA \"\" (STORAGE 10 512)\r\n")
        let metadata = IMAPResponse.metadata(
            mailbox: "", [IMAPMetadataEntry("/private/comment", Array("a\0b".utf8)), IMAPMetadataEntry("/shared/x", nil)])
        #expect(self.wire(metadata) == "* METADATA \"\" (\"/private/comment\" ~{3}\r\na\0b \"/shared/x\" NIL)\r\n")
        #expect(self.wire(.id([IMAPIDField("name", "Estafeta")])) == "* ID (\"name\" \"Estafeta\")\r\n")
        #expect(self.wire(.namespace(prefix: "", delimiter: "/")) == "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
    }
}
