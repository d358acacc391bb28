import Foundation
import IMAPProtocol
import MailFormat
import MailStore
import NIOCore

/// Opening a mailbox: SELECT and EXAMINE, and CREATE of new ones.
extension IMAPSession {
    /// SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3), with CONDSTORE and QRESYNC's parameters (RFC 7162
    /// §3.1.8, §3.2.5): the selection made, what the client is told of the mailbox, and what it missed.
    func select(
        _ tag: String, _ name: IMAPMailboxName, readOnly: Bool, condstore: Bool, qresync: IMAPQResync?, account: AccountID,
        state: inout State
    ) async throws -> Next {
        // RFC 7162 §3.2.5: QRESYNC parameters only once the client has enabled it.
        if qresync != nil && !state.qresync { return self.bad(tag, "ENABLE QRESYNC first", state: &state) }
        if condstore { state.condstore = true }
        // With QRESYNC the end of the previous selection is told (RFC 7162 §3.2.11).
        let closed: [IMAPResponse] = state.qresync && state.selected != nil ? [.status(tag: nil, .ok, .closed, "Previous mailbox closed")] : []
        state.selected = nil
        state.savedSearch = []
        let mailbox = try await self.mailbox(named: name.name, of: account)
        let messages = try await self.store.messageFlags(in: mailbox.id)
        var selection = IMAPSelection(
            mailbox: mailbox, readOnly: readOnly, messages: messages, modSeq: mailbox.highestModSeq, tracksRecent: !state.rev2,
            reportsModSeq: state.condstore)
        selection.reportsVanished = state.qresync
        if selection.tracksRecent {
            let floor = try await Self.recentFloor(of: selection, lastRead: mailbox.recentFloor, store: self.store)
            selection.markRecent(from: floor, among: selection.uids)
        }
        state.selected = selection
        let unseen = messages.firstIndex { !$0.flags.contains("\\Seen") }
        var lines = closed + [.exists(selection.exists)] + selection.flagsAnnouncement + [
            .status(tag: nil, .ok, .uidValidity(mailbox.uidValidity), "UIDs valid"),
            .status(tag: nil, .ok, .uidNext(mailbox.uidNext), "Predicted next UID"),
            .status(tag: nil, .ok, .mailboxID(IMAPObjectID.mailbox(mailbox.id)), "Mailbox id"),
        ]
        if state.condstore { lines.append(.status(tag: nil, .ok, .highestModSeq(mailbox.highestModSeq), "Highest")) }
        // QRESYNC: what the client missed since it last knew the mailbox, when its UIDVALIDITY still holds.
        if let qresync, qresync.uidValidity == mailbox.uidValidity, var resynced = state.selected.take() {
            defer { state.selected = resynced }
            let known = qresync.knownUIDs?.resolved(largest: max(mailbox.uidNext, 2) - 1)
            lines += try await self.vanishedEarlier(since: qresync.modSeq, among: known, in: resynced)
            lines += try await self.changedSince(qresync.modSeq, in: &resynced)
        }
        if state.rev2 {
            lines.append(.list(attributes: [], mailbox: mailbox.name))
        } else {
            lines.insert(.recent(selection.recent.count), at: closed.count + 1)
            if let unseen { lines.append(.status(tag: nil, .ok, .unseen(unseen + 1), "First unseen")) }
        }
        return self.reply(tag, readOnly ? "EXAMINE completed" : "SELECT completed", lines, state, code: readOnly ? .readOnly : .readWrite)
    }

    /// CREATE (RFC 9051 §6.3.4) with CREATE-SPECIAL-USE (RFC 6154 §3).
    func create(_ tag: String, _ name: IMAPMailboxName, use: [IMAPFlag], account: AccountID, state: inout State) async throws -> Next {
        // A trailing delimiter names the same mailbox (RFC 9051 §6.3.4).
        let trimmed = name.name.hasSuffix("/") ? String(name.name.dropLast()) : name.name
        guard trimmed.uppercased() != "INBOX" else { return self.no(tag, .alreadyExists, "INBOX always exists", state) }
        // CREATE-SPECIAL-USE (RFC 6154 §3): a mailbox holds one of the special uses that are real
        // folders; \All and \Flagged would be views of other mailboxes, which the store has not.
        let specialUse = use.first.flatMap { SpecialUse(rawValue: $0.text) }
        if !use.isEmpty {
            guard use.count == 1, let specialUse, ![.all, .flagged].contains(specialUse) else {
                return self.no(tag, .useAttr, "Only one of \\Drafts, \\Sent, \\Trash, \\Junk or \\Archive, once", state)
            }
        }
        // Superior names are created as needed (RFC 9051 §6.3.4), so the hierarchy has no gaps.
        let existing = Set(try await self.store.mailboxes(of: account).map(\.name))
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        for depth in 1..<max(parts.count, 1) {
            let parent = parts[0..<depth].joined(separator: "/")
            if !existing.contains(parent), parent != "INBOX" { try await self.store.createMailbox(named: parent, of: account) }
        }
        let created = try await self.store.createMailbox(named: trimmed, of: account, specialUse: specialUse)
        return try await self.completed(tag, "CREATE completed", code: .mailboxID(IMAPObjectID.mailbox(created.id)), state: &state)
    }
}
