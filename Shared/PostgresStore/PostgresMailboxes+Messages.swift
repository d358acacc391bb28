import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO

/// Messages: appending, listing, reading, flags, expunge, copy and move.
extension PostgresMailboxes {
    // MARK: Messages

    func appendMessage(_ content: Data, to mailbox: MailboxID, flags: Set<String>, internalDate: Date)
        async throws(MailStoreError) -> StoredMessage
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            let blob = try await Self.insertContent(connection, content, now: internalDate, logger)
            let stored = try await Self.insertMailboxMessage(
                connection, mailboxID: mailbox.rawValue, blobID: blob, headerPrefix: Data(), size: Int64(content.count),
                flags: flags, internalDate: internalDate, logger)
            try await Self.requireWithinQuota(connection, mailboxID: mailbox.rawValue, logger)
            return stored
        }
    }

    func messages(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [StoredMessage] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                """
                SELECT \(unescaped: Self.messageColumns()) FROM mailbox_message
                WHERE mailbox_id = \(mailbox.rawValue) AND uid BETWEEN \(Int64(uids.lowerBound)) AND \(Int64(uids.upperBound))
                ORDER BY uid
                """, logger
            ).map(Self.storedMessage(from:))
        }
    }

    func messageFlags(in mailbox: MailboxID) async throws(MailStoreError) -> [(uid: UInt32, flags: Set<String>)] {
        let logger = self.logger
        return try await self.access.read { connection in
            var result: [(uid: UInt32, flags: Set<String>)] = []
            // Neighbouring messages mostly have the same flags: they share one set.
            var lastText = ""
            var lastFlags: Set<String> = []
            for row in try await connection.rows(
                "SELECT uid, flags FROM mailbox_message WHERE mailbox_id = \(mailbox.rawValue) ORDER BY uid", logger)
            {
                let (uid, text) = try row.decode((Int64, String).self)
                if text != lastText {
                    lastText = text
                    lastFlags = MailStore.flagSet(text)
                }
                result.append((UInt32(clamping: uid), lastFlags))
            }
            return result
        }
    }

    func sortListing(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [SortListing] {
        let logger = self.logger
        return try await self.access.read { connection in
            // The header is read only where the keys are missing or of another version.
            try await connection.rows(
                """
                SELECT m.uid, m.message_blob_id, floor(extract(epoch FROM m.internal_date))::bigint, m.size, h.sort_keys,
                    CASE WHEN left(h.sort_keys, 2) = \(MessageSortKeys.encodingPrefix) THEN NULL ELSE h.header END
                FROM mailbox_message m JOIN message_header h ON h.message_blob_id = m.message_blob_id
                WHERE m.mailbox_id = \(mailbox.rawValue) AND m.uid BETWEEN \(Int64(uids.lowerBound)) AND \(Int64(uids.upperBound))
                ORDER BY m.uid
                """, logger
            ).map { row in
                let (uid, blob, arrival, size, keys, header) = try row.decode((Int64, Int64, Int64, Int64, String?, Data?).self)
                return SortListing(
                    uid: UInt32(clamping: uid), contentID: blob, arrival: arrival, size: size,
                    keys: header == nil ? keys.flatMap(MessageSortKeys.Encoded.init) : nil, header: header)
            }
        }
    }

    func saveSortKeys(_ keys: [(contentID: Int64, keys: MessageSortKeys.Encoded)]) async throws(MailStoreError) {
        let logger = self.logger
        let ids = keys.map(\.contentID)
        let texts = keys.map(\.keys.text)
        try await self.access.transaction { connection in
            try await connection.query(
                """
                UPDATE message_header SET sort_keys = k.keys
                FROM unnest(\(ids)::bigint[], \(texts)::text[]) AS k(blob, keys) WHERE message_blob_id = k.blob
                """, logger: logger)
        }
    }

    func messagesWithContent(in mailbox: MailboxID, uids: ClosedRange<UInt32>, content: ContentExtent, largest: Int64)
        async throws(MailStoreError) -> [(message: StoredMessage, content: Data?)]
    {
        if content == .omitted {
            return try await self.messages(in: mailbox, uids: uids).map { ($0, nil) }
        }
        let logger = self.logger
        return try await self.access.read { connection in
            var result: [(message: StoredMessage, content: Data?)] = []
            for row in try await Self.listing(connection, mailbox, uids, header: content == .header, largest: largest, logger) {
                let (message, prefix, stored, blob, layout) = try Self.listed(row)
                guard let stored, !(layout == "chunks" && message.size > largest) else {
                    // Over `largest`: left unread, to be read a piece at a time.
                    result.append((message, nil))
                    continue
                }
                let whole = try await Self.storedContent(connection, blobID: blob, layout: layout, inline: stored, logger)
                result.append((message, prefix.isEmpty ? whole : prefix + whole))
            }
            return result
        }
    }

    func messages(
        in mailbox: MailboxID, uids: ClosedRange<UInt32>, headerOnly: Bool, largest: Int64,
        whoseContent matches: @escaping @Sendable (StoredMessage, Data) -> Bool
    ) async throws(MailStoreError) -> (matched: [UInt32], unread: [StoredMessage]) {
        let logger = self.logger
        return try await self.access.read { connection in
            var matched: [UInt32] = []
            var unread: [StoredMessage] = []
            for row in try await Self.listing(connection, mailbox, uids, header: headerOnly, largest: largest, logger) {
                let (message, prefix, stored, blob, layout) = try Self.listed(row)
                if !headerOnly, message.size > largest {
                    unread.append(message)
                    continue
                }
                let whole = try await Self.storedContent(connection, blobID: blob, layout: layout, inline: stored ?? Data(), logger)
                if matches(message, prefix.isEmpty ? whole : prefix + whole) { matched.append(message.uid) }
            }
            return (matched, unread)
        }
    }

    func messageContents(in mailbox: MailboxID, uids: ClosedRange<UInt32>) async throws(MailStoreError) -> [UInt32: Data] {
        let logger = self.logger
        return try await self.access.read { connection in
            var contents: [UInt32: Data] = [:]
            for row in try await Self.listing(connection, mailbox, uids, header: false, largest: .max, logger) {
                let (message, prefix, stored, blob, layout) = try Self.listed(row)
                let whole = try await Self.storedContent(connection, blobID: blob, layout: layout, inline: stored ?? Data(), logger)
                contents[message.uid] = prefix + whole
            }
            return contents
        }
    }

    /// Only when a flag changes does a message get a new modseq; all changed messages of one call share
    /// one. Committed without waiting for the disk, as the SQLite backend does.
    func changeFlags(_ update: FlagUpdate, in mailbox: MailboxID, uids: [UInt32], unchangedSince: UInt64?) async throws(MailStoreError)
        -> FlagChange
    {
        let logger = self.logger
        return try await self.access.transaction(durable: false) { connection in
            guard let row = try await connection.rows(
                "SELECT highest_mod_seq FROM mailbox WHERE id = \(mailbox.rawValue) FOR UPDATE", logger
            ).first else { throw MailStoreError.unknownMailbox(String(mailbox.rawValue)) }
            let before = try row.decode(Int64.self)
            var current: [UInt32: StoredMessage] = [:]
            for row in try await connection.rows(
                """
                SELECT \(unescaped: Self.messageColumns()) FROM mailbox_message
                WHERE mailbox_id = \(mailbox.rawValue) AND uid = ANY(\(uids.map(Int64.init)))
                """, logger)
            {
                let message = try Self.storedMessage(from: row)
                current[message.uid] = message
            }
            var changedUIDs: [Int64] = []
            var changedFlags: [String] = []
            var next: [UInt32: Set<String>] = [:]
            // The mailbox row is locked: no other change can come between this look and the update.
            var modified: Set<UInt32> = []
            if let unchangedSince {
                for (uid, message) in current where message.modSeq > unchangedSince { modified.insert(uid) }
            }
            for (uid, message) in current where !modified.contains(uid) {
                let flags: Set<String>
                switch update {
                case .replace(let replacement): flags = replacement
                case .add(let added): flags = message.flags.union(added)
                case .remove(let removed): flags = message.flags.subtracting(removed)
                }
                let text = MailStore.flagString(flags)
                guard text != MailStore.flagString(message.flags) else { continue }
                changedUIDs.append(Int64(uid))
                changedFlags.append(text)
                next[uid] = MailStore.flagSet(text)
            }
            var after = before
            if !changedUIDs.isEmpty {
                after = try await Self.bumpModSeq(connection, mailboxID: mailbox.rawValue, logger)
                try await connection.query(
                    """
                    UPDATE mailbox_message m SET flags = c.flags, mod_seq = \(after)
                    FROM unnest(\(changedUIDs)::bigint[], \(changedFlags)::text[]) AS c(uid, flags)
                    WHERE m.mailbox_id = \(mailbox.rawValue) AND m.uid = c.uid
                    """, logger: logger)
                try await Self.recordChanges(
                    connection, mailboxID: mailbox.rawValue, modSeq: after, uids: changedUIDs.sorted(), kind: .flags, logger)
            }
            // In the order asked for, as they are now.
            var seen = Set<UInt32>()
            let messages = uids.compactMap { uid -> StoredMessage? in
                guard seen.insert(uid).inserted, let message = current[uid], !modified.contains(uid) else { return nil }
                guard let flags = next[uid] else { return message }
                return StoredMessage(
                    uid: uid, size: message.size, internalDate: message.internalDate, flags: flags, modSeq: UInt64(after),
                    contentID: message.contentID, savedDate: message.savedDate)
            }
            return FlagChange(
                messages: messages, modSeqBefore: UInt64(before), modSeqAfter: UInt64(after),
                modified: uids.filter { modified.contains($0) })
        }
    }

    func expunge(uids: [UInt32], in mailbox: MailboxID) async throws(MailStoreError) -> [UInt32] {
        let logger = self.logger
        return try await self.access.transaction { connection in
            guard try await !connection.rows("SELECT 1 FROM mailbox WHERE id = \(mailbox.rawValue) FOR UPDATE", logger).isEmpty
            else { return [] }
            return try await Self.expungeMessages(connection, uids: uids, mailboxID: mailbox.rawValue, logger)
        }
    }

    func copyMessages(uids: [UInt32], from source: MailboxID, to target: MailboxID, move: Bool)
        async throws(MailStoreError) -> [(source: UInt32, copy: UInt32)]
    {
        let logger = self.logger
        return try await self.access.transaction { connection in
            try await connection.query(
                "SELECT id FROM mailbox WHERE id = ANY(\([source.rawValue, target.rawValue])) ORDER BY id FOR UPDATE", logger: logger)
            let pairs = try await Self.copyMessages(connection, uids: uids, from: source.rawValue, to: target.rawValue, logger)
            if move {
                // Within one account: what the copies add, the expunge takes away.
                _ = try await Self.expungeMessages(connection, uids: pairs.map(\.source), mailboxID: source.rawValue, logger)
            } else if !pairs.isEmpty {
                try await Self.requireWithinQuota(connection, mailboxID: target.rawValue, logger)
            }
            return pairs
        }
    }

    func storedContents() async throws(MailStoreError) -> (count: Int, bytes: Int64) {
        let logger = self.logger
        return try await self.access.read { connection in
            guard let row = try await connection.rows("SELECT count(*), coalesce(sum(size), 0)::bigint FROM message_blob", logger).first
            else { return (0, 0) }
            let (count, bytes) = try row.decode((Int64, Int64).self)
            return (Int(count), bytes)
        }
    }
}
