import Foundation
import MailFormat
@testable import MailStore
import Testing
import TestSupport

@Suite("Content written in pieces: uploads become a message's content only when accepted")
struct ContentUploadTests {
    static func pieces() -> [Data] {
        (0..<5).map { index in Data(String(repeating: "line \(index) of the body\r\n", count: 2_000).utf8) }
    }

    static let header = Data("Subject: pieces\r\nFrom: a@example.net\r\n\r\n".utf8)

    /// An upload of `header` and the pieces, written as a session writes a large message.
    static func upload(into store: MailStore) async throws -> ContentUpload {
        var upload = try await store.beginUpload()
        try await store.appendToUpload(&upload, Self.header + Self.pieces()[0])
        for piece in Self.pieces().dropFirst() { try await store.appendToUpload(&upload, piece) }
        return upload
    }

    @Test("an appended upload (a large APPEND literal) and a large whole content read back whole, in pieces and from any offset; a discarded upload is gone; over the quota nothing is appended", arguments: StoreBackendKind.allCases)
    func appendedUpload(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let header = Self.header
            let upload = try await Self.upload(into: store)
            let whole = header + Self.pieces().reduce(Data(), +)
            #expect(upload.size == whole.count)
            let appended = try await store.appendMessage(upload, header: header, to: inbox.id, flags: ["\\Seen"])
            #expect(appended.size == Int64(whole.count) && appended.flags == ["\\Seen"])
            #expect(try await store.messageContent(in: inbox.id, uid: appended.uid) == whole)
            #expect(try await store.messagesWithContent(in: inbox.id, uids: 1...1, content: .header).first?.content == header)
            #expect(try await store.mailboxStatus(inbox.id).sizeBytes == Int64(whole.count))

            // A whole content larger than a reader's piece is read in slices.
            let large = Data("Subject: large\r\n\r\n".utf8) + Data(repeating: UInt8(ascii: "y"), count: 600_000)
                + Data("\r\nend\r\n".utf8)
            let inline = try await store.appendMessage(large, to: inbox.id)
            for (uid, content) in [(appended.uid, whole), (inline.uid, large)] {
                let firstPiece = Self.pieces()[0].count
                for offset in [0, 7, header.count, header.count + firstPiece, header.count + firstPiece + 7, 300_000, content.count] {
                    guard offset <= content.count else { continue }
                    var reader = try #require(try await store.contentReader(in: inbox.id, uid: uid))
                    #expect(reader.size == Int64(content.count))
                    try await store.seek(&reader, to: Int64(offset))
                    var rest = Data()
                    while let piece = try await store.nextPiece(&reader) {
                        rest += piece
                        #expect(piece.count <= ContentReader.pieceBytes)
                    }
                    #expect(rest == content.subdata(in: offset..<content.count), "message \(uid) from \(offset)")
                }
            }
            #expect(try await store.contentReader(in: inbox.id, uid: 99) == nil)

            // Discarded: gone, and can be neither written to nor appended.
            let contentsBefore = try await store.storedContents().count
            var dropped = try await store.beginUpload()
            try await store.appendToUpload(&dropped, Data("Subject: x\r\n\r\nx\r\n".utf8))
            try await store.discardUpload(dropped)
            #expect(try await store.storedContents().count == contentsBefore)
            await #expect(throws: MailStoreError.self) { try await store.appendToUpload(&dropped, Data("more".utf8)) }
            await #expect(throws: MailStoreError.self) {
                try await store.appendMessage(dropped, header: Data(), to: inbox.id)
            }

            // Over the quota (1,000,000 octets), the append is refused and the mailbox unchanged.
            var tooMuch = try await store.beginUpload()
            for piece in Self.pieces() + Self.pieces() { try await store.appendToUpload(&tooMuch, piece) }
            await #expect(throws: MailStoreError.overQuota("alice@example.org")) {
                try await store.appendMessage(tooMuch, header: Data(), to: inbox.id)
            }
            try await store.discardUpload(tooMuch)
            #expect(try await store.messages(in: inbox.id).map(\.uid) == [appended.uid, inline.uid])
            #expect(try await store.storedContents().count == contentsBefore)
        }
    }

    @Test("several messages, an upload among them, filed in one transaction: in order under consecutive UIDs; over the quota none, the upload left to discard", arguments: StoreBackendKind.allCases)
    func appendSeveral(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let first = Data("Subject: first\r\n\r\none\r\n".utf8)
            let last = Data("Subject: last\r\n\r\nthree\r\n".utf8)
            let date = Date(timeIntervalSince1970: 978_343_200)
            let stored = try await store.appendMessages(
                [
                    NewMessage(content: .whole(first), flags: ["\\Seen"]),
                    NewMessage(content: .uploaded(try await Self.upload(into: store), header: Self.header), internalDate: date),
                    NewMessage(content: .whole(last), flags: ["$Work"]),
                ], to: inbox.id)
            let before = try await store.messages(in: inbox.id)
            #expect(stored.map(\.uid) == Array(before.suffix(3)).map(\.uid))
            #expect(zip(stored.dropFirst(), stored).allSatisfy { $0.uid == $1.uid + 1 })
            #expect(before.suffix(3).map(\.flags) == [["\\Seen"], [], ["$Work"]] && before.suffix(3)[before.count - 2].internalDate == date)
            let contents = try await store.messagesWithContent(in: inbox.id, uids: stored[0].uid...stored[2].uid, content: .whole)
            #expect(contents.map(\.content) == [first, Self.header + Self.pieces().reduce(Data(), +), last])
            #expect(try await store.account(alice.address).messageCount == Int64(before.count))

            // Over the quota, none of them: the mailbox, the usage and the stored contents as they were.
            let account = try await store.account(alice.address)
            try await store.setQuota(account.usedBytes + 100, for: alice.address)
            let contentsBefore = try await store.storedContents().count
            let upload = try await Self.upload(into: store)
            await #expect(throws: MailStoreError.overQuota("alice@example.org")) {
                try await store.appendMessages(
                    [NewMessage(content: .whole(first)), NewMessage(content: .uploaded(upload, header: Self.header))], to: inbox.id)
            }
            try await store.discardUpload(upload)
            #expect(try await store.messages(in: inbox.id) == before)
            #expect(try await store.account(alice.address).usedBytes == account.usedBytes)
            #expect(try await store.storedContents().count == contentsBefore)
        }
    }

    @Test("an accepted upload reads back whole (prefix, then the pieces in order) from the queue, a mailbox, FETCH and SEARCH", arguments: StoreBackendKind.allCases)
    func accepted(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let header = Self.header
            let upload = try await Self.upload(into: store)
            // Nothing refers to it yet: not in the queue, and not counted as a message.
            #expect(try await store.queueRecipientStates(of: QueueMessageID(1)).isEmpty)
            let prefix = Data("Received: from test\r\n".utf8)
            let accepted = try await store.acceptMessage(
                upload, leadingWith: prefix, header: header, envelope: TestData.envelope(to: ["alice@example.org"]))
            let whole = prefix + header + Self.pieces().reduce(Data(), +)
            #expect(try await store.queuedContent(accepted.id) == whole)

            let lease = try #require(try await store.leaseQueueItems(owner: "t", limit: 1, leaseDuration: .seconds(60)).first)
            let delivered = try await store.deliverLocally(lease, into: inbox.id, headerPrefix: Data("Delivered-To: alice\r\n".utf8))
            #expect(delivered.size == Int64(whole.count + 21))
            #expect(try await store.messageContent(in: inbox.id, uid: delivered.uid) == Data("Delivered-To: alice\r\n".utf8) + whole)
            let fetched = try await store.messagesWithContent(in: inbox.id, uids: delivered.uid...delivered.uid, content: .whole)
            #expect(fetched.first?.content == Data("Delivered-To: alice\r\n".utf8) + whole)
            // Header reads use the header kept apart: the prefix and the upload's header section.
            let headers = try await store.messagesWithContent(in: inbox.id, uids: delivered.uid...delivered.uid, content: .header)
            #expect(headers.first?.content == Data("Delivered-To: alice\r\n".utf8) + prefix + header)
            let found = try await store.messages(in: inbox.id, uids: 1...UInt32.max, headerOnly: false) { _, content in
                content.range(of: Data("line 4 of the body".utf8)) != nil
            }
            #expect(found.matched == [delivered.uid] && found.unread.isEmpty)
            // Over a size given, it is left unread for a reading in pieces.
            let large = try await store.messages(in: inbox.id, uids: 1...UInt32.max, headerOnly: false, largest: 1_000) { _, _ in true }
            #expect(large.matched.isEmpty && large.unread.map(\.uid) == [delivered.uid])
            // A reader moved into the content reads on from there: within the added line, at a piece's
            // start, within a piece, at the end.
            let delivery = Data("Delivered-To: alice\r\n".utf8) + whole
            for offset in [5, 21, 21 + prefix.count + header.count, 21 + prefix.count + header.count + Self.pieces()[0].count + 7, delivery.count] {
                var reader = try #require(try await store.contentReader(in: inbox.id, uid: delivered.uid))
                try await store.seek(&reader, to: Int64(offset))
                var rest = Data()
                while let piece = try await store.nextPiece(&reader) { rest += piece }
                #expect(rest == delivery.subdata(in: offset..<delivery.count), "from \(offset)")
            }
            // Expunged, the content and its pieces go once the queue entry is gone too.
            try await store.expunge(uids: [delivered.uid], in: inbox.id)
            _ = try await store.purge(RetentionPolicy(finishedQueueEntries: .zero, changeFeed: .seconds(60), auditLog: .seconds(60)),
                                      now: Date().addingTimeInterval(5))
            #expect(try await store.storedContents().count == 0)
        }
    }

    @Test("a discarded upload leaves nothing; an abandoned one is purged, and accepting it afterwards fails", arguments: StoreBackendKind.allCases)
    func discardedAndAbandoned(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, _) = try await TestData.populated(fixture)
            var discarded = try await store.beginUpload()
            try await store.appendToUpload(&discarded, Self.pieces()[0])
            try await store.discardUpload(discarded)
            #expect(try await store.storedContents().count == 0)

            let start = Date()
            var abandoned = try await store.beginUpload(now: start)
            try await store.appendToUpload(&abandoned, Self.pieces()[0], now: start)
            var living = try await store.beginUpload(now: start)
            try await store.appendToUpload(&living, Self.pieces()[0], now: start)
            // Written to again later: still living at the purge.
            try await store.appendToUpload(&living, Self.pieces()[1], now: start.addingTimeInterval(3_000))
            let policy = RetentionPolicy(
                finishedQueueEntries: .seconds(60), changeFeed: .seconds(60), auditLog: .seconds(60), abandonedUploads: .seconds(3_600))
            let report = try await store.purge(policy, now: start.addingTimeInterval(4_000))
            #expect(report.abandonedUploads == 1)
            #expect(try await store.storedContents().count == 1)
            await #expect(throws: MailStoreError.self) {
                try await store.appendToUpload(&abandoned, Self.pieces()[1])
            }
            await #expect(throws: MailStoreError.self) {
                try await store.acceptMessage(
                    abandoned, leadingWith: Data(), header: Data(), envelope: TestData.envelope(to: ["alice@example.org"]))
            }
            #expect(try await store.queueRecipientStates(of: QueueMessageID(1)).isEmpty)
            // The one still living becomes a message.
            let accepted = try await store.acceptMessage(
                living, leadingWith: Data(), header: Data(), envelope: TestData.envelope(to: ["alice@example.org"]))
            #expect(try await store.queuedContent(accepted.id) == Self.pieces()[0] + Self.pieces()[1])
        }
    }
}
