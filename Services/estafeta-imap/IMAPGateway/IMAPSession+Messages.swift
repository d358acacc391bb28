import Foundation
import IMAPProtocol
import MailFormat
import MailStore
import NIOCore

/// Changing the selected mailbox's messages: their flags, and copying or moving them elsewhere.
extension IMAPSession {
    /// STORE and UID STORE (RFC 9051 §6.4.6), with UNCHANGEDSINCE (RFC 7162 §3.1.3).
    func storeFlags(
        _ tag: String, _ set: IMAPSequenceSet, _ action: IMAPStoreAction, byUID: Bool, in mailbox: MailboxID, state: inout State
    ) async throws -> Next {
        let uids = self.targets(set, byUID: byUID, state: state)
        let flags = Set(action.flags.filter { $0 != .recent }.map(\.text))
        let update: FlagUpdate = switch action.mode {
        case .replace: .replace(flags)
        case .add: .add(flags)
        case .remove: .remove(flags)
        }
        if action.unchangedSince != nil { Self.enableCondstore(&state) }
        let change = try await self.store.changeFlags(update, in: mailbox, uids: uids, unchangedSince: action.unchangedSince)
        var lines: [IMAPResponse] = []
        for message in change.messages {
            state.selected?.setFlags(message.flags, of: message.uid)
            lines += state.selected?.announce(message.flags) ?? []
            guard let number = state.selected?.sequenceNumber(of: message.uid),
                let shown = state.selected?.shown(message.flags, of: message.uid)
            else { continue }
            // With CONDSTORE each message's new modseq is told, even with .SILENT (RFC 7162 §3.1.3).
            if !action.silent || state.condstore {
                lines.append(
                    .fetchFlags(
                        number: number, uid: byUID ? message.uid : nil, flags: action.silent ? nil : shown.sorted(),
                        modSeq: state.condstore ? message.modSeq : nil))
            }
        }
        state.selected?.learnOwnChange(change)
        // The messages changed since UNCHANGEDSINCE, by UID or by sequence number as the command named them.
        let modified = change.modified.compactMap { uid in byUID ? uid : state.selected?.sequenceNumber(of: uid).map(UInt32.init) }
        let (code, text): (IMAPResponseCode?, String) = modified.isEmpty ? (nil, "STORE completed") : (.modified(modified), "Conditional STORE failed")
        return try await self.completed(tag, text, code: code, untagged: lines, expungesAllowed: byUID, state: &state)
    }

    /// COPY and MOVE (RFC 9051 §6.4.7, RFC 6851), by sequence number or UID, with COPYUID (RFC 4315).
    func copy(
        _ tag: String, _ set: IMAPSequenceSet, to name: IMAPMailboxName, byUID: Bool, move isMove: Bool, from mailbox: MailboxID,
        state: inout State
    ) async throws -> Next {
        guard let account = state.account else { return self.bad(tag, "Log in first", state: &state) }
        guard let target = try await self.existingMailbox(name.name, of: account.id) else {
            return self.no(tag, .tryCreate, "No such mailbox", state)
        }
        // A MOVE within the account adds nothing, so it may go on; a COPY adds at least rows.
        if !isMove, self.store.spaceIsLow { throw MailStoreError.storageFull("below the free space minimum") }
        let uids = self.targets(set, byUID: byUID, state: state)
        let pairs = try await self.store.copyMessages(uids: uids, from: mailbox, to: target.id, move: isMove)
        // COPYUID (RFC 4315): source and new UIDs in the same order.
        let copyUID: IMAPResponseCode? =
            pairs.isEmpty ? nil : .copyUID(uidValidity: target.uidValidity, sources: pairs.map(\.source), copies: pairs.map(\.copy))
        guard isMove else { return try await self.completed(tag, "COPY completed", code: copyUID, expungesAllowed: byUID, state: &state) }
        // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs, then the tagged OK.
        var lines: [IMAPResponse] = copyUID.map { [.status(tag: nil, .ok, $0, "Moved")] } ?? []
        lines += state.selected?.expungeLines(pairs.map(\.source)) ?? []
        return try await self.completed(tag, "MOVE completed", untagged: lines, state: &state)
    }
}
