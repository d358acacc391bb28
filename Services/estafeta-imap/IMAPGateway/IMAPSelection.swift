import Foundation
import IMAPProtocol
import MailStore

/// The selected mailbox as this session has told the client about it (RFC 9051 §2.3.1.2): messages by
/// sequence number, their flags, and how far the store's change feed has been read. Pure: the session
/// feeds it what the store says and sends what it returns.
struct IMAPSelection: Sendable {
    let mailbox: Mailbox
    let readOnly: Bool
    private(set) var uids: [UInt32]
    /// The flags of each message, by position (`flags[i]` belongs to `uids[i]`): arrays side by side
    /// rather than a table by UID, whose building and hashing showed in a profile of SELECT.
    private(set) var flags: [Set<String>]
    private(set) var modSeq: UInt64
    /// Expunges seen in the feed but not yet reported: the messages keep their sequence numbers
    /// until a command that may announce EXPUNGE (RFC 9051 §7.5.1).
    private(set) var pendingExpunges: Set<UInt32> = []
    /// The searches told of as their results change (RFC 5267 §4), ended with the selection.
    var updatingSearches: [IMAPUpdatingSearch] = []
    /// The messages \Recent in this session (rev1 only, RFC 3501 §2.3.2): those it was the first to be
    /// told of (`MailStore.claimRecent`), or, read-only, those no session has claimed yet.
    private(set) var recent: Set<UInt32> = []
    /// The mailbox was deleted (by another session or process) since it was selected.
    private(set) var mailboxDeleted = false
    /// The change feed was pruned past what this selection has read (`MailStoreError.changeFeedPruned`):
    /// it can no longer be brought up to date, and the session must end it.
    var lostTrack = false

    /// Why the session must close, as the untagged BYE to send; nil while the selection is good.
    var closingReply: IMAPResponse? {
        if self.mailboxDeleted { return .status(tag: nil, .bye, nil, "The selected mailbox was deleted") }
        if self.lostTrack {
            return .status(tag: nil, .bye, .unavailable, "The mailbox changed too much since it was selected, select it again")
        }
        return nil
    }
    /// Whether this session reports \Recent at all (not after ENABLE IMAP4rev2, RFC 9051 dropped it).
    let tracksRecent: Bool
    /// CONDSTORE is on: FETCH responses of flag changes carry MODSEQ (RFC 7162 §3.2).
    var reportsModSeq: Bool
    /// QRESYNC is on: expunges are told as `VANISHED` UIDs instead of EXPUNGE (RFC 7162 §3.2.10).
    var reportsVanished = false
    /// The keywords the client has been told of in FLAGS, as first spelt. A keyword must be in the
    /// mailbox's FLAGS before any FETCH shows it (RFC 9051 §7.3.5, RFC 3501 §7.2.6): clients keep
    /// the list and some reject or drop a flag outside it.
    private(set) var keywords: [String] = []
    /// `keywords` folded to lower case (flag names compare without case, RFC 9051 §2.3.2).
    private var foldedKeywords: Set<String> = []
    /// Every spelling of a keyword met so far: most flags are found here without folding their case
    /// (a FETCH FLAGS of a large mailbox whose messages all carry `$NotJunk` looks at each).
    private var spellingsSeen: Set<String> = []

    init(
        mailbox: Mailbox, readOnly: Bool, messages: [(uid: UInt32, flags: Set<String>)], modSeq: UInt64,
        tracksRecent: Bool = false, reportsModSeq: Bool = false
    ) {
        self.reportsModSeq = reportsModSeq
        self.mailbox = mailbox
        self.readOnly = readOnly
        self.uids = messages.map(\.uid)
        self.flags = messages.map(\.flags)
        self.modSeq = modSeq
        self.tracksRecent = tracksRecent
        for flags in self.flags { _ = self.learnKeywords(flags) }
        self.keywords.sort()
    }

    static let systemFlags = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]

    /// The untagged FLAGS and PERMANENTFLAGS for the mailbox: the system flags and the keywords told so
    /// far; any new keyword may be stored (`\*`).
    var flagsAnnouncement: [IMAPResponse] {
        [
            .flags(Self.systemFlags + self.keywords),
            .status(tag: nil, .ok, .permanentFlags(Self.systemFlags + self.keywords + ["\\*"]), "Flags permitted"),
        ]
    }

    /// What to send before a response that shows `flags`: FLAGS and PERMANENTFLAGS again when they hold a
    /// keyword the client has not been told of, otherwise nothing.
    mutating func announce(_ flags: Set<String>) -> [IMAPResponse] {
        self.learnKeywords(flags) ? self.flagsAnnouncement : []
    }

    /// Adds the keywords of `flags` not told yet; whether there were any.
    private mutating func learnKeywords(_ flags: Set<String>) -> Bool {
        var learnt = false
        for flag in flags where !flag.hasPrefix("\\") && !self.spellingsSeen.contains(flag) {
            self.spellingsSeen.insert(flag)
            let folded = flag.lowercased()
            if self.foldedKeywords.insert(folded).inserted {
                self.keywords.append(flag)
                learnt = true
            }
        }
        return learnt
    }

    /// Marks `uids` of this selection from UID `floor` up as \Recent (the floor before this session's
    /// claim, or the unclaimed floor when read-only).
    mutating func markRecent(from floor: UInt32, among uids: [UInt32]) {
        guard self.tracksRecent else { return }
        for uid in uids where uid >= floor && self.sequenceNumber(of: uid) != nil { self.recent.insert(uid) }
    }

    /// The flags as this session shows them: with \Recent for its recent messages.
    func shown(_ flags: Set<String>, of uid: UInt32) -> Set<String> {
        self.recent.contains(uid) ? flags.union(["\\Recent"]) : flags
    }

    var exists: Int { self.uids.count }
    var largestUID: UInt32 { self.uids.last ?? 0 }

    func sequenceNumber(of uid: UInt32) -> Int? {
        var low = 0
        var high = self.uids.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if self.uids[middle] == uid { return middle + 1 }
            if self.uids[middle] < uid { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }

    /// The UIDs a command's sequence set names: by sequence number or UID, or `$`, the UIDs of the
    /// last `SEARCH RETURN (SAVE)` (`saved`) still in the mailbox.
    func targets(_ set: IMAPSequenceSet, byUID: Bool, saved: [UInt32]) -> [UInt32] {
        if case .saved = set { return saved.filter { self.sequenceNumber(of: $0) != nil } }
        return self.uids(for: set.resolved(largest: byUID ? max(self.largestUID, 1) : UInt32(self.exists)), byUID: byUID)
    }

    /// The UIDs a sequence set names, by sequence number or by UID, ascending.
    func uids(for ranges: [ClosedRange<UInt32>], byUID: Bool) -> [UInt32] {
        guard !self.uids.isEmpty else { return [] }
        var result: [UInt32] = []
        for range in ranges {
            if byUID {
                guard let start = self.uids.firstIndex(where: { $0 >= range.lowerBound }) else { continue }
                var index = start
                while index < self.uids.count, self.uids[index] <= range.upperBound {
                    result.append(self.uids[index])
                    index += 1
                }
            } else {
                let lower = Int(range.lowerBound)
                let upper = min(Int(range.upperBound), self.uids.count)
                guard lower <= upper else { continue }
                result.append(contentsOf: self.uids[(lower - 1)..<upper])
            }
        }
        return result
    }

    /// Applies flags this session set itself (no FETCH needed unless the client asked).
    mutating func setFlags(_ flags: Set<String>, of uid: UInt32) {
        // Only a real change writes: the session works on a copy of its selection, and a write to the
        // shared array copies all of it (a FETCH of one message copied a 1,000-entry table).
        if let number = self.sequenceNumber(of: uid), self.flags[number - 1] != flags { self.flags[number - 1] = flags }
    }

    /// Takes this session's own flag change (whose messages it has applied with `setFlags`) as read
    /// from the feed when nothing else changed the mailbox before it: the feed would only repeat it.
    mutating func learnOwnChange(_ change: FlagChange) {
        if self.modSeq == change.modSeqBefore { self.modSeq = change.modSeqAfter }
    }

    /// What to tell the client about changes from the feed (`changes`, with the current flags of the
    /// messages they name in `current`): untagged lines, in order.
    mutating func apply(
        changes: [MailboxChange], current: [UInt32: StoredMessage], expungesAllowed: Bool
    ) -> [IMAPResponse] {
        var lines: [IMAPResponse] = []
        var appended: [StoredMessage] = []
        var flagged: Set<UInt32> = []
        for change in changes {
            self.modSeq = max(self.modSeq, change.modSeq)
            switch change.kind {
            case .expunge:
                if change.isMailboxDeletion { self.mailboxDeleted = true }
                if self.sequenceNumber(of: change.uid) != nil { self.pendingExpunges.insert(change.uid) }
            case .append:
                if change.uid > self.largestUID, let message = current[change.uid] { appended.append(message) }
            case .flags:
                flagged.insert(change.uid)
            }
        }
        if expungesAllowed {
            lines += self.expungeLines(self.pendingExpunges.sorted())
        }
        for uid in flagged.sorted() {
            guard let message = current[uid], let number = self.sequenceNumber(of: uid),
                self.flags[number - 1] != message.flags
            else { continue }
            self.flags[number - 1] = message.flags
            lines += self.announce(message.flags)
            lines.append(
                .fetchFlags(
                    number: number, uid: uid, flags: self.shown(message.flags, of: uid).sorted(),
                    modSeq: self.reportsModSeq ? message.modSeq : nil))
        }
        let before = self.uids.count
        for message in appended.sorted(by: { $0.uid < $1.uid }) where message.uid > self.largestUID {
            self.uids.append(message.uid)
            self.flags.append(message.flags)
            lines += self.announce(message.flags)
        }
        if self.uids.count != before {
            lines.append(.exists(self.uids.count))
        }
        return lines
    }

    /// Removes expunged messages from the selection and says so: an EXPUNGE per message, each with the
    /// sequence number it has at that moment (highest first), or one `VANISHED` with their UIDs.
    mutating func expungeLines(_ removed: [UInt32]) -> [IMAPResponse] {
        let present = removed.filter { self.sequenceNumber(of: $0) != nil }
        // Updating searches hear first that the messages left their results, numbered as they are
        // until the EXPUNGEs that follow (RFC 5267 §4.3.4).
        var lines: [IMAPResponse] = []
        if !self.updatingSearches.isEmpty, !present.isEmpty {
            var searches = self.updatingSearches
            let gone = Set(present)
            for index in searches.indices {
                if let line = searches[index].removal(of: gone, number: { self.sequenceNumber(of: $0) }) { lines.append(line) }
            }
            self.updatingSearches = searches
        }
        let numbers = self.remove(removed)
        guard self.reportsVanished else { return lines + numbers.map { .expunge($0) } }
        return present.isEmpty ? lines : lines + [.vanished(earlier: false, IMAPNumberRanges.ranges(of: present))]
    }

    /// Removes messages this session expunged itself; returns the sequence numbers to report, highest
    /// first, so that each is right at the moment it is sent.
    mutating func remove(_ removed: [UInt32]) -> [Int] {
        var numbers: [Int] = []
        for uid in removed.sorted(by: >) {
            if let number = self.sequenceNumber(of: uid) {
                self.uids.remove(at: number - 1)
                self.flags.remove(at: number - 1)
                self.recent.remove(uid)
                self.pendingExpunges.remove(uid)
                numbers.append(number)
            }
        }
        return numbers
    }
}
