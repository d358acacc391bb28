import Foundation
import MailFormat
import MailStore
import Synchronization
import Testing
import TestSupport

@Suite("Mailboxes, messages, flags and the change feed")
struct MailboxStoreTests {
    @Test("metadata of a mailbox and of the server scope: set, replaced, removed, kept through RENAME, gone with DELETE; over the entry limit nothing changes", arguments: StoreBackendKind.allCases)
    func metadata(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let notes = try await store.createMailbox(named: "Notes", of: alice.id)
            try await store.setMetadata(
                [("/private/comment", Data("server".utf8)), ("/shared/b", Data([0, 1])), ("/shared/a", Data("a".utf8))], of: alice.id,
                mailbox: nil)
            try await store.setMetadata([("/private/comment", Data("mailbox".utf8))], of: alice.id, mailbox: notes.id)
            #expect(try await store.metadata(of: alice.id, mailbox: nil).map(\.name) == ["/private/comment", "/shared/a", "/shared/b"])
            #expect(try await store.metadata(of: alice.id, mailbox: notes.id) == [MetadataEntry(name: "/private/comment", value: Data("mailbox".utf8))])
            try await store.setMetadata([("/shared/a", nil), ("/shared/b", Data("new".utf8))], of: alice.id, mailbox: nil)
            #expect(try await store.metadata(of: alice.id, mailbox: nil).map(\.value) == [Data("server".utf8), Data("new".utf8)])

            try await store.renameMailbox(from: "Notes", to: "Kept", of: alice.id)
            #expect(try await store.metadata(of: alice.id, mailbox: notes.id).count == 1)
            let many = (0..<MailStore.maximumMetadataEntries).map { (name: "/private/n\($0)", value: Data?.some(Data("v".utf8))) }
            await #expect(throws: MailStoreError.tooManyMetadataEntries(MailStore.maximumMetadataEntries)) {
                try await store.setMetadata(many, of: alice.id, mailbox: notes.id)
            }
            #expect(try await store.metadata(of: alice.id, mailbox: notes.id).count == 1)
            await #expect(throws: MailStoreError.self) {
                try await store.setMetadata(
                    [("/private/big", Data(count: MailStore.maximumMetadataValueBytes + 1))], of: alice.id, mailbox: notes.id)
            }
            try await store.deleteMailbox(named: "Kept", of: alice.id)
            #expect(try await store.metadata(of: alice.id, mailbox: notes.id).isEmpty)
            #expect(try await store.metadata(of: alice.id, mailbox: nil).count == 2)
        }
    }

    @Test("copy shares content, move is one transaction, rename takes children along, delete keeps usage right", arguments: StoreBackendKind.allCases)
    func folders(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let content = Data("Subject: one\r\n\r\nfirst\r\n".utf8)
            let one = try await store.appendMessage(content, to: inbox.id, flags: ["\\Seen"])
            let two = try await store.appendMessage(content, to: inbox.id)
            let projects = try await store.createMailbox(named: "Projects", of: alice.id)
            try await store.createMailbox(named: "Projects/Old", of: alice.id)

            let copied = try await store.copyMessages(uids: [two.uid, one.uid, 99], from: inbox.id, to: projects.id)
            #expect(copied.map(\.source) == [one.uid, two.uid] && copied.map(\.copy) == [1, 2])
            #expect(try await store.messages(in: projects.id).map(\.flags) == [["\\Seen"], []])
            #expect(try await store.account(alice.address).usedBytes == Int64(4 * content.count))
            let moved = try await store.copyMessages(uids: [one.uid], from: inbox.id, to: projects.id, move: true)
            #expect(moved.map(\.copy) == [3])
            #expect(try await store.messages(in: inbox.id).map(\.uid) == [two.uid])
            #expect(try await store.changes(in: inbox.id, since: 0).last?.kind == .expunge)

            try await store.renameMailbox(from: "Projects", to: "Archive/2026", of: alice.id)
            let names = try await store.mailboxes(of: alice.id).map(\.name)
            #expect(names.contains("Archive/2026") && names.contains("Archive/2026/Old") && !names.contains("Projects"))
            let renamed = try await store.mailbox(named: "Archive/2026", of: alice.id)
            #expect(renamed.id == projects.id && renamed.uidValidity == projects.uidValidity)
            await #expect(throws: MailStoreError.mailboxHasChildren("Archive/2026")) {
                try await store.deleteMailbox(named: "Archive/2026", of: alice.id)
            }
            try await store.deleteMailbox(named: "Archive/2026/Old", of: alice.id)
            try await store.deleteMailbox(named: "Archive/2026", of: alice.id)
            #expect(try await store.account(alice.address).usedBytes == Int64(content.count))
            await #expect(throws: MailStoreError.mailboxProtected("INBOX")) { try await store.deleteMailbox(named: "inbox", of: alice.id) }

            try await store.renameMailbox(from: "INBOX", to: "Old mail", of: alice.id)
            #expect(try await store.messages(in: inbox.id).isEmpty)
            let old = try await store.mailbox(named: "Old mail", of: alice.id)
            #expect(try await store.messageContent(in: old.id, uid: 1) == content)
            #expect(try await store.account(alice.address).usedBytes == Int64(content.count))
            try await store.setSubscribed(false, mailbox: "Old mail", of: alice.id)
            #expect(try await store.mailbox(named: "Old mail", of: alice.id).subscribed == false)
            await #expect(throws: MailStoreError.unknownMailbox("Nope")) { try await store.setSubscribed(true, mailbox: "Nope", of: alice.id) }

            // A subscription belongs to the name: it outlives the mailbox, comes back with a mailbox of
            // that name, follows a rename (with the mailboxes below), and can be dropped without a mailbox.
            try await store.createMailbox(named: "Lists", of: alice.id)
            try await store.createMailbox(named: "Lists/Swift", of: alice.id)
            try await store.deleteMailbox(named: "Lists/Swift", of: alice.id)
            #expect(try await store.subscriptions(of: alice.id).contains("Lists/Swift"))
            #expect(try await !store.mailboxes(of: alice.id).map(\.name).contains("Lists/Swift"))
            try await store.createMailbox(named: "Lists/Swift", of: alice.id)
            try await store.renameMailbox(from: "Lists", to: "Groups", of: alice.id)
            let subscribed = try await store.subscriptions(of: alice.id)
            #expect(subscribed.contains("Groups") && subscribed.contains("Groups/Swift"), "\(subscribed)")
            #expect(!subscribed.contains("Lists") && !subscribed.contains("Lists/Swift"), "\(subscribed)")
            #expect(try await store.mailbox(named: "Groups/Swift", of: alice.id).subscribed)
            try await store.deleteMailbox(named: "Groups/Swift", of: alice.id)
            try await store.setSubscribed(false, mailbox: "Groups/Swift", of: alice.id)
            #expect(try await !store.subscriptions(of: alice.id).contains("Groups/Swift"))
            await #expect(throws: MailStoreError.unknownMailbox("Groups/Swift")) {
                try await store.setSubscribed(false, mailbox: "Groups/Swift", of: alice.id)
            }
        }
    }

    @Test("a conditional flag change (CONDSTORE's UNCHANGEDSINCE) leaves alone, and names, the messages changed since", arguments: StoreBackendKind.allCases)
    func conditionalFlagChange(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            for index in 1...3 {
                _ = try await store.appendMessage(Data("Subject: \(index)\r\n\r\nbody\r\n".utf8), to: inbox.id, flags: [])
            }
            let seen = try await store.mailbox(named: "INBOX", of: alice.id).highestModSeq
            let other = try await store.changeFlags(.add(["$Other"]), in: inbox.id, uids: [2])
            #expect(other.modified.isEmpty)
            let change = try await store.changeFlags(.add(["\\Flagged"]), in: inbox.id, uids: [1, 2, 3], unchangedSince: seen)
            #expect(change.modified == [2])
            #expect(change.messages.map(\.uid) == [1, 3] && change.messages.allSatisfy { $0.flags == ["\\Flagged"] })
            let flags = try await store.messages(in: inbox.id).map(\.flags)
            #expect(flags == [["\\Flagged"], ["$Other"], ["\\Flagged"]])
            // Unconditional, or with the latest modseq: every message.
            let latest = try await store.mailbox(named: "INBOX", of: alice.id).highestModSeq
            #expect(try await store.changeFlags(.add(["\\Seen"]), in: inbox.id, uids: [1, 2, 3], unchangedSince: latest).modified.isEmpty)
        }
    }

    @Test("append, list, fetch, flag and expunge; UIDs and modseqs only go up; quota usage follows", arguments: StoreBackendKind.allCases)
    func messageLifecycle(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "inbox", of: alice.id)
            #expect(inbox.name == "INBOX" && inbox.uidNext == 1)
            let first = Data("Subject: one\r\n\r\nfirst\r\n".utf8)
            let second = Data("Subject: two\r\n\r\nsecond\r\n".utf8)
            let one = try await store.appendMessage(first, to: inbox.id, flags: ["\\Seen"])
            let two = try await store.appendMessage(second, to: inbox.id)
            #expect(one.uid == 1 && two.uid == 2 && two.modSeq > one.modSeq)
            #expect(try await store.messageContent(in: inbox.id, uid: 2) == second)
            #expect(try await store.messages(in: inbox.id).map(\.uid) == [1, 2])
            #expect(try await store.messages(in: inbox.id, uids: 2...2).map(\.size) == [Int64(second.count)])

            var status = try await store.mailboxStatus(inbox.id)
            #expect(status.messages == 2 && status.unseen == 1 && status.deleted == 0)
            #expect(status.sizeBytes == Int64(first.count + second.count))
            #expect(try await store.account(alice.address).usedBytes == Int64(first.count + second.count))

            let flagged = try await store.updateFlags(.add(["\\Deleted", "$Important"]), in: inbox.id, uids: [2])
            #expect(flagged.first?.flags == ["\\Deleted", "$Important"])
            if backend == .sqlite {
                // Flag changes commit without a sync; the writer must be back at FULL for the next acceptance.
                #expect(try await store.writerPragmas().synchronous == 2)
            }
            #expect(try await store.messageFlags(in: inbox.id).map(\.flags) == [["\\Seen"], ["\\Deleted", "$Important"]])
            status = try await store.mailboxStatus(inbox.id)
            #expect(status.deleted == 1)
            #expect(try await store.deletedBytes(in: inbox.id) == Int64(second.count))
            let before = try await store.highestModSeq(of: inbox.id)
            #expect(try await store.expunge(uids: [2, 99], in: inbox.id) == [2])
            #expect(try await store.deletedBytes(in: inbox.id) == 0)
            #expect(try await store.highestModSeq(of: inbox.id) > before)
            #expect(try await store.messageContent(in: inbox.id, uid: 2) == nil)
            #expect(try await store.account(alice.address).usedBytes == Int64(first.count))

            // A UID is never handed out twice under one UIDVALIDITY (RFC 9051 §2.3.1.1).
            let three = try await store.appendMessage(second, to: inbox.id)
            #expect(three.uid == 3)
        }
    }

    @Test("a header listing gives each message's added lines and header section, no more", arguments: StoreBackendKind.allCases)
    func headerListing(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let header = "Subject: one\r\nFrom: a@example.net\r\n\r\n"
            let contents = [
                Data((header + "first line\r\n\r\nsecond paragraph\r\n").utf8),
                Data("Subject: no body and no empty line\r\n".utf8),  // all header
                Data("\r\nbody only\r\n".utf8),  // an empty header
                Data("Subject: bare\n\nline feeds\n".utf8),
            ]
            for content in contents { _ = try await store.appendMessage(content, to: inbox.id) }
            let accepted = try await store.acceptMessage(Data((header + "queued\r\n").utf8), envelope: TestData.envelope(to: ["alice@example.org"]))
            let lease = try #require(try await store.leaseQueueItems(owner: "w", limit: 1, leaseDuration: .seconds(60)).first)
            let prefix = Data("Delivered-To: alice@example.org\r\n".utf8)
            _ = try await store.deliverLocally(lease, into: inbox.id, headerPrefix: prefix)
            #expect(try await store.queuedContent(accepted.id) == Data((header + "queued\r\n").utf8))

            let expected = [
                Data(header.utf8), contents[1], Data("\r\n".utf8), Data("Subject: bare\n\n".utf8), prefix + Data(header.utf8),
            ]
            #expect(try await store.messagesWithContent(in: inbox.id, uids: 1...5, content: .header).map(\.content) == expected)
            // Immediate reads (on the caller's thread) are SQLite's only.
            #expect((store.immediate == nil) == (backend == .postgres))
            if let immediate = store.immediate {
                #expect(try immediate.messagesWithContent(in: inbox.id, uids: 2...5, content: .header).map(\.content) == Array(expected[1...]))
            }
            let whole = try await store.messagesWithContent(in: inbox.id, uids: 1...5, content: .whole)
            #expect(whole.map(\.content) == contents + [prefix + Data((header + "queued\r\n").utf8)])
            #expect(try await store.messagesWithContent(in: inbox.id, uids: 1...5, content: .omitted).allSatisfy { $0.content == nil })
            let seen = Mutex<[Data]>([])
            let matched = try await store.messages(in: inbox.id, uids: 1...5, headerOnly: true) { _, content in
                seen.withLock { $0.append(Data(Array(content))) }  // lent, not to be kept: copied
                return content.count > 20
            }
            #expect(seen.withLock { $0 } == expected)
            #expect(matched.matched == [1, 2, 5] && matched.unread.isEmpty)
        }
    }

    @Test("expunging frees exactly the contents nothing else uses: copies and the queue keep theirs", arguments: StoreBackendKind.allCases)
    func contentCleanup(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let kept = try await store.createMailbox(named: "Kept", of: alice.id)
            let shared = Data("Subject: shared\r\n\r\nkept while copied\r\n".utf8)
            let alone = Data("Subject: alone\r\n\r\ngone at once\r\n".utf8)
            let one = try await store.appendMessage(shared, to: inbox.id)
            let two = try await store.appendMessage(alone, to: inbox.id)
            _ = try await store.copyMessages(uids: [one.uid], from: inbox.id, to: kept.id)
            #expect(try await store.storedContents() == (2, Int64(shared.count + alone.count)))

            try await store.expunge(uids: [one.uid, two.uid], in: inbox.id)
            #expect(try await store.storedContents() == (1, Int64(shared.count)))
            #expect(try await store.messagesWithContent(in: kept.id, uids: 1...1, content: .header).first?.content
                == Data("Subject: shared\r\n\r\n".utf8))
            try await store.deleteMailbox(named: "Kept", of: alice.id)
            #expect(try await store.storedContents() == (0, 0))
        }
    }

    @Test("STATUS counts kept in the mailbox row follow appends, flag changes, copies, moves and expunges", arguments: StoreBackendKind.allCases)
    func statusCounts(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id).id
            let other = try await store.createMailbox(named: "Other", of: alice.id).id
            // The counts as a pass over the messages gives them.
            func recounted(_ mailbox: MailboxID) async throws -> [Int64] {
                let listed = try await store.messages(in: mailbox)
                return [
                    Int64(listed.count), Int64(listed.filter { !$0.flags.contains("\\Seen") }.count),
                    Int64(listed.filter { $0.flags.contains("\\Deleted") }.count), listed.reduce(0) { $0 + $1.size },
                ]
            }
            func kept(_ mailbox: MailboxID) async throws -> [Int64] {
                let status = try await store.mailboxStatus(mailbox)
                return [Int64(status.messages), Int64(status.unseen), Int64(status.deleted), status.sizeBytes]
            }
            let flagSets: [Set<String>] = [[], ["\\Seen"], ["\\Deleted"], ["\\Seen", "\\Deleted", "$Work"], ["$Work"]]
            var random: UInt64 = 7
            func next(_ bound: Int) -> Int {
                random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int((random >> 33) % UInt64(bound))
            }
            for step in 0..<120 {
                let (source, target) = next(2) == 0 ? (inbox, other) : (other, inbox)
                let uids = try await store.messages(in: source).map(\.uid)
                let some = uids.filter { _ in next(3) == 0 }
                switch next(6) {
                case 0, 1:
                    let body = String(repeating: "x", count: next(300))
                    _ = try await store.appendMessage(Data("Subject: \(step)\r\n\r\n\(body)\r\n".utf8), to: source, flags: flagSets[next(5)])
                case 2: _ = try await store.updateFlags(.add(flagSets[next(5)]), in: source, uids: some)
                case 3: _ = try await store.updateFlags(.remove(flagSets[next(5)]), in: source, uids: some)
                case 4: _ = try await store.copyMessages(uids: some, from: source, to: target, move: next(2) == 0)
                default: try await store.expunge(uids: some, in: source)
                }
                #expect(try await kept(inbox) == (try await recounted(inbox)), "after step \(step)")
                #expect(try await kept(other) == (try await recounted(other)), "after step \(step)")
            }
            #expect(try await kept(inbox)[0] + (try await kept(other))[0] > 0)
        }
    }

    @Test("the change feed reports appends, flag changes and expunges in order", arguments: StoreBackendKind.allCases)
    func changeFeed(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            let start = try await store.highestModSeq(of: inbox.id)
            _ = try await store.appendMessage(Data("a\r\n".utf8), to: inbox.id)
            _ = try await store.updateFlags(.replace(["\\Seen"]), in: inbox.id, uids: [1])
            _ = try await store.updateFlags(.replace(["\\Seen"]), in: inbox.id, uids: [1])  // no change, no entry
            try await store.expunge(uids: [1], in: inbox.id)
            let changes = try await store.changes(in: inbox.id, since: start)
            #expect(changes.map(\.kind) == [.append, .flags, .expunge])
            #expect(changes.map(\.uid) == [1, 1, 1])
            #expect(changes.map(\.modSeq) == changes.map(\.modSeq).sorted())
            #expect(try await store.changes(in: inbox.id, since: changes.last?.modSeq ?? 0).isEmpty)
            if let immediate = store.immediate {
                // The immediate (on-the-caller's-thread) reads see the same feed and messages.
                #expect(try immediate.changes(in: inbox.id, since: start) == changes)
            }
            _ = try await store.appendMessage(Data("b\r\n".utf8), to: inbox.id)
            _ = try await store.appendMessage(Data("c\r\n".utf8), to: inbox.id)
            if let immediate = store.immediate {
                let listed = try immediate.messagesWithContent(in: inbox.id, uids: 1...3, content: .whole)
                #expect(listed.map { $0.message.uid } == [2, 3])
                #expect(listed.map { $0.content } == [Data("b\r\n".utf8), Data("c\r\n".utf8)])
                #expect(try immediate.messages(in: inbox.id, uids: 1...3) == (try await store.messages(in: inbox.id, uids: 1...3)))
            }

            // The process-wide poll: which mailboxes changed after a feed position, and the new position.
            let position = try await store.mailboxesChanged(after: 0).latest
            let unchanged = try await store.mailboxesChanged(after: position)
            #expect(unchanged.latest == position && unchanged.mailboxes.isEmpty)
            let sent = try await store.createMailbox(named: "Sent-Test", of: alice.id)
            _ = try await store.appendMessage(Data("d\r\n".utf8), to: sent.id)
            _ = try await store.updateFlags(.replace(["\\Seen"]), in: inbox.id, uids: [2])
            let changed = try await store.mailboxesChanged(after: position)
            #expect(changed.mailboxes == [inbox.id, sent.id] && changed.latest > position)
            #expect(changed.accounts == [alice.id])
            #expect(try await store.mailboxesChanged(after: changed.latest).mailboxes.isEmpty)
            if backend == .sqlite {
                // SQLite's cursor is the feed's row id: the newest entry, and one entry at a time. The
                // first is the creation's, which names the account and no mailbox.
                #expect(changed.latest == (try await store.latestChange()))
                let limited = try await store.mailboxesChanged(after: position, limit: 1)
                #expect(limited.mailboxes.isEmpty && limited.accounts == [alice.id] && limited.latest == position + 1)
            }
            // Changes to the list of mailboxes and subscriptions name the account only (IMAP NOTIFY
            // learns of them so, from any process), and message readers never see them.
            let beforeList = try await store.mailboxesChanged(after: 0).latest
            try await store.setSubscribed(true, mailbox: "Sent-Test", of: alice.id)
            try await store.renameMailbox(from: "Sent-Test", to: "Sent-Renamed", of: alice.id)
            let listChanges = try await store.mailboxesChanged(after: beforeList)
            #expect(listChanges.mailboxes.isEmpty && listChanges.accounts == [alice.id] && listChanges.latest > beforeList)
            #expect(try await store.changes(in: sent.id, since: 0).map(\.uid) == [1])
            try await store.deleteMailbox(named: "Sent-Renamed", of: alice.id)
            let deletion = try await store.mailboxesChanged(after: listChanges.latest)
            #expect(deletion.mailboxes == [sent.id] && deletion.accounts == [alice.id])
        }
    }

    @Test("SORT's keys: listed with the header until kept, then without it, for every mailbox holding the content", arguments: StoreBackendKind.allCases)
    func sortKeys(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let box = try await store.createMailbox(named: "Sort-Test", of: alice.id)
            let content = Data("Date: Tue, 3 Mar 2026 10:00:00 +0100\r\nSubject: Re: [list] Hello\r\nFrom: \"Zed\" <zed@example.net>\r\nMessage-ID: <m2@x>\r\nIn-Reply-To: <m1@x>\r\n\r\nbody\r\n".utf8)
            let stored = try await store.appendMessage(content, to: box.id)
            let first = try await store.sortListing(in: box.id, uids: 1...10)
            #expect(first.count == 1 && first[0].keys == nil && first[0].contentID == stored.contentID)
            let header = try #require(first[0].header)
            let keys = MessageSortKeys(header: MessageHeader(parsing: header, only: MessageSortKeys.fields))
            #expect(keys.sentAt == 1_772_528_400 && keys.subject == "HELLO" && keys.from == "ZED" && keys.displayFrom == "ZED")
            #expect(keys.subjectIsReply && keys.messageID == "m2@x" && keys.references == ["m1@x"])
            try await store.saveSortKeys([(stored.contentID, keys.kept)])
            let kept = try await store.sortListing(in: box.id, uids: 1...10)
            #expect(kept.count == 1 && kept[0].keys?.decoded == keys && kept[0].header == nil && kept[0].size == stored.size)
            // A copy shares the content, and so its keys.
            let other = try await store.createMailbox(named: "Sort-Copy", of: alice.id)
            _ = try await store.copyMessages(uids: [stored.uid], from: box.id, to: other.id)
            #expect(try await store.sortListing(in: other.id, uids: 1...10).map(\.keys?.decoded) == [keys])
            // Keys of another version are read as missing, with the header to work them out again.
            #expect(MessageSortKeys(encoded: "0\u{1F}1\u{1F}a\u{1F}b\u{1F}c\u{1F}d\u{1F}e\u{1F}f") == nil)
            #expect(MessageSortKeys(encoded: keys.encoded) == keys)
            let fields = try #require(MessageSortKeys.Encoded(keys.encoded))
            #expect(fields.sentAt == keys.sentAt && fields.subject == "HELLO" && fields.displayFrom == "ZED" && fields.cc == "")
            let awkward = MessageSortKeys(
                sentAt: nil, subject: "a\u{1F}b", from: "", to: "", cc: "", displayFrom: "", displayTo: "", messageID: "i\u{1E}d",
                references: ["r 1", "r\u{1E}2"])
            #expect(MessageSortKeys(encoded: awkward.encoded)?.references == ["r 1", "r 2"])
        }
    }

    @Test("\\Recent: each message is claimed by one session only; STATUS counts the unclaimed", arguments: StoreBackendKind.allCases)
    func recentClaims(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let box = try await store.createMailbox(named: "Recent-Test", of: alice.id)
            #expect(box.recentFloor == 1)
            for text in ["a", "b"] { _ = try await store.appendMessage(Data("\(text)\r\n".utf8), to: box.id) }
            #expect(try await store.mailboxStatus(box.id).recent == 2)
            // Two sessions claiming at once: exactly one gets UIDs 1 and 2.
            async let first = store.claimRecent(in: box.id, below: 3)
            async let second = store.claimRecent(in: box.id, below: 3)
            let floors = try await [first, second].sorted()
            #expect(floors == [1, 3])
            #expect(try await store.mailboxStatus(box.id).recent == 0)
            if let immediate = store.immediate { #expect(try immediate.recentFloor(of: box.id) == 3) }
            // A claim never lowers the floor.
            #expect(try await store.claimRecent(in: box.id, below: 2) == 3)
            _ = try await store.appendMessage(Data("c\r\n".utf8), to: box.id)
            #expect(try await store.mailboxStatus(box.id).recent == 1)
        }
    }

    @Test("mailbox names: create, duplicates, hierarchy rules", arguments: StoreBackendKind.allCases)
    func mailboxNames(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let work = try await store.createMailbox(named: "Work/Projects", of: alice.id)
            #expect(work.name == "Work/Projects" && work.subscribed)
            await #expect(throws: MailStoreError.mailboxExists("Work/Projects")) {
                try await store.createMailbox(named: "Work/Projects", of: alice.id)
            }
            await #expect(throws: MailStoreError.mailboxExists("INBOX")) {
                try await store.createMailbox(named: "Inbox", of: alice.id)
            }
            for bad in ["", "/lead", "trail/", "dou//ble", "tab\there", String(repeating: "x", count: 2000)] {
                await #expect(throws: MailStoreError.self) { try await store.createMailbox(named: bad, of: alice.id) }
            }
            await #expect(throws: MailStoreError.unknownMailbox("Nope")) {
                try await store.mailbox(named: "Nope", of: alice.id)
            }
        }
    }

    @Test("two hosts appending to, flagging and moving out of one mailbox at once: every UID and modseq handed out once, in commit order, and the counts exact", arguments: StoreBackendKind.allCases)
    func racingHosts(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (first, alice) = try await TestData.populated(fixture)
            let second = try await fixture.openStore()
            let inbox = try await first.mailbox(named: "INBOX", of: alice.id).id
            let archive = try await first.createMailbox(named: "Archive/Racing", of: alice.id).id
            let stored = try await withThrowingTaskGroup(of: [StoredMessage].self) { group in
                for (host, store) in [first, second].enumerated() {
                    group.addTask {
                        var appended: [StoredMessage] = []
                        for index in 0..<20 {
                            let message = try await store.appendMessage(
                                Data("Subject: \(host)-\(index)\r\n\r\nbody\r\n".utf8), to: inbox, flags: index % 2 == 0 ? ["\\Seen"] : [])
                            appended.append(message)
                            _ = try await store.updateFlags(.add(["$Host\(host)"]), in: inbox, uids: [message.uid, 1])
                            if index % 5 == 4 {
                                _ = try await store.copyMessages(uids: [message.uid], from: inbox, to: archive, move: true)
                            }
                        }
                        return appended
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(Set(stored.map(\.uid)).count == 40 && Set(stored.map(\.uid)) == Set(1...40))
            #expect(Set(stored.map(\.modSeq)).count == 40, "each append its own modseq")
            let inboxMessages = try await first.messages(in: inbox)
            let archived = try await second.messages(in: archive)
            #expect(inboxMessages.count == 32 && archived.map(\.uid) == Array(1...8))
            #expect(try await first.messageFlags(in: inbox).first?.flags.isSuperset(of: ["$Host0", "$Host1"]) == true)
            // The feed names each append and expunge once, in modseq order.
            let feed = try await second.changes(in: inbox, since: 0)
            #expect(feed.filter { $0.kind == .append }.map(\.uid) == Array(1...40))
            #expect(feed.filter { $0.kind == .expunge }.count == 8)
            #expect(feed.map(\.modSeq) == feed.map(\.modSeq).sorted())
            let status = try await first.mailboxStatus(inbox)
            #expect(status.messages == 32 && status.unseen == inboxMessages.filter { !$0.flags.contains("\\Seen") }.count)
            #expect(status.sizeBytes == inboxMessages.reduce(0) { $0 + $1.size })
            let account = try await second.account(alice.address)
            #expect(account.messageCount == 40 && account.usedBytes == stored.reduce(0) { $0 + $1.size })
        }
    }

    @Test("POP3 maildrop leases: one owner at a time, renewed by its owner, free once released or expired; UPDATE only under the lease", arguments: StoreBackendKind.allCases)
    func maildropLeases(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let (store, alice) = try await TestData.populated(fixture)
            let inbox = try await store.mailbox(named: "INBOX", of: alice.id)
            for index in 1...3 { _ = try await store.appendMessage(Data("Subject: \(index)\r\n\r\nbody \(index)\r\n".utf8), to: inbox.id) }
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try await store.lockMaildrop(of: alice.id, owner: "a", for: .seconds(60), now: now))
            #expect(try await !store.lockMaildrop(of: alice.id, owner: "b", for: .seconds(60), now: now.addingTimeInterval(30)))
            // Renewed by its owner: still held past the first expiry.
            #expect(try await store.lockMaildrop(of: alice.id, owner: "a", for: .seconds(60), now: now.addingTimeInterval(50)))
            #expect(try await !store.lockMaildrop(of: alice.id, owner: "b", for: .seconds(60), now: now.addingTimeInterval(90)))
            #expect(try await store.maildropListing(of: inbox.id).map(\.uid) == [1, 2, 3])
            #expect(try await store.maildropListing(of: inbox.id).map(\.size) == [22, 22, 22])
            await #expect(throws: MailStoreError.maildropLockLost) {
                try await store.expungeMaildrop(uids: [1], in: inbox.id, account: alice.id, owner: "b", now: now.addingTimeInterval(90))
            }
            #expect(try await store.expungeMaildrop(uids: [1, 9], in: inbox.id, account: alice.id, owner: "a", now: now.addingTimeInterval(90)) == [1])
            // Expired: another session takes it, and the old owner's UPDATE is refused.
            #expect(try await store.lockMaildrop(of: alice.id, owner: "b", for: .seconds(60), now: now.addingTimeInterval(200)))
            await #expect(throws: MailStoreError.maildropLockLost) {
                try await store.expungeMaildrop(uids: [2], in: inbox.id, account: alice.id, owner: "a", now: now.addingTimeInterval(201))
            }
            // Released (only by its owner): free at once.
            try await store.unlockMaildrop(of: alice.id, owner: "a")
            #expect(try await !store.lockMaildrop(of: alice.id, owner: "c", for: .seconds(60), now: now.addingTimeInterval(202)))
            try await store.unlockMaildrop(of: alice.id, owner: "b")
            #expect(try await store.lockMaildrop(of: alice.id, owner: "c", for: .seconds(60), now: now.addingTimeInterval(203)))
            #expect(try await store.maildropListing(of: inbox.id).map(\.uid) == [2, 3])
        }
    }
}
