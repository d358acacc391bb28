import Foundation
import MailFormat
import Testing

@Suite("Message threading (RFC 5256 §4)")
struct MessageThreadingTests {
    typealias Message = MessageThreading.Message

    static func message(_ number: UInt32, id: String?, references: String? = nil, inReplyTo: String? = nil, subject: String, minute: Double)
        -> Message
    {
        Message(
            number: number, messageID: id.map { "<\($0)>" }, references: references, inReplyTo: inReplyTo, subject: subject,
            date: Date(timeIntervalSince1970: 1_700_000_000 + minute * 60))
    }

    @Test("REFERENCES: replies under what they refer to, chains written flat, a missing parent shared, siblings by date")
    func references() {
        let messages = [
            Self.message(1, id: "a", subject: "Plans", minute: 0),
            Self.message(2, id: "b", references: "<a>", subject: "Re: Plans", minute: 5),
            Self.message(3, id: "c", references: "<a> <b>", subject: "Re: Plans", minute: 10),
            Self.message(4, id: "d", inReplyTo: "<a>", subject: "Re: Plans", minute: 7),
            Self.message(5, id: "e", subject: "Other", minute: 1),
            // Two replies to a message that is not here: they share an empty parent.
            Self.message(6, id: "f", references: "<gone>", subject: "Lost", minute: 2),
            Self.message(7, id: "g", references: "<gone>", subject: "Re: Lost", minute: 3),
        ]
        let threads = MessageThreading.references(messages)
        #expect(MessageThreading.text(threads) == "(1 (2 3)(4))(5)((6)(7))")
    }

    @Test("REFERENCES: threads of one base subject merge, the reply under the original; loops and duplicate ids are harmless")
    func subjectsAndLoops() {
        let messages = [
            Self.message(1, id: "x", subject: "Lunch?", minute: 0),
            Self.message(2, id: "y", subject: "Re: Lunch?", minute: 5),
            Self.message(3, id: "p", references: "<q>", subject: "Loop", minute: 6),
            Self.message(4, id: "q", references: "<p>", subject: "Loop again", minute: 7),
            Self.message(5, id: "x", subject: "Duplicate id", minute: 8),
            Self.message(6, id: nil, subject: "No id", minute: 9),
        ]
        // 3 refers to q (4's id) first; 4 referring back to p would close a loop and is not linked.
        let text = MessageThreading.text(MessageThreading.references(messages))
        #expect(text == "(1 2)(4 3)(5)(6)", "\(text)")
    }

    @Test("ORDEREDSUBJECT: one thread per base subject, the earliest the parent, threads by their first date")
    func orderedSubject() {
        let messages = [
            Self.message(1, id: "a", subject: "B topic", minute: 3),
            Self.message(2, id: "b", subject: "Re: A topic", minute: 2),
            Self.message(3, id: "c", subject: "A topic", minute: 1),
            Self.message(4, id: "d", subject: "re: a TOPIC", minute: 4),
            Self.message(5, id: "e", subject: "B topic (fwd)", minute: 5),
        ]
        #expect(MessageThreading.text(MessageThreading.orderedSubject(messages)) == "(3 (2)(4))(1 5)")
    }
}
