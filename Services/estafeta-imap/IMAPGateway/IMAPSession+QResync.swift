import IMAPProtocol
import MailStore

/// QRESYNC (RFC 7162 §3.2): telling a client that knew the mailbox at some modseq what it missed since,
/// expunges by UID (`VANISHED (EARLIER)`) and changes as FETCH with MODSEQ, so that it need not list the
/// whole mailbox again. The change feed holds the expunges back to its horizon; a client that knew the
/// mailbox from before it gets the UIDs it named (or every UID ever handed out) that are gone, which the
/// RFC allows, and every message's state.
extension IMAPSession {
    /// The most change-feed entries read for one resynchronisation; beyond, the whole-mailbox answer.
    static let resyncFeedLimit = 10_000

    /// `* VANISHED (EARLIER) …` for the UIDs among `named` (all when nil) expunged since `modSeq`, or
    /// nothing when there are none.
    func vanishedEarlier(since modSeq: UInt64, among named: [ClosedRange<UInt32>]?, in selection: IMAPSelection)
        async throws(MailStoreError) -> [IMAPResponse]
    {
        // The UIDs handed out: up to UIDNEXT at SELECT, or beyond where messages arrived since.
        let highest = max(selection.mailbox.uidNext > 0 ? selection.mailbox.uidNext - 1 : 0, selection.largestUID)
        guard highest > 0 else { return [] }
        let assigned = 1...highest
        let scope = (named ?? [assigned]).compactMap { $0.clamped(to: assigned).isEmpty ? nil : $0.clamped(to: assigned) }
        var gone: [ClosedRange<UInt32>]
        if let expunged = try await self.expunged(since: modSeq, in: selection.mailbox.id) {
            let present = Set(selection.uids)
            let uids = expunged.filter { uid in !present.contains(uid) && scope.contains { $0.contains(uid) } }
            gone = IMAPNumberRanges.ranges(of: uids)
        } else {
            gone = IMAPNumberRanges.gaps(in: scope, excluding: selection.uids)
        }
        guard !gone.isEmpty else { return [] }
        return [.vanished(earlier: true, gone)]
    }

    /// FETCH (UID FLAGS MODSEQ) of each message changed (or added) since `modSeq`, in sequence order, with
    /// FLAGS announced first for keywords the client has not been told of.
    func changedSince(_ modSeq: UInt64, in selection: inout IMAPSelection) async throws(MailStoreError) -> [IMAPResponse] {
        guard let first = selection.uids.first, let last = selection.uids.last else { return [] }
        let listed = try await Self.messagesWithContent(in: selection.mailbox.id, uids: first...last, content: .omitted, store: self.store)
        var lines: [IMAPResponse] = []
        for message in listed.map(\.message).sorted(by: { $0.uid < $1.uid }) where message.modSeq > modSeq {
            guard let number = selection.sequenceNumber(of: message.uid) else { continue }
            lines += selection.announce(message.flags)
            let flags = selection.shown(message.flags, of: message.uid).sorted()
            lines.append(.fetchFlags(number: number, uid: message.uid, flags: flags, modSeq: message.modSeq))
        }
        return lines
    }

    /// The UIDs expunged since `modSeq` as the change feed has them; nil when it no longer reaches back
    /// that far or holds too many entries for one answer.
    private func expunged(since modSeq: UInt64, in mailbox: MailboxID) async throws(MailStoreError) -> [UInt32]? {
        let changes: [MailboxChange]
        do {
            changes = try await self.store.changes(in: mailbox, since: modSeq, limit: Self.resyncFeedLimit)
        } catch {
            if case .changeFeedPruned = error { return nil }
            throw error
        }
        guard changes.count < Self.resyncFeedLimit else { return nil }
        return changes.filter { $0.kind == .expunge && !$0.isMailboxDeletion }.map(\.uid)
    }
}
