import Foundation
import IMAPProtocol
import Logging
import MailFormat
import MailStore

/// SORT (RFC 5256 §3, with RFC 5957's DISPLAYFROM and DISPLAYTO) and THREAD (§4): the messages a
/// search key matches, ordered by their sort keys (ties by sequence number), or in threads.
extension IMAPSession {
    /// A message's values for the criteria, worked out once per message.
    struct SortEntry {
        let sequence: Int
        let uid: UInt32
        let values: [SortValue]
    }

    enum SortValue: Comparable {
        case number(Int64)
        case text(String)
    }

    func sort(
        _ tag: String, criteria: [IMAPSortCriterion], charset: String, key: IMAPSearchKey, byUID: Bool,
        returning: [IMAPSearchReturn]? = nil, state: inout State
    ) async throws -> Next {
        // RFC 5256 §3: an unknown charset is NO [BADCHARSET].
        guard charset == "UTF-8" || charset == "US-ASCII" else {
            return self.no(tag, .badCharset(["UTF-8", "US-ASCII"]), "Unsupported charset", state)
        }
        guard let selection = state.selected else { return self.send([.status(tag: tag, .bad, nil, "Select a mailbox first")], state) }
        if returning?.contains(.update) == true, selection.updatingSearches.contains(where: { $0.tag == tag }) {
            return self.bad(tag, "An updating search already has this tag", state: &state)
        }
        let entries = try await self.sorted(key, by: criteria, in: selection, saved: state.savedSearch)
        let numbers = entries.map { byUID ? $0.uid : UInt32($0.sequence) }
        guard let returning else {
            return try await self.completed(tag, "SORT completed", untagged: [.sort(numbers)], expungesAllowed: byUID, state: &state)
        }
        // ESORT (RFC 5267 §3): MIN and MAX are the first and last in sort order, ALL keeps that order
        // (ranges only for ascending runs); SAVE keeps the messages for `$` as SEARCH does.
        let partial = returning.partialRange
        if returning.contains(.save) { state.savedSearch = partial.map { Array($0.slice(entries)) }?.map(\.uid) ?? entries.map(\.uid) }
        var items: [IMAPSearchResultItem] = []
        let resultOptions = returning.filter { $0 != .save && $0 != .update && $0 != .context }
        for option in resultOptions.isEmpty ? [.all] : resultOptions {
            switch option {
            case .min: if let first = numbers.first { items.append(.min(first)) }
            case .max: if let last = numbers.last { items.append(.max(last)) }
            case .count: items.append(.count(numbers.count))
            case .all: if !numbers.isEmpty { items.append(.all(IMAPNumberRanges.runs(of: numbers))) }
            case .save, .update, .context: break
            // In sort order, as ALL.
            case .partial(let range): items.append(.partial(range, IMAPNumberRanges.runs(of: Array(range.slice(numbers)))))
            }
        }
        var lines: [IMAPResponse] = returning == [.save] ? [] : [.esearch(tag: tag, byUID: byUID, items)]
        if returning.contains(.update) {
            lines += self.startUpdates(tag, key: key, byUID: byUID, criteria: criteria, results: entries.map(\.uid), partial: partial != nil, state: &state)
        }
        return try await self.completed(tag, "SORT completed", untagged: lines, expungesAllowed: byUID, state: &state)
    }

    /// The messages of `selection` that `key` matches, in the order of `criteria` (ties by sequence number).
    func sorted(_ key: IMAPSearchKey, by criteria: [IMAPSortCriterion], in selection: IMAPSelection, saved: [UInt32]) async throws
        -> [SortEntry]
    {
        try await self.eachKept(key, in: selection, saved: saved) { sequence, message, keys in
            SortEntry(sequence: sequence, uid: message.uid, values: criteria.map { Self.sortValue($0.key, message, keys) })
        }.sorted { a, b in
            for (position, criterion) in criteria.enumerated() where a.values[position] != b.values[position] {
                return criterion.reverse ? a.values[position] > b.values[position] : a.values[position] < b.values[position]
            }
            return a.sequence < b.sequence
        }
    }

    /// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §4), by sequence number or UID.
    func thread(_ tag: String, algorithm: String, charset: String, key: IMAPSearchKey, byUID: Bool, state: inout State) async throws -> Next {
        guard charset == "UTF-8" || charset == "US-ASCII" else {
            return self.no(tag, .badCharset(["UTF-8", "US-ASCII"]), "Unsupported charset", state)
        }
        guard algorithm == "ORDEREDSUBJECT" || algorithm == "REFERENCES" else {
            return self.bad(tag, "Unknown threading algorithm", state: &state)
        }
        guard let selection = state.selected else { return self.send([.status(tag: tag, .bad, nil, "Select a mailbox first")], state) }
        let messages = try await self.eachKept(key, in: selection, saved: state.savedSearch) { sequence, message, encoded in
            let keys = encoded.decoded
            return MessageThreading.Message(
                number: byUID ? message.uid : UInt32(sequence), messageID: keys?.messageID, references: keys?.references ?? [],
                baseSubject: keys?.subject ?? "", isReply: keys?.subjectIsReply ?? false,
                date: Date(timeIntervalSince1970: TimeInterval(keys?.sentAt ?? message.arrival)))
        }
        let threads = algorithm == "REFERENCES" ? MessageThreading.references(messages) : MessageThreading.orderedSubject(messages)
        return try await self.completed(tag, "THREAD completed", untagged: [.thread(threads)], expungesAllowed: byUID, state: &state)
    }

    /// What `make` gives for each message the key matches, from its SORT and THREAD keys as the store
    /// keeps them with its content (`MessageSortKeys`): a content met for the first time has its header
    /// read and its keys worked out and kept, as Dovecot's cache keeps them. Read a few thousand messages
    /// at a time, so that only what is made of them is kept.
    func eachKept<Entry>(
        _ key: IMAPSearchKey, in selection: IMAPSelection, saved: [UInt32], _ make: (Int, SortListing, MessageSortKeys.Encoded) -> Entry
    ) async throws -> [Entry] {
        let matched = try await self.matching(key, in: selection, saved: saved)
        let sequences = Dictionary(matched.map { ($0.uid, $0.sequence) }, uniquingKeysWith: { first, _ in first })
        var entries: [Entry] = []
        entries.reserveCapacity(matched.count)
        var index = 0
        while index < matched.count {
            let batch = matched[index..<min(index + 4096, matched.count)]
            index += batch.count
            guard let first = batch.first?.uid, let last = batch.last?.uid else { break }
            var learnt: [(contentID: Int64, keys: MessageSortKeys.Encoded)] = []
            for message in try await self.store.sortListing(in: selection.mailbox.id, uids: first...last) {
                guard let sequence = sequences[message.uid] else { continue }
                let keys: MessageSortKeys.Encoded
                if let kept = message.keys {
                    keys = kept
                } else {
                    keys = MessageSortKeys(header: MessageHeader(parsing: message.header ?? Data(), only: MessageSortKeys.fields)).kept
                    learnt.append((message.contentID, keys))
                }
                entries.append(make(sequence, message, keys))
            }
            do {
                try await self.store.saveSortKeys(learnt)
            } catch {
                // Only the next command's speed depends on it: the keys are worked out again then.
                self.logger.notice("cannot keep sort keys", metadata: ["error": "\(error)"])
            }
        }
        return entries
    }

    /// One sort key of one message (RFC 5256 §3): dates as seconds, sizes as octets, the rest as its
    /// kept keys have it (`MessageSortKeys`).
    static func sortValue(_ key: IMAPSortCriterion.Key, _ message: SortListing, _ keys: MessageSortKeys.Encoded) -> SortValue {
        switch key {
        case .arrival: .number(message.arrival)
        case .size: .number(message.size)
        // The sent date, in UTC; the arrival when there is none that can be read.
        case .date: .number(keys.sentAt ?? message.arrival)
        case .subject: .text(String(keys.subject))
        case .from: .text(String(keys.from))
        case .to: .text(String(keys.to))
        case .cc: .text(String(keys.cc))
        case .displayFrom: .text(String(keys.displayFrom))
        case .displayTo: .text(String(keys.displayTo))
        }
    }
}
