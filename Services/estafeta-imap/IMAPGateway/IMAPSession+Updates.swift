import IMAPProtocol
import MailStore

/// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): searches that the client is told of as their results
/// change, whoever changed the mailbox (this session, another one, another process, a delivery).
extension IMAPSession {
    /// Keeps a search asked with `RETURN (UPDATE)`, or says why not: the untagged `NO [NOUPDATE]`
    /// (RFC 5267 §4.3.1) when the session has as many as it keeps, or for a PARTIAL window, whose
    /// positions this server does not follow.
    func startUpdates(
        _ tag: String, key: IMAPSearchKey, byUID: Bool, criteria: [IMAPSortCriterion]?, results: [UInt32], partial: Bool,
        state: inout State
    ) -> [IMAPResponse] {
        guard let selection = state.selected else { return [] }
        guard !partial else { return [.status(tag: nil, .no, .noUpdate(tag: tag), "No updates for a PARTIAL window")] }
        guard selection.updatingSearches.count < IMAPUpdatingSearch.maximumPerSession else {
            return [.status(tag: nil, .no, .noUpdate(tag: tag), "Too many updating searches, CANCELUPDATE one first")]
        }
        state.selected?.updatingSearches.append(
            IMAPUpdatingSearch(tag: tag, key: key, byUID: byUID, criteria: criteria, results: results, modSeq: selection.modSeq))
        return []
    }

    /// The ADDTO and REMOVEFROM updates of the selection's updating searches, each searched again when
    /// the mailbox changed since it last was.
    func updates(of selection: inout IMAPSelection, saved: [UInt32]) async throws -> [IMAPResponse] {
        var lines: [IMAPResponse] = []
        for index in selection.updatingSearches.indices where selection.updatingSearches[index].modSeq != selection.modSeq {
            var search = selection.updatingSearches[index]
            let current: [UInt32]
            if let criteria = search.criteria {
                current = try await self.sorted(search.key, by: criteria, in: selection, saved: saved).map(\.uid)
            } else {
                current = try await self.matching(search.key, in: selection, saved: saved).map(\.uid)
            }
            lines += search.update(to: current, modSeq: selection.modSeq) { selection.sequenceNumber(of: $0) }
            selection.updatingSearches[index] = search
        }
        return lines
    }

    /// CANCELUPDATE (RFC 5267 §4.4): every tag must name an updating search of the selected mailbox.
    func cancelUpdate(_ tag: String, tags: [String], state: inout State) async throws -> Next {
        let known = Set(state.selected?.updatingSearches.map(\.tag) ?? [])
        guard tags.allSatisfy({ known.contains($0) }) else { return self.no(tag, nil, "No updating search has that tag", state) }
        state.selected?.updatingSearches.removeAll { tags.contains($0.tag) }
        return try await self.completed(tag, "CANCELUPDATE completed", state: &state)
    }
}
