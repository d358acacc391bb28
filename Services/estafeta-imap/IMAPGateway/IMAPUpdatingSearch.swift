import IMAPProtocol

/// A SEARCH or SORT whose client asked to be told as its results change (RFC 5267 §4: `RETURN
/// (UPDATE)`), until CANCELUPDATE or the mailbox is closed: it is kept with the selection, so that
/// SELECT, EXAMINE, CLOSE and UNSELECT end it.
struct IMAPUpdatingSearch: Sendable {
    let tag: String
    let key: IMAPSearchKey
    let byUID: Bool
    /// SORT's criteria; nil for SEARCH, whose results are in mailbox order.
    let criteria: [IMAPSortCriterion]?
    /// The results as the client knows them, as UIDs: in sort order for SORT, ascending for SEARCH.
    private(set) var results: [UInt32]
    /// The selection's modseq when `results` were worked out: nothing to look at again while it holds.
    private(set) var modSeq: UInt64

    /// Each one is searched again whenever the mailbox changes, so a session keeps only a few; past
    /// them a search is answered without updates (`NO [NOUPDATE]`, RFC 5267 §4.3.1).
    static let maximumPerSession = 5

    init(tag: String, key: IMAPSearchKey, byUID: Bool, criteria: [IMAPSortCriterion]?, results: [UInt32], modSeq: UInt64) {
        self.tag = tag
        self.key = key
        self.byUID = byUID
        self.criteria = criteria
        self.results = results
        self.modSeq = modSeq
    }

    /// REMOVEFROM for the results among `removed` (RFC 5267 §4.3.4), numbered by `number` as the client
    /// numbers them when it reads this, and forgets them; nil when none of them was a result.
    mutating func removal(of removed: Set<UInt32>, number: (UInt32) -> Int?) -> IMAPResponse? {
        let leaving = self.results.filter { removed.contains($0) }
        guard !leaving.isEmpty else { return nil }
        self.results.removeAll { removed.contains($0) }
        let numbers = self.byUID ? leaving : leaving.compactMap { number($0).map { UInt32($0) } }
        guard !numbers.isEmpty else { return nil }
        return .esearch(
            tag: self.tag, byUID: self.byUID, [.removeFrom([IMAPContextUpdate(position: 0, numbers: IMAPNumberRanges.ranges(of: numbers.sorted()))])])
    }

    /// The updates that take the client from the results it knows to `current` (worked out at the
    /// selection's `modSeq`): REMOVEFROM, then ADDTO (RFC 5267 §4.3.3), at the place each new result
    /// takes in sort order for SORT. A message's sort keys never change, so the results kept stay in
    /// their order and the additions, in ascending positions, rebuild `current` exactly.
    mutating func update(to current: [UInt32], modSeq: UInt64, number: (UInt32) -> Int?) -> [IMAPResponse] {
        var lines: [IMAPResponse] = []
        if let removal = self.removal(of: Set(self.results).subtracting(current), number: number) { lines.append(removal) }
        let known = Set(self.results)
        var additions: [IMAPContextUpdate] = []
        if self.criteria == nil {
            let added = current.filter { !known.contains($0) }.compactMap { self.byUID ? $0 : number($0).map { UInt32($0) } }
            if !added.isEmpty { additions.append(IMAPContextUpdate(position: 0, numbers: IMAPNumberRanges.ranges(of: added.sorted()))) }
        } else {
            for (index, uid) in current.enumerated() where !known.contains(uid) {
                guard let added = self.byUID ? uid : number(uid).map({ UInt32($0) }) else { continue }
                additions.append(IMAPContextUpdate(position: index + 1, numbers: [added...added]))
            }
        }
        if !additions.isEmpty { lines.append(.esearch(tag: self.tag, byUID: self.byUID, [.addTo(additions)])) }
        self.results = current
        self.modSeq = modSeq
        return lines
    }
}
