import MailFormat
@testable import POP3Protocol
import Testing

@Suite("POP3 codec")
struct POP3CodecTests {
    func parse(_ text: String) throws(POP3SyntaxError) -> POP3Command {
        try POP3CommandParser().parse(Array(text.utf8))
    }

    @Test("every RFC 1939 command, case-insensitive keywords")
    func commands() throws {
        #expect(try self.parse("user alice@example.org") == .user("alice@example.org"))
        #expect(try self.parse("PASS correct horse battery") == .pass("correct horse battery"))
        #expect(try self.parse("APOP mrose c4c9334bac560ecc979e58001b3e22fb") == .apop(name: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb"))
        #expect(try self.parse("STAT") == .stat)
        #expect(try self.parse("LIST") == .list(nil))
        #expect(try self.parse("list 2") == .list(2))
        #expect(try self.parse("RETR 1") == .retr(1))
        #expect(try self.parse("DELE 10") == .dele(10))
        #expect(try self.parse("NOOP") == .noop)
        #expect(try self.parse("RSET") == .rset)
        #expect(try self.parse("TOP 1 0") == .top(1, lines: 0))
        #expect(try self.parse("UIDL") == .uidl(nil))
        #expect(try self.parse("UIDL 3") == .uidl(3))
        #expect(try self.parse("QUIT") == .quit)
        #expect(try self.parse("CAPA") == .capa)
        #expect(try self.parse("STLS") == .stls)
        #expect(try self.parse("AUTH plain AGFsaWNlAHNlY3JldA==") == .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHNlY3JldA=="))
        #expect(try self.parse("AUTH PLAIN") == .auth(mechanism: "PLAIN", initialResponse: nil))
    }

    @Test("the byte-level reading of download commands gives what the general parser gives, and only for those")
    func transactionCommands() throws {
        let quick = ["RETR 1", "retr 42", "Dele 7", "LIST", "list 3", "UIDL", "uidl 12", "STAT", "noop", "RSET", "QUIT",
                     "RETR 2147483647", "RETR 0001"]
        for line in quick {
            let command = Array(line.utf8).withUnsafeBytes(POP3CommandParser.transactionCommand)
            let general = try POP3CommandParser().parseInGeneral(Array(line.utf8))
            #expect(command != nil && command == general, "\(line)")
        }
        let general = ["RETR 0", "RETR 2147483648", "RETR", "RETR ", "STAT 1", "RETR 1 ", "RETR  1", "TOP 1 2", "RETR\t1",
                       "RETR 1x", "RETR 12345678901", "RET", "RETR\u{0}1", "USER alice", "QUIT now"]
        for line in general {
            #expect(Array(line.utf8).withUnsafeBytes(POP3CommandParser.transactionCommand) == nil, "\(line)")
        }
    }

    @Test("bad input is an error, never a crash: unknown verbs, bad numbers, extra arguments, controls")
    func errors() {
        #expect(throws: POP3SyntaxError.unknownCommand("XYZZY")) { try self.parse("XYZZY") }
        #expect(throws: POP3SyntaxError.unknownCommand("")) { try self.parse("") }
        #expect(throws: POP3SyntaxError.invalidArgument("RETR")) { try self.parse("RETR 0") }
        #expect(throws: POP3SyntaxError.invalidArgument("RETR")) { try self.parse("RETR -1") }
        #expect(throws: POP3SyntaxError.invalidArgument("RETR")) { try self.parse("RETR +1") }
        #expect(throws: POP3SyntaxError.invalidArgument("RETR")) { try self.parse("RETR 99999999999") }
        #expect(throws: POP3SyntaxError.invalidArgument("DELE")) { try self.parse("DELE one") }
        #expect(throws: POP3SyntaxError.missingArgument("RETR")) { try self.parse("RETR") }
        #expect(throws: POP3SyntaxError.tooManyArguments("STAT")) { try self.parse("STAT 1") }
        #expect(throws: POP3SyntaxError.tooManyArguments("LIST")) { try self.parse("LIST 1 2") }
        #expect(throws: POP3SyntaxError.missingArgument("TOP")) { try self.parse("TOP 1") }
        #expect(throws: POP3SyntaxError.missingArgument("PASS")) { try self.parse("PASS") }
        #expect(throws: POP3SyntaxError.invalidCharacters) { try POP3CommandParser().parse([0x55, 0x53, 0x45, 0x52, 0x20, 0x00]) }
        #expect(throws: POP3SyntaxError.invalidCharacters) { try POP3CommandParser().parse([0x55, 0xFF]) }
        #expect(throws: POP3SyntaxError.invalidCharacters) { try self.parse("NOOP\r") }
    }

    @Test("status lines cannot be broken by their text; response codes in brackets")
    func responses() {
        #expect(POP3Response.ok("2 320") == Array("+OK 2 320\r\n".utf8))
        #expect(POP3Response.ok() == Array("+OK\r\n".utf8))
        #expect(POP3Response.err("bad\r\nline") == Array("-ERR bad  line\r\n".utf8))
        #expect(POP3Response.err("maildrop locked", code: .inUse) == Array("-ERR [IN-USE] maildrop locked\r\n".utf8))
        #expect(POP3Response.multiline("listing", lines: ["1 120", ".hidden"]) == Array("+OK listing\r\n1 120\r\n..hidden\r\n.\r\n".utf8))
    }

    @Test("RETR content: CRLF everywhere, dot-stuffed, terminated; TOP keeps the header and n body lines")
    func content() {
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        #expect(text(POP3Response.content(Array("A: b\r\n\r\n.dot\nbare\r\n".utf8))) == "A: b\r\n\r\n..dot\r\nbare\r\n.\r\n")
        let message = Array("Subject: x\r\nFrom: y\r\n\r\nline 1\r\nline 2\r\nline 3\r\n".utf8)
        #expect(text(POP3Response.top(of: message, lines: 0)) == "Subject: x\r\nFrom: y\r\n\r\n")
        #expect(text(POP3Response.top(of: message, lines: 2)) == "Subject: x\r\nFrom: y\r\n\r\nline 1\r\nline 2\r\n")
        #expect(text(POP3Response.top(of: message, lines: 99)) == "Subject: x\r\nFrom: y\r\n\r\nline 1\r\nline 2\r\nline 3\r\n")
        #expect(text(POP3Response.top(of: Array("\r\nbody\r\n".utf8), lines: 0)) == "\r\n")
        #expect(text(POP3Response.top(of: Array("No-Body: x\r\n".utf8), lines: 3)) == "No-Body: x\r\n")
    }

    @Test("TOP in pieces (a large message streamed) sends what TOP of the whole message sends")
    func topInPieces() {
        var generator = SystemRandomNumberGenerator()
        let lines = ["Subject: x", "From: y", "", "", "body", ".dot", "a b"]
        for round in 0..<300 {
            let text = (0..<Int.random(in: 0...12, using: &generator))
                .map { _ in (lines.randomElement(using: &generator) ?? "") + (Bool.random(using: &generator) ? "\r\n" : "\n") }
                .joined()
            let message = Array(text.utf8)
            for count in [0, 1, 3] {
                var encoder = WireLineEncoder(dotStuffing: false, bodyLineLimit: count)
                var output: [UInt8] = []
                var start = 0
                while start < message.count, !encoder.isFinished {
                    let end = min(message.count, start + Int.random(in: 1...9, using: &generator))
                    encoder.append(message[start..<end], to: &output)
                    start = end
                }
                encoder.finish(to: &output)
                #expect(output == POP3Response.top(of: message, lines: count), "round \(round), \(count) lines: \(text.debugDescription)")
            }
        }
    }
}
