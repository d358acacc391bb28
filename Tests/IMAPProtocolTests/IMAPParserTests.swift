import Foundation
import IMAPProtocol
import NIOCore
import Testing

@Suite("IMAP command parsing")
struct IMAPParserTests {
    /// Frames and parses `text`, answering every continuation request.
    private func parse(_ text: String, utf8: Bool = false) -> Result<IMAPCommand, IMAPParseFailure>? {
        var framer = IMAPCommandFramer()
        var buffer = ByteBuffer(string: text)
        while let frame = framer.next(from: &buffer) {
            if case .command(let bytes) = frame { return IMAPCommandParser(utf8Enabled: utf8).parse(bytes) }
        }
        return nil
    }

    private func kind(_ text: String, utf8: Bool = false) -> IMAPCommandKind? {
        guard case .success(let command)? = self.parse(text, utf8: utf8) else { return nil }
        return command.kind
    }

    private func bad(_ text: String) -> String? {
        guard case .failure(let failure)? = self.parse(text) else { return nil }
        return failure.tag
    }

    @Test("commands of both grammars, keywords in any case")
    func commands() {
        let inbox = IMAPMailboxName("INBOX")
        let cases: [(String, IMAPCommandKind)] = [
            ("a capability\r\n", .capability),
            ("a NOOP\r\n", .noop),
            ("a LOGOUT\r\n", .logout),
            ("a STARTTLS\r\n", .startTLS),
            ("a AUTHENTICATE PLAIN\r\n", .authenticate(mechanism: "PLAIN", initialResponse: nil)),
            ("a AUTHENTICATE plain AGFsaWNlAHB3\r\n", .authenticate(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3")),
            ("a AUTHENTICATE PLAIN =\r\n", .authenticate(mechanism: "PLAIN", initialResponse: "=")),
            ("a LOGIN alice \"pass \\\"word\\\\\"\r\n", .login(user: "alice", password: "pass \"word\\")),
            ("a LOGIN {5}\r\nalice {4+}\r\np w!\r\n", .login(user: "alice", password: "p w!")),
            ("a ENABLE IMAP4rev2 utf8=accept\r\n", .enable(["IMAP4REV2", "UTF8=ACCEPT"])),
            ("a SELECT inbox\r\n", .select(inbox, readOnly: false)),
            ("a EXAMINE \"Sent\" (CONDSTORE)\r\n", .select(IMAPMailboxName("Sent"), readOnly: true, condstore: true)),
            ("a CREATE Archive/2026 (USE (\\Archive))\r\n", .create(IMAPMailboxName("Archive/2026"), use: [IMAPFlag("\\Archive")])),
            ("a CREATE x (USE ())\r\n", .create(IMAPMailboxName("x"))),
            ("a CREATE x (X-OTHER (1 (2)) USE (\\Sent \\Junk))\r\n", .create(IMAPMailboxName("x"), use: [IMAPFlag("\\Sent"), IMAPFlag("\\Junk")])),
            ("a DELETE Old\r\n", .delete(IMAPMailboxName("Old"))),
            ("a RENAME INBOX \"Old mail\"\r\n", .rename(inbox, to: IMAPMailboxName("Old mail"))),
            ("a SUBSCRIBE Lists\r\n", .subscribe(IMAPMailboxName("Lists"))),
            ("a UNSUBSCRIBE Lists\r\n", .unsubscribe(IMAPMailboxName("Lists"))),
            ("a LIST \"\" *\r\n", .list(reference: "", patterns: ["*"], selection: [], returning: [], status: [])),
            ("a LIST \"\" %/]x\r\n", .list(reference: "", patterns: ["%/]x"], selection: [], returning: [], status: [])),
            ("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX Lists/%) RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n",
             .list(reference: "", patterns: ["INBOX", "Lists/%"], selection: ["SUBSCRIBED", "RECURSIVEMATCH"],
                   returning: ["CHILDREN", "SPECIAL-USE"], status: [.messages, .unseen])),
            ("a LSUB \"\" \"*\"\r\n", .lsub(reference: "", pattern: "*")),
            ("a NAMESPACE\r\n", .namespace),
            ("a STATUS INBOX (MESSAGES uidnext UIDVALIDITY UNSEEN DELETED SIZE RECENT)\r\n",
             .status(inbox, [.messages, .uidNext, .uidValidity, .unseen, .deleted, .size, .recent])),
            ("a IDLE\r\n", .idle),
            ("a CHECK\r\n", .check),
            ("a CLOSE\r\n", .close),
            ("a UNSELECT\r\n", .unselect),
            ("a EXPUNGE\r\n", .expunge),
            ("a UID EXPUNGE 3:5,9\r\n", .uidExpunge(.ranges([.number(3)...(.number(5)), .number(9)...(.number(9))]))),
            ("a COPY 1:* Trash\r\n", .copy(.ranges([.number(1)...(.last)]), IMAPMailboxName("Trash"), uid: false)),
            ("a UID MOVE $ Trash\r\n", .move(.saved, IMAPMailboxName("Trash"), uid: true)),
            ("a STORE 2 +FLAGS.SILENT (\\Seen $Label1)\r\n",
             .store(.ranges([.number(2)...(.number(2))]), IMAPStoreAction(mode: .add, silent: true, flags: [.seen, .keyword("$Label1")]), uid: false)),
            ("a UID STORE 5:3 -FLAGS \\Deleted \\Flagged\r\n",
             .store(.ranges([.number(3)...(.number(5))]), IMAPStoreAction(mode: .remove, silent: false, flags: [.deleted, .flagged]), uid: true)),
            ("a STORE 1 FLAGS ()\r\n", .store(.ranges([.number(1)...(.number(1))]), IMAPStoreAction(mode: .replace, silent: false, flags: []), uid: false)),
            ("a ID NIL\r\n", .id(nil)),
            ("a ID (\"name\" \"mutt\" \"version\" NIL)\r\n", .id(["name": "mutt"])),
            ("a GETQUOTAROOT inbox\r\n", .getQuotaRoot(IMAPMailboxName("INBOX"))),
            ("a unauthenticate\r\n", .unauthenticate),
            ("a UID SORT (REVERSE date subject) UTF-8 SEEN\r\n",
             .sort([IMAPSortCriterion(.date, reverse: true), IMAPSortCriterion(.subject)], charset: "UTF-8", .seen, uid: true)),
            ("a SORT (DISPLAYFROM) us-ascii ALL\r\n", .sort([IMAPSortCriterion(.displayFrom)], charset: "US-ASCII", .all, uid: false)),
            ("a UID SORT RETURN (MIN COUNT) (SIZE) UTF-8 ALL\r\n",
             .sort([IMAPSortCriterion(.size)], charset: "UTF-8", .all, uid: true, returning: [.min, .count])),
            ("a UID THREAD references UTF-8 SEEN ALL\r\n", .thread(algorithm: "REFERENCES", charset: "UTF-8", .and([.seen, .all]), uid: true)),
            ("a SELECT INBOX (CONDSTORE)\r\n", .select(IMAPMailboxName("INBOX"), readOnly: false, condstore: true)),
            ("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1,3 41,43)))\r\n",
             .select(IMAPMailboxName("INBOX"), readOnly: false, qresync: IMAPQResync(
                uidValidity: 67890007, modSeq: 20050715194045000,
                knownUIDs: .ranges([.number(41)...(.number(41)), .number(43)...(.number(211)), .number(214)...(.number(541))])))),
            ("a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
             .fetch(.ranges([.number(300)...(.number(500))]), [.flags], uid: true, changedSince: 12345, vanished: true)),
            ("a FETCH 1 (FLAGS) (CHANGEDSINCE 12345)\r\n",
             .fetch(.ranges([.number(1)...(.number(1))]), [.flags], uid: false, changedSince: 12345)),
            ("a UID STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)\r\n",
             .store(.ranges([.number(1)...(.number(1))]), IMAPStoreAction(mode: .add, silent: false, flags: [.seen], unchangedSince: 0), uid: true)),
            ("a GETQUOTA \"\"\r\n", .getQuota(root: "")),
            ("a SETQUOTA \"\" (storage 512 MESSAGE 10)\r\n",
             .setQuota(root: "", limits: [IMAPQuotaLimit(resource: "STORAGE", limit: 512), IMAPQuotaLimit(resource: "MESSAGE", limit: 10)])),
        ]
        for (text, expected) in cases {
            #expect(self.kind(text) == expected, "\(text)")
        }
    }

    @Test("APPEND with flags, date-time and a (binary) literal")
    func append() throws {
        let message = "Subject: hi\r\n\r\nbody\r\n"
        guard case .append(let mailbox, let messages)? = self.kind(
            "a APPEND Drafts (\\Draft \\Seen) \" 7-Feb-2026 09:30:00 +0100\" {\(message.utf8.count)}\r\n\(message)\r\n")
        else {
            Issue.record("not parsed")
            return
        }
        #expect(
            mailbox == IMAPMailboxName("Drafts")
                && messages == [
                    IMAPAppendedMessage(
                        flags: [.draft, .seen], internalDate: Date(timeIntervalSince1970: 1_770_453_000), message: Array(message.utf8))
                ])
        #expect(self.kind("a APPEND INBOX ~{3}\r\n\u{0}ab\r\n") == .append(IMAPMailboxName("INBOX"), [IMAPAppendedMessage(message: [0, 97, 98])]))
        // MULTIAPPEND (RFC 3502): several messages, each with its own flags and date.
        #expect(
            self.kind("a APPEND INBOX {1}\r\nx (\\Seen) {2}\r\nyz \"01-Jan-2001 10:00:00 +0000\" {1+}\r\nw\r\n")
                == .append(
                    IMAPMailboxName("INBOX"),
                    [
                        IMAPAppendedMessage(message: [120]), IMAPAppendedMessage(flags: [.seen], message: [121, 122]),
                        IMAPAppendedMessage(internalDate: Date(timeIntervalSince1970: 978_343_200), message: [119]),
                    ]))
        #expect(self.bad("a APPEND INBOX {1}\r\nx \r\n") == "a")
        #expect(self.bad("a APPEND INBOX {1}\r\nx (\\Seen)\r\n") == "a")
        #expect(self.bad("a APPEND INBOX {3}\r\n\u{0}ab\r\n") == "a")
        #expect(self.bad("a APPEND INBOX \"31-Foo-2026 09:30:00 +0100\" {1}\r\nx\r\n") == "a")
        #expect(self.bad("a APPEND INBOX \"hello\"\r\n") == "a")
        // RFC 6855 §4: `UTF8 (literal8)` once UTF8=ACCEPT is enabled, and only then.
        let utf8 = "Subject: café\r\n\r\n☕\r\n"
        let wrapped = "a APPEND INBOX (\\Seen) utf8 (~{\(utf8.utf8.count)}\r\n\(utf8))\r\n"
        #expect(
            self.kind(wrapped, utf8: true) == .append(IMAPMailboxName("INBOX"), [IMAPAppendedMessage(flags: [.seen], message: Array(utf8.utf8))]))
        #expect(self.kind(wrapped) == nil)
        #expect(self.kind("a APPEND INBOX UTF8 ({3}\r\nabc)\r\n", utf8: true) == nil)
        #expect(self.kind("a APPEND INBOX UTF8 (~{3}\r\nabc\r\n", utf8: true) == nil)
    }

    @Test("PARTIAL ranges (RFC 9394) and the positions they pick")
    func partialRanges() {
        let results = Array(1...10)
        #expect(Array(IMAPPartialRange(1...3).slice(results)) == [1, 2, 3])
        #expect(Array(IMAPPartialRange(1...3, fromEnd: true).slice(results)) == [8, 9, 10])
        #expect(Array(IMAPPartialRange(9...20).slice(results)) == [9, 10])
        #expect(Array(IMAPPartialRange(9...20, fromEnd: true).slice(results)) == [1, 2])
        #expect(Array(IMAPPartialRange(11...20, fromEnd: true).slice(results)).isEmpty)
        #expect(Array(IMAPPartialRange(10...20, fromEnd: true).slice(results)) == [1])
        #expect(Array(IMAPPartialRange(11...20).slice(results)).isEmpty)
        #expect(
            self.kind("a UID FETCH 1:* (FLAGS) (PARTIAL -1:-30 CHANGEDSINCE 5)\r\n")
                == .fetch(
                    .ranges([.number(1)...IMAPSequenceNumber.last]), [.flags], uid: true, changedSince: 5,
                    partial: IMAPPartialRange(1...30, fromEnd: true)))
        #expect(self.bad("a UID FETCH 1:* (FLAGS) (VANISHED)\r\n") == "a")
        #expect(self.bad("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n") == "a")
    }

    @Test("FETCH items, macros, sections and partials")
    func fetch() {
        let one = IMAPSequenceSet.ranges([.number(1)...(.number(1))])
        let cases: [(String, [IMAPFetchAttribute])] = [
            ("a FETCH 1 ALL\r\n", [.flags, .internalDate, .rfc822Size, .envelope]),
            ("a FETCH 1 fast\r\n", [.flags, .internalDate, .rfc822Size]),
            ("a FETCH 1 FLAGS\r\n", [.flags]),
            ("a FETCH 1 (UID RFC822.SIZE BODYSTRUCTURE BODY ENVELOPE INTERNALDATE RFC822 RFC822.HEADER RFC822.TEXT)\r\n",
             [.uid, .rfc822Size, .bodyStructure, .body, .envelope, .internalDate, .rfc822, .rfc822Header, .rfc822Text]),
            ("a FETCH 1 BODY[]\r\n", [.bodySection(IMAPSection(), peek: false, partial: nil)]),
            ("a FETCH 1 BODY.PEEK[HEADER.FIELDS (From Subject)]<0.1024>\r\n",
             [.bodySection(IMAPSection(text: .headerFields(["From", "Subject"])), peek: true, partial: 0...1023)]),
            ("a FETCH 1 (BODY[1.2.MIME] BODY[2.HEADER.FIELDS.NOT (X-Spam)] BODY[3] BODY[TEXT])\r\n",
             [.bodySection(IMAPSection(part: [1, 2], text: .mime), peek: false, partial: nil),
              .bodySection(IMAPSection(part: [2], text: .headerFieldsNot(["X-Spam"])), peek: false, partial: nil),
              .bodySection(IMAPSection(part: [3]), peek: false, partial: nil),
              .bodySection(IMAPSection(text: .text), peek: false, partial: nil)]),
            ("a FETCH 1 (BINARY.PEEK[1]<10.20> BINARY.SIZE[1] BINARY[])\r\n",
             [.binary(part: [1], peek: true, partial: 10...29), .binarySize(part: [1]), .binary(part: [], peek: false, partial: nil)]),
            // The largest partial does not overflow.
            ("a FETCH 1 BODY[]<4294967295.4294967295>\r\n", [.bodySection(IMAPSection(), peek: false, partial: 4_294_967_295...4_294_967_295)]),
        ]
        for (text, expected) in cases {
            #expect(self.kind(text) == .fetch(one, expected, uid: false), "\(text)")
        }
    }

    @Test("SEARCH keys, nesting, charset and RETURN")
    func search() throws {
        let key = IMAPSearchKey.self
        #expect(self.kind("a SEARCH ALL\r\n") == .search(charset: nil, key.all, returning: nil, uid: false))
        #expect(self.kind("a UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR FROM alice (SUBJECT \"hi there\" UNSEEN) NOT DELETED\r\n")
            == .search(charset: "UTF-8",
                       .and([.or(.from("alice"), .and([.subject("hi there"), .unseen])), .not(.deleted)]),
                       returning: [.min, .max, .count], uid: true))
        #expect(self.kind("a SEARCH 1:5,7 UID 10:* SINCE 1-Feb-2026 BEFORE \"15-Mar-2026\" LARGER 100 HEADER X-Spam yes KEYWORD $Junk\r\n")
            == .search(charset: nil,
                       .and([.sequence(.ranges([.number(1)...(.number(5)), .number(7)...(.number(7))])), .uid(.ranges([.number(10)...(.last)])),
                             .since(DateComponents(year: 2026, month: 2, day: 1)), .before(DateComponents(year: 2026, month: 3, day: 15)),
                             .larger(100), .header("X-Spam", "yes"), .keyword("$Junk")]),
                       returning: nil, uid: false))
        #expect(self.kind("a SEARCH TEXT {5}\r\nhello\r\n") == .search(charset: nil, .text("hello"), returning: nil, uid: false))
        #expect(self.kind("a SEARCH $\r\n") == .search(charset: nil, .sequence(.saved), returning: nil, uid: false))
        // MODSEQ with a flag's entry (RFC 7162 §3.1.5), compared as the message's own modseq.
        #expect(self.kind("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n") == .search(charset: nil, .modSeq(620162338), returning: nil, uid: false))
        #expect(self.kind("a SEARCH MODSEQ 7\r\n") == .search(charset: nil, .modSeq(7), returning: nil, uid: false))
        #expect(self.bad("a SEARCH MODSEQ \"/flags/x\" sometimes 7\r\n") == "a")
        // The session answers NO [BADCHARSET] to charsets it does not know; the grammar takes any.
        #expect(self.kind("a SEARCH CHARSET koi8-r ALL\r\n") == .search(charset: "KOI8-R", .all, returning: nil, uid: false))
        // Deep nesting is refused, not a stack overflow.
        #expect(self.bad("a SEARCH " + String(repeating: "NOT ", count: 10_000) + "ALL\r\n") == "a")
        #expect(self.bad("a SEARCH " + String(repeating: "(", count: 10_000) + "ALL" + String(repeating: ")", count: 10_000) + "\r\n") == "a")
        #expect(self.bad("a SEARCH " + String(repeating: "OR ALL ", count: 5_000) + "ALL\r\n") == "a")
    }

    @Test("bad input: BAD with the tag when there is one, never a trap")
    func badInput() {
        // Tags that are not tags.
        for text in ["* NOOP\r\n", "+ NOOP\r\n", "a( NOOP\r\n", " NOOP\r\n", "\r\n", "a\r\n"] {
            #expect(self.bad(text) == "*", "\(text.debugDescription)")
        }
        // Numbers out of range.
        for text in ["a FETCH 0 FLAGS\r\n", "a FETCH 4294967296 FLAGS\r\n", "a UID FETCH 1:99999999999 FLAGS\r\n",
                     "a FETCH 99999999999999999999999 FLAGS\r\n"] {
            #expect(self.bad(text) == "a", "\(text)")
        }
        // NUL, CR or LF inside a quoted string; a bad escape.
        for text in ["a LOGIN \"a\u{0}b\" x\r\n", "a LOGIN \"a\rb\" x\r\n", "a LOGIN \"a\\nb\" x\r\n", "a LOGIN \"abc x\r\n"] {
            #expect(self.bad(text) == "a", "\(text.debugDescription)")
        }
        // Deeply nested lists before login.
        #expect(self.bad("a ID " + String(repeating: "(", count: 10_000) + String(repeating: ")", count: 10_000) + "\r\n") == "a")
        for text in ["a FOO\r\n", "a NOOP extra\r\n", "a SELECT\r\n", "a LOGIN alice\r\n", "a STATUS INBOX ()\r\n",
                     "a STATUS INBOX (BOGUS)\r\n", "a FETCH 1 BODY[4.FOO]\r\n", "a FETCH 1 ()\r\n", "a STORE 1 LABELS (x)\r\n",
                     "a ENABLE\r\n", "a UID FOO 1\r\n", "a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n", "a SELECT INBOX (BOGUS)\r\n",
                     "a FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)\r\n", "a SELECT INBOX (QRESYNC (0 1))\r\n",
                     "a SORT () UTF-8 ALL\r\n", "a SORT RETURN (BOGUS) (SIZE) UTF-8 ALL\r\n", "a SORT FOO (SIZE) UTF-8 ALL\r\n", "a SORT (REVERSE) UTF-8 ALL\r\n", "a SORT (SUBJECT REVERSE) UTF-8 ALL\r\n",
                     "a SORT (REVERSE REVERSE DATE) UTF-8 ALL\r\n", "a SORT (SUBJECT) UTF-8\r\n",
                     "a STORE 1 (UNCHANGEDSINCE x) FLAGS ()\r\n", "a FETCH 1 FLAGS (CHANGEDSINCE 1 2)\r\n", "a ID (\"a\")\r\n", "a SELECT {3}\r\nab\r\n", "a FETCH 1 BODY[MIME]\r\n"] {
            #expect(self.bad(text) == "a", "\(text)")
        }
    }

    @Test("NOTIFY (RFC 5465): SET with STATUS, the selected mailbox's events and FETCH items, filters, NONE; the rules of §5 are BAD")
    func notify() {
        #expect(self.kind("a NOTIFY NONE\r\n") == .notify(nil))
        // CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4) ride along.
        #expect(self.kind("a CANCELUPDATE \"b1\" \"b2\"\r\n") == .cancelUpdate(["b1", "b2"]))
        #expect(self.kind("a UID SEARCH RETURN (UPDATE CONTEXT COUNT) ALL\r\n") == .search(charset: nil, .all, returning: [.update, .context, .count], uid: true))
        #expect(self.bad("a CANCELUPDATE\r\n") == "a")
        var expected = IMAPNotifyRequest()
        expected.status = true
        expected.selectedEvents = [.messageNew, .messageExpunge, .flagChange]
        expected.newMessageItems = [.uid, .bodySection(IMAPSection(part: [], text: .headerFields(["FROM"])), peek: true, partial: nil)]
        expected.groups = [
            IMAPNotifyGroup(mailboxes: .subtree([IMAPMailboxName("Lists")]), events: [.messageNew]),
            IMAPNotifyGroup(mailboxes: .mailboxes([IMAPMailboxName("INBOX"), IMAPMailboxName("a b")]), events: [.messageNew, .mailboxName]),
            IMAPNotifyGroup(mailboxes: .personal, events: [.other("Unheard"), .subscriptionChange]),
        ]
        let text = "a notify set status (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (FROM)]) messageexpunge FlagChange)) "
            + "(subtree Lists (MessageNew)) (mailboxes (inbox \"a b\") (MessageNew MailboxName)) (inboxes NONE) (personal (Unheard SubscriptionChange))\r\n"
        #expect(self.kind(text) == .notify(expected))
        var delayed = IMAPNotifyRequest()
        delayed.selectedEvents = [.messageNew, .messageExpunge]
        delayed.delayedExpunges = true
        #expect(self.kind("a NOTIFY SET (selected-delayed (MessageNew MessageExpunge))\r\n") == .notify(delayed))
        for text in ["a NOTIFY\r\n", "a NOTIFY SET\r\n", "a NOTIFY SET STATUS\r\n", "a NOTIFY SET (selected (MessageNew))\r\n",
                     "a NOTIFY SET (selected (MessageExpunge FlagChange))\r\n", "a NOTIFY SET (selected (FlagChange))\r\n",
                     "a NOTIFY SET (personal (MessageNew (UID) MessageExpunge))\r\n", "a NOTIFY SET (selected NONE) (selected-delayed NONE)\r\n",
                     "a NOTIFY SET (subtree (MessageNew))\r\n", "a NOTIFY SET (mailboxes () (MessageNew))\r\n", "a NOTIFY SET (personal ())\r\n",
                     "a NOTIFY SET (personal SOME)\r\n", "a NOTIFY SET (elsewhere (MessageNew))\r\n", "a NOTIFY GET\r\n"] {
            #expect(self.bad(text) == "a", "\(text)")
        }
    }

    @Test("mailbox names in modified UTF-7 or, with UTF8=ACCEPT, UTF-8 name the same mailbox")
    func mailboxNames() {
        #expect(ModifiedUTF7.encode("pää") == "p&AOQA5A-")
        #expect(ModifiedUTF7.decode("p&AOQA5A-") == "pää")
        #expect(ModifiedUTF7.encode("R&D ~ 日本語") == "R&-D ~ &ZeVnLIqe-")
        for name in ["Entwürfe", "日本語/子", "a&b", "emoji 😀 here", "~peter/mail/&", "plain"] {
            #expect(ModifiedUTF7.decode(ModifiedUTF7.encode(name)) == name, "\(name)")
        }
        // Lists of hostile names also give `&Jjo-&-` and `&2ADcAA-`; by RFC 3501 §5.1.3 both are the
        // canonical spelling of a name ("☺&", and U+10000 as a surrogate pair), so they are accepted.
        #expect(ModifiedUTF7.decode("&Jjo-&-") == "☺&" && ModifiedUTF7.encode("☺&") == "&Jjo-&-")
        #expect(ModifiedUTF7.decode("&2ADcAA-") == "\u{10000}" && ModifiedUTF7.encode("\u{10000}") == "&2ADcAA-")
        for invalid in ["&Jjo", "&AGE-", "&☺-", "&YQ-", "&2AA-", "&3AA-", "pää", "&AOQ-&AOQ-", "&,,,-", "&AOQ"] {
            #expect(ModifiedUTF7.decode(invalid) == nil, "\(invalid)")
        }
        #expect(self.kind("a CREATE \"p&AOQA5A-\"\r\n") == .create(IMAPMailboxName("pää")))
        #expect(self.kind("a CREATE \"pää\"\r\n", utf8: true) == .create(IMAPMailboxName("pää")))
        // 7-bit but not modified UTF-7: a name no mailbox has (CREATE refuses it), not a syntax error.
        #expect(self.kind("a CREATE \"&Jjo\"\r\n") == .create(IMAPMailboxName("&Jjo", isWellEncoded: false)))
        #expect(self.kind("a SELECT a&b\r\n") == .select(IMAPMailboxName("a&b", isWellEncoded: false), readOnly: false))
        #expect(self.kind("a SELECT ~foo\r\n") == .select(IMAPMailboxName("~foo"), readOnly: false))
        #expect(self.bad("a CREATE \"pää\"\r\n") == "a")
        #expect(self.kind("a SELECT iNbOx\r\n") == .select(IMAPMailboxName("INBOX"), readOnly: false))
    }

    @Test("sequence sets resolve against the largest number, clamped and merged")
    func sequenceSets() {
        let set = IMAPSequenceSet.ranges([.number(5)...(.last), .number(1)...(.number(2)), .number(3)...(.number(3)), .number(90)...(.number(99))])
        #expect(set.resolved(largest: 10) == [1...3, 5...10])
        #expect(set.resolved(largest: 4) == [1...4])
        #expect(IMAPSequenceSet.ranges([.number(7)...(.last)]).resolved(largest: 3) == [3...3])
        #expect(set.resolved(largest: 0) == [])
    }
}
