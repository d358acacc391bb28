import Foundation
import MailboxFormats
import Testing

@Suite("Dovecot's Maildir files: dovecot-uidlist, file names, dovecot-keywords, subscriptions")
struct DovecotMaildirTests {
    @Test("a version 3 uidlist: header fields, extension fields, base names; written back the same")
    func uidListVersion3() throws {
        let text = """
            3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1 Xunknown
            1 :1035478339.27041_118.foo.org
            5 W2048 :1035478339.27041_120.foo.org,S=2000
            24 W1234 G0123 :1035478340.1_1.foo.org:2,S

            """
        let list = try DovecotUIDList(parsing: Array(text.utf8))
        #expect(list.version == 3 && list.uidValidity == 1_275_660_208 && list.nextUID == 25022)
        #expect(list.mailboxGUID == "3085f01b7f11094c501100008c4a11c1")
        #expect(list.records.map(\.uid) == [1, 5, 24])
        #expect(list.records.map(\.fileBase) == ["1035478339.27041_118.foo.org", "1035478339.27041_120.foo.org,S=2000", "1035478340.1_1.foo.org"])
        #expect(list.records[1].extensions == ["W": "2048"] && list.records[2].extensions == ["W": "1234", "G": "0123"])
        let again = try DovecotUIDList(parsing: Array(list.text.utf8))
        #expect(again == list)
        #expect(list.text.hasPrefix("3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n1 :1035478339"))
        // Read for an import: the same records without their extension fields.
        let lean = try DovecotUIDList(parsing: Array(text.utf8), keepingExtensions: false)
        #expect(lean.records.map(\.fileBase) == list.records.map(\.fileBase) && lean.records.allSatisfy { $0.extensions.isEmpty })
        #expect(throws: DovecotUIDList.ParseError.self) { try DovecotUIDList(parsing: Array("3 V1 N9\n1 %W :a\n".utf8), keepingExtensions: false) }
    }

    @Test("a version 1 uidlist; the next UID is never below the last UID + 1")
    func uidListVersion1() throws {
        let list = try DovecotUIDList(parsing: Array("1 1000 7\n2 a.host\n6 b.host:2,RS\n".utf8))
        #expect(list.version == 1 && list.uidValidity == 1000 && list.nextUID == 7)
        #expect(list.records.map(\.fileBase) == ["a.host", "b.host"])
        let raised = try DovecotUIDList(parsing: Array("3 V9 N2\n4 :c.host\n".utf8))
        #expect(raised.nextUID == 5)
    }

    @Test("broken uidlists are errors that name the line", arguments: [
        ("", 1), ("x V1 N2\n", 1), ("3 V0 N5\n", 1), ("3 N5\n", 1), ("3 Vx N5\n", 1), ("2 V1 N5\n", 1),
        ("3 V1 N5 Gnothex\n", 1), ("3 V1 N9\n2 :a\n2 :b\n", 3), ("3 V1 N9\n3 :a\n2 :b\n", 3), ("3 V1 N9\n0 :a\n", 2),
        ("3 V1 N9\n1 a\n", 2), ("3 V1 N9\n1 :\n", 2), ("3 V1 N9\n1 :dir/a\n", 2), ("3 V1 N9\n1 :a\n2 :a:2,S\n", 3),
        ("3 V1 N9\n4294967295 :a\n", 2), ("3 V1 N9\n99999999999 :a\n", 2), ("3 V1 N9\nx :a\n", 2), ("1 5 3\n3 a\n", 2),
        ("3 V1 N9\n1 %W :a\n", 2), ("3 V1 N9\n1 ::abc\n", 2),
    ])
    func brokenUIDLists(text: String, line: Int) {
        #expect(throws: DovecotUIDList.ParseError.self) { _ = try DovecotUIDList(parsing: Array(text.utf8)) }
        do {
            _ = try DovecotUIDList(parsing: Array(text.utf8))
        } catch {
            #expect(error.line == line, "\(text.debugDescription): \(error)")
        }
    }

    @Test("file names: flags, keyword letters, sizes; written with the letters sorted")
    func fileNames() {
        let name = MaildirFileName("1700000000.M1P2.host,S=1234,W=1260:2,cFSbRaP")
        #expect(name.base == "1700000000.M1P2.host,S=1234,W=1260")
        #expect(name.flags == ["\\Flagged", "\\Seen", "\\Answered"])
        #expect(name.keywordLetters == ["c", "b", "a"])
        #expect(name.size == 1234 && name.virtualSize == 1260)
        let plain = MaildirFileName("1700000000.M1P2.host")
        #expect(plain.flags.isEmpty && plain.keywordLetters.isEmpty && plain.size == nil)
        #expect(MaildirFileName("x:1,experimental").flags.isEmpty)
        #expect(MaildirFileName("x:2,DT,unknown").flags == ["\\Draft", "\\Deleted"])
        #expect(MaildirFileName("x,S=abc:2,").size == nil)
        #expect(MaildirFileName.name(base: "b", flags: ["\\Seen", "\\Draft", "\\Deleted"], keywordLetters: ["b", "a"]) == "b:2,DSTab")
    }

    @Test("dovecot-keywords: letters to keywords and back; unnamed letters keep a name; 26 at most")
    func keywords() {
        var keywords = DovecotKeywords(parsing: Array("0 $Junk\n2 work\nbroken line\n26 toomany\n-1 x\n1 \n".utf8))
        #expect(keywords.names == [0: "$Junk", 2: "work"])
        #expect(keywords.keyword(for: "a") == "$Junk" && keywords.keyword(for: "c") == "work")
        #expect(keywords.keyword(for: "b") == "unknown-1" && keywords.keyword(for: "A") == nil)
        #expect(keywords.letter(for: "work") == "c" && keywords.letter(for: "new") == "b")
        #expect(keywords.text == "0 $Junk\n1 new\n2 work\n")
        for index in 0..<30 { _ = keywords.letter(for: "k\(index)") }
        #expect(keywords.names.count == 26 && keywords.letter(for: "one more") == nil)
    }

    @Test("subscriptions: version 2 with tab-separated levels and escapes, version 1 with the separator")
    func subscriptions() {
        let two = DovecotSubscriptions.parse(Array("V\t2\n\nINBOX\nArchive\t2025\nodd\u{1}tname\n".utf8))
        #expect(two == [["INBOX"], ["Archive", "2025"], ["odd\tname"]])
        #expect(DovecotSubscriptions.text(two) == "V\t2\n\nINBOX\nArchive\t2025\nodd\u{1}tname\n")
        #expect(DovecotSubscriptions.parse(Array("INBOX\nArchive.2025\n".utf8)) == [["INBOX"], ["Archive", "2025"]])
    }

    @Test("listescape: dots, a leading tilde and the escape character escaped as Dovecot writes them; read back the same")
    func listEscape() {
        // As Dovecot 2.3 with the plugin names the directories of `v1.2`, `~home`, `a\5cb`, `R&AOk-p.x`.
        #expect(DovecotListEscape.encode("v1.2", dotSeparatesLevels: true) == #"v1\2e2"#)
        #expect(DovecotListEscape.encode("v1.2", dotSeparatesLevels: false) == "v1.2")
        #expect(DovecotListEscape.encode("~home", dotSeparatesLevels: true) == #"\7ehome"#)
        #expect(DovecotListEscape.encode("a~b", dotSeparatesLevels: true) == "a~b")
        #expect(DovecotListEscape.encode(#"x\41"#, dotSeparatesLevels: true) == #"x\5c41"#)
        // Always escaped, as the plugin does: it looks a bare one up under another name.
        #expect(DovecotListEscape.encode(#"a\b"#, dotSeparatesLevels: true) == #"a\5cb"#)
        // One no escape follows is read as it is: Dovecot without the plugin writes it so.
        #expect(DovecotListEscape.decode(#"a\b"#) == #"a\b"#)
        #expect(!DovecotListEscape.needsPlugin("Archive", dotSeparatesLevels: true))
        for name in ["v1.2", "~home", #"x\41"#, #"a\b"#, "R&AOk-p.x", "...", #"\"#, #"\2"#, "~"] {
            #expect(DovecotListEscape.decode(DovecotListEscape.encode(name, dotSeparatesLevels: true)) == name, "\(name)")
        }
        #expect(DovecotListEscape.decode(#"R&AOk-p\2ex"#) == "R&AOk-p.x")
        #expect(DovecotListEscape.decode(#"a\5Cb"#) == #"a\b"#)
        #expect(DovecotListEscape.decode(#"a%2eb"#, escape: UInt8(ascii: "%")) == "a.b")
        #expect(DovecotListEscape.decode(#"end\2"#) == #"end\2"#)
    }
}

@Suite("Dovecot's passwd-file")
struct DovecotPasswdFileTests {
    @Test("users, hashes and quota rules; comments, blank lines and short lines")
    func passwdFile() {
        let file = DovecotPasswdFile(parsing: """
            # users
            bob:{SHA512-CRYPT}$6$salt$hash:1000:1000::/home/bob::userdb_quota_rule=*:storage=100M other=x
            carol@example.org:{BLF-CRYPT}$2y$05$abc::::::userdb_quota_rule=*:storage=2048
            dave:$5$salt$hash
            eve:x::::::quota_rule=*:storage=10%

            frank:y::::::userdb_quota_rule=*:storage=99999999999999T
            """)
        #expect(file.users.map(\.name) == ["bob", "carol@example.org", "dave", "eve", "frank"])
        #expect(file.users[0].password == "{SHA512-CRYPT}$6$salt$hash" && file.users[0].line == 2)
        #expect(file.users[0].extraFields == ["userdb_quota_rule": "*:storage=100M", "other": "x"])
        #expect(file.users.map(\.quotaBytes) == [104_857_600, 2_097_152, nil, nil, nil])
        #expect(file.users[2].password == "$5$salt$hash")
    }
}
