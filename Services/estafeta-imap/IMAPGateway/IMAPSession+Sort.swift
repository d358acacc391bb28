import Foundation
import IMAPProtocol
import MailFormat
import MailStore

/// SORT (RFC 5256 §3, with RFC 5957's DISPLAYFROM and DISPLAYTO): the messages a search key matches,
/// ordered by their sort keys, ties by sequence number.
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
        _ tag: String, criteria: [IMAPSortCriterion], charset: String, key: IMAPSearchKey, byUID: Bool, state: inout State
    ) async throws -> Next {
        // RFC 5256 §3: an unknown charset is NO [BADCHARSET].
        guard charset == "UTF-8" || charset == "US-ASCII" else {
            return .send(Array("\(tag) NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n".utf8))
        }
        guard let selection = state.selected else { return .send(Array("\(tag) BAD Select a mailbox first\r\n".utf8)) }
        let matched = try await self.matching(key, in: selection, saved: state.savedSearch)
        let wantsHeader = criteria.contains { ![.arrival, .size].contains($0.key) }
        var entries: [SortEntry] = []
        entries.reserveCapacity(matched.count)
        let sequences = Dictionary(matched.map { ($0.uid, $0.sequence) }, uniquingKeysWith: { first, _ in first })
        var index = 0
        // A thousand messages' header sections at a time, reduced to their sort values.
        while index < matched.count {
            let batch = matched[index..<min(index + 1024, matched.count)].map(\.uid)
            index += batch.count
            guard let first = batch.min(), let last = batch.max() else { break }
            let listed = try await Self.messagesWithContent(
                in: selection.mailbox.id, uids: first...last, content: wantsHeader ? .header : .omitted, store: self.store)
            for (message, content) in listed {
                guard let sequence = sequences[message.uid] else { continue }
                let header = content.map { MessageHeader(parsing: $0) }
                entries.append(
                    SortEntry(sequence: sequence, uid: message.uid, values: criteria.map { Self.sortValue($0.key, message, header) }))
            }
        }
        entries.sort { a, b in
            for (position, criterion) in criteria.enumerated() where a.values[position] != b.values[position] {
                return criterion.reverse ? a.values[position] > b.values[position] : a.values[position] < b.values[position]
            }
            return a.sequence < b.sequence
        }
        let line = "* SORT" + entries.map { " \(byUID ? $0.uid : UInt32($0.sequence))" }.joined()
        return try await self.completed(tag, "SORT completed", untagged: [line], expungesAllowed: byUID, state: &state)
    }

    /// One sort key of one message (RFC 5256 §3): dates as seconds, sizes as octets, addresses by their
    /// mailbox part, subjects by their base subject, text compared with ASCII letters folded.
    static func sortValue(_ key: IMAPSortCriterion.Key, _ message: StoredMessage, _ header: MessageHeader?) -> SortValue {
        func firstAddress(_ field: String) -> AddressList.Address? {
            header?.values(field).first.flatMap { AddressList(parsing: $0).addresses.first }
        }
        switch key {
        case .arrival: return .number(Int64(message.internalDate.timeIntervalSince1970.rounded(.down)))
        case .size: return .number(message.size)
        case .date:
            // The sent date, in UTC; the arrival when there is none that can be read.
            let sent = header?.values("Date").first.flatMap(MessageDate.parse) ?? message.internalDate
            return .number(Int64(sent.timeIntervalSince1970.rounded(.down)))
        case .subject: return .text(BaseSubject.of(header?.values("Subject").first ?? ""))
        case .from, .to, .cc:
            let field = key == .from ? "From" : key == .to ? "To" : "Cc"
            return .text(firstAddress(field)?.localPart.uppercased() ?? "")
        case .displayFrom, .displayTo:
            // RFC 5957 §3: the display name, or the address when there is none.
            guard let address = firstAddress(key == .displayFrom ? "From" : "To") else { return .text("") }
            let display = address.displayName.map(EncodedWords.decode) ?? address.address
            return .text(display.uppercased())
        }
    }
}
