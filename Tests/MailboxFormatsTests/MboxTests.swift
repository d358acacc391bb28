import Foundation
import MailboxFormats
import Testing

@Suite("mbox: reading mboxrd and mboxo, writing mboxrd")
struct MboxTests {
    static let file = """
        From alice@example.org Thu Nov 26 10:00:00 2026
        From: alice@example.org
        Subject: one
        Status: RO
        X-Status: AF
        X-Keywords: $Label1 work
        X-UID: 7

        >From the body, quoted once.
        >>From quoted twice.
        From here is not a separator: no empty line before it.

        From MAILER-DAEMON Fri Nov 27 11:30:05 2026
        Subject: two
        X-IMAP: 1 2
         continued

        body

        """

    func read(_ text: String, quoting: MboxReader.Quoting = .mboxrd, pieceSize: Int = 7, limit: Int = 1 << 20) throws
        -> [MboxReader.Message]
    {
        var reader = MboxReader(quoting: quoting, maximumMessageBytes: limit)
        let bytes = Array(text.utf8)
        var messages: [MboxReader.Message] = []
        var offset = 0
        while offset < bytes.count {
            messages += try reader.read(bytes[offset..<min(offset + pieceSize, bytes.count)])
            offset += pieceSize
        }
        return messages + (try reader.finish())
    }

    @Test("messages split at From lines after an empty line, unquoted, with CRLF, flags taken from the state fields")
    func reading() throws {
        let messages = try self.read(Self.file)
        #expect(messages.count == 2)
        let first = String(decoding: messages[0].content, as: UTF8.self)
        #expect(first == "From: alice@example.org\r\nSubject: one\r\n\r\nFrom the body, quoted once.\r\n>From quoted twice.\r\n"
            + "From here is not a separator: no empty line before it.\r\n")
        #expect(messages[0].flags == ["\\Seen", "\\Answered", "\\Flagged", "$Label1", "work"])
        #expect(messages[0].envelopeSender == "alice@example.org" && messages[0].line == 1)
        #expect(messages[0].date == Date(timeIntervalSince1970: 1_795_687_200))
        #expect(String(decoding: messages[1].content, as: UTF8.self) == "Subject: two\r\n\r\nbody\r\n")
        #expect(messages[1].flags.isEmpty && messages[1].envelopeSender == "MAILER-DAEMON" && messages[1].line == 13)
        // The same whatever the pieces it arrives in.
        #expect(try self.read(Self.file, pieceSize: 1) == messages)
        #expect(try self.read(Self.file, pieceSize: 100_000) == messages)
    }

    @Test("mboxo takes one > off >From only")
    func mboxo() throws {
        let messages = try self.read(Self.file, quoting: .mboxo)
        let first = String(decoding: messages[0].content, as: UTF8.self)
        #expect(first.contains("\r\nFrom the body, quoted once.\r\n>>From quoted twice.\r\n"))
    }

    @Test("what is not an mbox, or too large, is an error with its line; an empty file has no messages")
    func hostile() throws {
        #expect(throws: MboxReader.ReadError.notMbox) { _ = try self.read("Subject: no separator\n\nbody\n") }
        #expect(try self.read("").isEmpty && self.read("\n\n").isEmpty)
        // A million lines and no separator: refused at the first line, nothing kept.
        var reader = MboxReader()
        #expect(throws: MboxReader.ReadError.notMbox) { _ = try reader.read(Array(repeating: UInt8(ascii: "x"), count: 10) + [0x0A]) }
        let big = "From a Thu Nov 26 10:00:00 2026\nSubject: big\n\n" + String(repeating: "line of text\n", count: 1000)
        #expect(throws: MboxReader.ReadError.messageTooLarge(line: 1)) { _ = try self.read(big, limit: 4096) }
        let longLine = "From a Thu Nov 26 10:00:00 2026\n" + String(repeating: "x", count: 5000)
        #expect(throws: MboxReader.ReadError.lineTooLong(line: 2)) { _ = try self.read(longLine, limit: 4096) }
        let odd = try self.read("From someone\nSubject: x\n\nbody\n")
        #expect(odd.count == 1 && odd[0].date == nil && odd[0].envelopeSender == "someone")
    }

    @Test("written as mboxrd and read back: the same messages, flags and dates")
    func roundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_795_687_200)
        let bodies = [
            "Subject: a\r\n\r\nFrom the start\r\n>From quoted\r\n\r\n\r\nend\r\n",
            "Subject: b\r\n\r\n",
            "Subject: c\r\n",
        ]
        let flagSets: [Set<String>] = [["\\Seen", "\\Deleted", "work"], [], ["\\Draft", "\\Answered", "\\Flagged"]]
        var file: [UInt8] = []
        for (body, flags) in zip(bodies, flagSets) {
            file += MboxWriter.entry(content: Array(body.utf8), envelopeSender: "a@example.org", date: date, flags: flags)
        }
        #expect(String(decoding: file, as: UTF8.self).hasPrefix("From a@example.org Thu Nov 26 10:00:00 2026\nSubject: a\nStatus: RO\nX-Status: D\nX-Keywords: work\n\n>From the start\n>>From quoted\n"))
        let messages = try self.read(String(decoding: file, as: UTF8.self))
        #expect(messages.map { String(decoding: $0.content, as: UTF8.self) } == ["Subject: a\r\n\r\nFrom the start\r\n>From quoted\r\n\r\n\r\nend\r\n", "Subject: b\r\n\r\n", "Subject: c\r\n\r\n"])
        #expect(messages.map(\.flags) == flagSets)
        #expect(messages.allSatisfy { $0.date == date && $0.envelopeSender == "a@example.org" })
    }
}
