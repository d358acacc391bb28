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
        var found: [IMAPMetadataEntry] = []
        var named = Set<String>()
        // The longest value MAXSIZE left out (RFC 5464 §4.2.1).
        var longest = 0
        for entry in entries {
            let matching = stored.filter { $0.name == entry || Self.isBelow($0.name, entry, depth: depth) }
            // An entry named that is not there is told as NIL (as Dovecot does), unless entries below it are.
            if matching.isEmpty, named.insert(entry).inserted { found.append(IMAPMetadataEntry(entry, nil)) }
            for match in matching where named.insert(match.name).inserted {
                if let maxSize, match.value.count > maxSize {
                    longest = max(longest, match.value.count)
                    continue
                }
                found.append(IMAPMetadataEntry(match.name, Array(match.value)))
            }
        }
        let lines: [IMAPResponse] = found.isEmpty ? [] : [.metadata(mailbox: mailbox?.name ?? "", found)]
        let code: IMAPResponseCode? = longest > 0 ? .metadataLongEntries(longest) : nil
        return try await self.completed(tag, "GETMETADATA completed", code: code, untagged: lines, state: &state)
    }

    func setMetadata(_ tag: String, mailbox name: IMAPMailboxName?, values: [IMAPMetadataValue], account: AccountID, state: inout State)
        async throws -> Next
    {
        var mailbox: MailboxID?
        if let name { mailbox = try await self.mailbox(named: name.name, of: account).id }
        // RFC 5464 §4.3: the largest value kept, told with the refusal.
        if values.contains(where: { ($0.value?.count ?? 0) > MailStore.maximumMetadataValueBytes }) {
            return self.no(tag, .metadataMaxSize(MailStore.maximumMetadataValueBytes), "Value too large", state)
        }
        let changes = values.map { (name: $0.entry, value: $0.value.map { Data($0) }) }
        if let limit = try await self.refusedForTooMany({ () async throws(MailStoreError) in
            try await self.store.setMetadata(changes, of: account, mailbox: mailbox)
        }) {
            return self.no(tag, .metadataTooMany, "At most \(limit) entries here", state)
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
}
