import Foundation
import IMAPProtocol
import MailStore

/// METADATA (RFC 5464): entries of mailboxes and of the server, kept per account.
extension IMAPSession {
    func getMetadata(
        _ tag: String, mailbox name: IMAPMailboxName?, entries: [String], maxSize: UInt32?, depth: IMAPMetadataDepth,
        account: AccountID, state: inout State
    ) async throws -> Next {
        var mailbox: Mailbox?
        if let name { mailbox = try await self.mailbox(named: name.name, of: account) }
        let stored = try await self.store.metadata(of: account, mailbox: mailbox?.id)
        var found: [(name: String, value: Data?)] = []
        var named = Set<String>()
        // The longest value MAXSIZE left out (RFC 5464 §4.2.1).
        var longest = 0
        for entry in entries {
            let matching = stored.filter { $0.name == entry || Self.isBelow($0.name, entry, depth: depth) }
            // An entry named that is not there is told as NIL (as Dovecot does), unless entries below it are.
            if matching.isEmpty, named.insert(entry).inserted { found.append((entry, nil)) }
            for match in matching where named.insert(match.name).inserted {
                if let maxSize, match.value.count > maxSize {
                    longest = max(longest, match.value.count)
                    continue
                }
                found.append((match.name, match.value))
            }
        }
        var lines: [String] = []
        if !found.isEmpty {
            let utf8 = state.utf8 || state.rev2
            let items = found.map { entry in
                String(decoding: IMAPEncoding.string(entry.name), as: UTF8.self) + " " + (entry.value.map { Self.metadataValue($0, utf8: utf8) } ?? "NIL")
            }
            let shown = String(decoding: IMAPEncoding.mailbox(mailbox?.name ?? "", utf8: state.utf8), as: UTF8.self)
            lines.append("* METADATA \(shown) (" + items.joined(separator: " ") + ")")
        }
        let text = longest > 0 ? "[METADATA LONGENTRIES \(longest)] GETMETADATA completed" : "GETMETADATA completed"
        return try await self.completed(tag, text, untagged: lines, state: &state)
    }

    func setMetadata(_ tag: String, mailbox name: IMAPMailboxName?, values: [IMAPMetadataValue], account: AccountID, state: inout State)
        async throws -> Next
    {
        var mailbox: MailboxID?
        if let name { mailbox = try await self.mailbox(named: name.name, of: account).id }
        // RFC 5464 §4.3: the largest value kept, told with the refusal.
        if values.contains(where: { ($0.value?.count ?? 0) > MailStore.maximumMetadataValueBytes }) {
            return .send(Array("\(tag) NO [METADATA MAXSIZE \(MailStore.maximumMetadataValueBytes)] Value too large\r\n".utf8))
        }
        let changes = values.map { (name: $0.entry, value: $0.value.map { Data($0) }) }
        if let limit = try await self.refusedForTooMany({ () async throws(MailStoreError) in
            try await self.store.setMetadata(changes, of: account, mailbox: mailbox)
        }) {
            return .send(Array("\(tag) NO [METADATA TOOMANY] At most \(limit) entries here\r\n".utf8))
        }
        return try await self.completed(tag, "SETMETADATA completed", state: &state)
    }

    /// Runs `change`; the limit when the store refused it for too many entries (other errors are thrown).
    private func refusedForTooMany(_ change: () async throws(MailStoreError) -> Void) async throws(MailStoreError) -> Int? {
        do {
            try await change()
            return nil
        } catch .tooManyMetadataEntries(let limit) {
            return limit
        } catch {
            throw error
        }
    }

    /// Whether `name` lies below `entry` within `depth` (RFC 5464 §4.2.2).
    static func isBelow(_ name: String, _ entry: String, depth: IMAPMetadataDepth) -> Bool {
        guard depth != .zero, name.hasPrefix(entry + "/") else { return false }
        return depth == .infinity || !name.dropFirst(entry.count + 1).contains("/")
    }

    /// A value as a string, or as a literal8 when it holds NUL (RFC 5464 §5).
    static func metadataValue(_ value: Data, utf8: Bool) -> String {
        let bytes = Array(value)
        return String(decoding: bytes.contains(0) ? IMAPEncoding.binaryLiteral(bytes) : IMAPEncoding.string(bytes, utf8: utf8), as: UTF8.self)
    }
}
