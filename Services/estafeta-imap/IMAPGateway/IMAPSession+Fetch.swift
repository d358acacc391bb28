import Credentials
import Foundation
import IMAPProtocol
import Logging
import MailFormat
import MailStore
import NIOCore
import ServerSupport
import ServiceHost
import ServiceLifecycle

/// SEARCH and FETCH of the selected mailbox: the answers that read message listings and contents.
extension IMAPSession {
    /// SEARCH and UID SEARCH; ESEARCH results (RFC 9051 §7.3.4) with RETURN or after ENABLE IMAP4rev2.
    func search(
        _ tag: String, key: IMAPSearchKey, returning: [IMAPSearchReturn]?, byUID: Bool, state: inout State
    ) async throws -> Next {
        // The selection is only borrowed for the search, so nothing holds a copy once the changes made
        // meanwhile are applied to it (see `selected`).
        if returning?.contains(.update) == true, state.selected?.updatingSearches.contains(where: { $0.tag == tag }) == true {
            return self.bad(tag, "An updating search already has this tag", state: &state)
        }
        var found: [(sequence: Int, uid: UInt32)]?
        if let selection = state.selected { found = try await self.matching(key, in: selection, saved: state.savedSearch) }
        guard let matched = found else { return self.send([.status(tag: tag, .bad, nil, "Select a mailbox first")], state) }
        let numbers = matched.map { byUID ? $0.uid : UInt32($0.sequence) }
        // With a MODSEQ criterion, the highest modseq of the messages found (RFC 7162 §3.1.5).
        var highestModSeq: UInt64?
        if IMAPSearch.usesModSeq(key), let mailbox = state.selected?.mailbox.id, let first = matched.map(\.uid).min(),
            let last = matched.map(\.uid).max()
        {
            let found = Set(matched.map(\.uid))
            highestModSeq = try await Self.messagesWithContent(in: mailbox, uids: first...last, content: .omitted, store: self.store)
                .filter { found.contains($0.message.uid) }.map(\.message.modSeq).max()
        }
        var lines: [IMAPResponse] = []
        let options = returning ?? []
        // With PARTIAL, SAVE keeps the messages it returns.
        let partial = options.partialRange
        if options.contains(.save) { state.savedSearch = partial.map { Array($0.slice(matched)) }?.map(\.uid) ?? matched.map(\.uid) }
        if returning == nil && !state.rev2 {
            lines.append(.search(numbers, modSeq: highestModSeq))
        } else if options != [.save] {
            let wanted = options.filter { $0 != .save && $0 != .update && $0 != .context }
            var items: [IMAPSearchResultItem] = []
            for option in wanted.isEmpty ? [.all] : wanted {
                switch option {
                case .min: if let first = numbers.min() { items.append(.min(first)) }
                case .max: if let last = numbers.max() { items.append(.max(last)) }
                case .count: items.append(.count(numbers.count))
                case .all: if !numbers.isEmpty { items.append(.all(IMAPNumberRanges.ranges(of: numbers))) }
                case .save, .update, .context: break
                case .partial(let range): items.append(.partial(range, IMAPNumberRanges.ranges(of: Array(range.slice(numbers)))))
                }
            }
            if let highestModSeq { items.append(.modSeq(highestModSeq)) }
            lines.append(.esearch(tag: tag, byUID: byUID, items))
        }
        if options.contains(.update) {
            lines += self.startUpdates(tag, key: key, byUID: byUID, criteria: nil, results: matched.map(\.uid), partial: partial != nil, state: &state)
        }
        return try await self.completed(tag, "SEARCH completed", untagged: lines, expungesAllowed: byUID, state: &state)
    }

    /// The messages of `selection` that `key` matches, in order.
    func matching(_ key: IMAPSearchKey, in selection: IMAPSelection, saved: [UInt32]) async throws
        -> [(sequence: Int, uid: UInt32)]
    {
        let evaluator = IMAPSearch(
            largestSequence: UInt32(selection.exists), largestUID: selection.largestUID, saved: Set(saved),
            recent: selection.recent)
        let needsContent = IMAPSearch.needsContent(key)
        let needsBodyText = IMAPSearch.needsBodyText(key)
        // What the key asks of each message's content, worked out once for every batch.
        let headerNames = IMAPSearch.headerNames(key)
        let prefilter = needsBodyText ? nil : IMAPSearch.HeaderPrefilter(key)
        var matched: [(sequence: Int, uid: UInt32)] = []
        let all = selection.uids
        var index = 0
        // Keys on flags, UIDs and sequence numbers only are answered from the selection when it is
        // current: nothing in the change feed it has not read, no expunge it still holds back.
        if !IMAPSearch.needsListing(key), selection.pendingExpunges.isEmpty, try Self.isCurrent(selection, store: self.store) {
            for (offset, uid) in all.enumerated()
            where evaluator.matches(key, IMAPSearch.Candidate(sequence: offset + 1, uid: uid, flags: selection.flags[offset])) {
                matched.append((offset + 1, uid))
            }
            index = all.count
        }
        while index < all.count {
            // Content is read 1,024 messages at a time, each looked at where it lies (a reader is not
            // held for a whole large mailbox); flags and dates in one read.
            let batch = all[index..<min(index + (needsContent ? 1024 : all.count), all.count)]
            index += batch.count
            guard let first = batch.first, let last = batch.last else { break }
            if needsContent {
                let found = try await self.store.messages(
                    in: selection.mailbox.id, uids: first...last, headerOnly: !needsBodyText,
                    largest: needsBodyText ? self.streamedMessageBytes : .max
                ) { message, content in
                    if let prefilter, !prefilter.mayMatch(content) { return false }
                    guard let sequence = selection.sequenceNumber(of: message.uid) else { return false }
                    return evaluator.matches(
                        key, IMAPSearch.Candidate(
                            sequence: sequence, message: message, content: content, needsBodyText: needsBodyText, headerNames: headerNames))
                }
                var batchMatched = found.matched.compactMap { uid in selection.sequenceNumber(of: uid).map { ($0, uid) } }
                // Large messages' text is read a part at a time, for the words the key looks for.
                for message in found.unread {
                    guard let sequence = selection.sequenceNumber(of: message.uid) else { continue }
                    var large = IMAPLargeMessage(store: self.store, mailbox: selection.mailbox.id, message: message, utf8: false)
                    let candidate: IMAPSearch.Candidate
                    do {
                        let header = Data(try await large.headerSection())
                        let held = try await large.textHolds(IMAPSearch.bodyWords(key), contains: IMAPSearch.contains)
                        candidate = IMAPSearch.Candidate(
                            sequence: sequence, message: message, header: header, bodyWordsHeld: held, headerNames: headerNames)
                    } catch is IMAPLargeMessage.Gone {
                        continue  // expunged meanwhile: not there to match
                    }
                    if evaluator.matches(key, candidate) { batchMatched.append((sequence, message.uid)) }
                }
                matched += batchMatched.sorted { $0.0 < $1.0 }
                continue
            }
            let listed = try await self.store.messagesWithContent(in: selection.mailbox.id, uids: first...last, content: .omitted)
            for message in listed.map(\.message) {
                guard let sequence = selection.sequenceNumber(of: message.uid) else { continue }
                if evaluator.matches(key, IMAPSearch.Candidate(sequence: sequence, message: message, content: nil)) {
                    matched.append((sequence, message.uid))
                }
            }
        }
        return matched
    }

    /// FETCH and UID FETCH (RFC 9051 §6.4.5); the responses are written by `IMAPFetchResponse`.
    func fetch(
        _ tag: String, set: IMAPSequenceSet, attributes: [IMAPFetchAttribute], byUID: Bool, changedSince: UInt64? = nil,
        partial: IMAPPartialRange? = nil, untagged: [IMAPResponse] = [], state: inout State, connection: Connection
    ) async throws -> Next {
        // The selection is changed where it lies in `state` (see `selected`).
        guard let mailbox = state.selected?.mailbox.id, let readOnly = state.selected?.readOnly else {
            return self.send([.status(tag: tag, .bad, nil, "Select a mailbox first")], state)
        }
        // CHANGEDSINCE answers MODSEQ whether asked or not (RFC 7162 §3.1.4.1).
        let items = changedSince != nil && !attributes.contains(.modSeq) ? attributes + [.modSeq] : attributes
        let response = IMAPFetchResponse(items, byUID: byUID, utf8: state.utf8 || state.rev2)
        var uids = self.targets(set, byUID: byUID, state: state)
        // PARTIAL (RFC 9394 §3.2): the messages at those positions of the set, in UID order.
        if let partial { uids = Array(partial.slice(uids)) }
        let content = response.content
        let setsSeen = response.setsSeen(readOnly: readOnly)
        let showsFlags = response.items.contains(.flags)
        let encoder = Self.encoder(state)
        var output = encoder.encode(untagged)
        // In batches of UID ranges, each sent before the next is read, so a FETCH of a whole large
        // mailbox holds one batch at a time, and waits while the client is not reading.
        var index = 0
        while index < uids.count {
            if output.readableBytes > 0 {
                try await connection.outbound.write(.sendPart(output))
                output = ByteBuffer()
            }
            let batch = try await self.fetchBatch(uids[index...], in: mailbox, content: content)
            index += batch.count
            let range = batch[0]...batch[batch.count - 1]
            let listed = try await Self.messagesWithContent(
                in: mailbox, uids: range, content: content, largest: self.streamedMessageBytes, store: self.store)
            output.reserveCapacity(listed.reduce(0) { $0 + ($1.content?.count ?? 0) + 256 })
            let messages = Dictionary(listed.map { ($0.message.uid, $0) }, uniquingKeysWith: { $1 })
            var seen: [UInt32] = []
            // The flags read, for the selection once the batch's \Seen is stored.
            var learnt: [(uid: UInt32, flags: Set<String>)] = []
            for uid in batch {
                guard let (message, content) = messages[uid], let number = state.selected?.sequenceNumber(of: uid) else { continue }
                if let changedSince, message.modSeq <= changedSince { continue }
                var flags = message.flags
                if setsSeen && !flags.contains("\\Seen") {
                    flags.insert("\\Seen")
                    seen.append(uid)
                }
                if showsFlags || seen.last == uid, let lines = state.selected?.announce(flags) {
                    for line in lines { encoder.write(line, into: &output) }
                }
                if response.content == .whole, content == nil {
                    // A large message: answered as it is read, a piece at a time.
                    try await connection.outbound.write(.sendPart(output))
                    output = ByteBuffer()
                    var large = IMAPLargeMessage(store: self.store, mailbox: mailbox, message: message, utf8: response.utf8)
                    if let failure = try await large.fetch(
                        number: number, flags: state.selected?.shown(flags, of: uid) ?? flags, announceFlags: seen.last == uid,
                        response: response, connection: connection)
                    {
                        return self.send([failure.response(tag: tag)], state)
                    }
                    learnt.append((uid, flags))
                    continue
                }
                if let failure = response.write(
                    number: number, message: message, content: content, flags: state.selected?.shown(flags, of: uid) ?? flags,
                    announceFlags: seen.last == uid, into: &output)
                {
                    return self.send([failure.response(tag: tag)], state)
                }
                learnt.append((uid, flags))
            }
            let change = seen.isEmpty ? nil : try await self.store.changeFlags(.add(["\\Seen"]), in: mailbox, uids: seen)
            for (uid, flags) in learnt { state.selected?.setFlags(flags, of: uid) }
            if let change {
                state.selected?.learnOwnChange(change)
                // Setting \Seen gave each message a new modseq: with CONDSTORE on it is told, with the UID, in
                // a FETCH of its own (RFC 7162 §3.2), as the batch's answers were written before it was stored.
                for message in change.messages where state.condstore {
                    guard let number = state.selected?.sequenceNumber(of: message.uid) else { continue }
                    encoder.write(.fetchFlags(number: number, uid: message.uid, flags: nil, modSeq: message.modSeq), into: &output)
                }
            }
        }
        return try await self.completed(tag, "FETCH completed", prefix: consume output, expungesAllowed: byUID, state: &state)
    }

    /// The next UIDs a FETCH reads together: up to 64 messages, and, when content is read, up to
    /// `fetchBatchBytes` of it (beyond the first message), judged from the sizes listed first.
    func fetchBatch(_ uids: ArraySlice<UInt32>, in mailbox: MailboxID, content: ContentExtent) async throws -> [UInt32] {
        let candidates = Array(uids.prefix(64))
        guard content != .omitted, candidates.count > 1, let first = candidates.first, let last = candidates.last else { return candidates }
        let sizes = Dictionary(
            try await Self.messagesWithContent(in: mailbox, uids: first...last, content: .omitted, store: self.store).map {
                ($0.message.uid, $0.message.size)
            }, uniquingKeysWith: { $1 })
        var total: Int64 = 0
        var batch: [UInt32] = []
        for uid in candidates {
            total += sizes[uid] ?? 0
            if !batch.isEmpty, total > Self.fetchBatchBytes { break }
            batch.append(uid)
        }
        return batch
    }

    static let fetchBatchBytes: Int64 = 1 << 20
}
