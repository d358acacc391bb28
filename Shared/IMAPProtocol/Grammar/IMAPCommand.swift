import Foundation

/// A tagged client command (RFC 9051 §6).
public struct IMAPCommand: Sendable, Equatable {
    public var tag: String
    public var kind: IMAPCommandKind

    public init(tag: String, kind: IMAPCommandKind) {
        self.tag = tag
        self.kind = kind
    }
}

/// A mailbox name as the client sent it, decoded: `INBOX` in any case is `INBOX` (RFC 9051 §5.1); other
/// names are decoded from modified UTF-7 unless UTF-8 was enabled (RFC 6855), so one mailbox has one name.
public struct IMAPMailboxName: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// False for a name that is not valid modified UTF-7 (RFC 3501 §5.1.3), such as a lone `&`: kept as
    /// sent, so that it names no mailbox, and refused as the name of a new one (it could never be
    /// listed as it was given).
    public let isWellEncoded: Bool

    public init(_ name: String, isWellEncoded: Bool = true) {
        self.name = name.uppercased() == "INBOX" ? "INBOX" : name
        self.isWellEncoded = isWellEncoded
    }

    public var description: String { self.name }
}

/// One number of a sequence set: a number, or `*` (the largest in use).
public enum IMAPSequenceNumber: Sendable, Hashable {
    case number(UInt32)
    case last
}

/// A sequence set (RFC 9051 §9 `sequence-set`): ranges of message numbers or UIDs, or `$` for the saved
/// search result (RFC 5182).
public enum IMAPSequenceSet: Sendable, Hashable {
    case ranges([ClosedRange<IMAPSequenceNumber>])
    case saved

    /// The numbers this set covers when `*` stands for `largest`, ascending, clamped to 1...largest and
    /// de-duplicated. Never materialises more than the numbers that exist.
    public func resolved(largest: UInt32) -> [ClosedRange<UInt32>] {
        guard case .ranges(let ranges) = self, largest > 0 else { return [] }
        let concrete = ranges.compactMap { range -> ClosedRange<UInt32>? in
            let low = range.lowerBound.value(largest: largest)
            let high = range.upperBound.value(largest: largest)
            let lower = min(low, high)
            let upper = min(max(low, high), largest)
            return lower <= upper ? lower...upper : nil
        }.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for range in concrete {
            if let last = merged.last, UInt64(range.lowerBound) <= UInt64(last.upperBound) + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}

extension IMAPSequenceNumber: Comparable {
    public static func < (lhs: IMAPSequenceNumber, rhs: IMAPSequenceNumber) -> Bool {
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)): a < b
        case (.number, .last): true
        case (.last, _): false
        }
    }

    func value(largest: UInt32) -> UInt32 {
        switch self {
        case .number(let number): number
        case .last: largest
        }
    }
}

/// A message flag (RFC 9051 §2.3.2): a system flag, or a keyword.
public enum IMAPFlag: Sendable, Hashable {
    case answered, flagged, deleted, seen, draft
    /// `\Recent` (IMAP4rev1 only; never settable).
    case recent
    /// Another `\`-flag (an extension); kept as sent.
    case extensionFlag(String)
    /// A keyword atom, compared case-insensitively.
    case keyword(String)

    public init(_ text: String) {
        switch text.lowercased() {
        case "\\answered": self = .answered
        case "\\flagged": self = .flagged
        case "\\deleted": self = .deleted
        case "\\seen": self = .seen
        case "\\draft": self = .draft
        case "\\recent": self = .recent
        default: self = text.hasPrefix("\\") ? .extensionFlag(text) : .keyword(text)
        }
    }

    /// As sent in FLAGS responses.
    public var text: String {
        switch self {
        case .answered: "\\Answered"
        case .flagged: "\\Flagged"
        case .deleted: "\\Deleted"
        case .seen: "\\Seen"
        case .draft: "\\Draft"
        case .recent: "\\Recent"
        case .extensionFlag(let text), .keyword(let text): text
        }
    }
}

/// STATUS data items (RFC 9051 §6.3.11).
public enum IMAPStatusAttribute: String, Sendable, CaseIterable {
    case messages = "MESSAGES", uidNext = "UIDNEXT", uidValidity = "UIDVALIDITY", unseen = "UNSEEN"
    case deleted = "DELETED", size = "SIZE", recent = "RECENT", highestModSeq = "HIGHESTMODSEQ"
    /// OBJECTID (RFC 8474 §4.2).
    case mailboxID = "MAILBOXID"
    /// QUOTA (RFC 9208 §4.2.1): what EXPUNGE would free, in the STORAGE resource's 1,024-octet units.
    case deletedStorage = "DELETED-STORAGE"
}

/// STORE's action (RFC 9051 §6.4.6).
public struct IMAPStoreAction: Sendable, Equatable {
    public enum Mode: Sendable, Equatable { case replace, add, remove }
    public var mode: Mode
    public var silent: Bool
    public var flags: [IMAPFlag]
    /// The `(UNCHANGEDSINCE n)` modifier (RFC 7162 §3.1.3): change only messages whose modseq is at most n.
    public var unchangedSince: UInt64?

    public init(mode: Mode, silent: Bool, flags: [IMAPFlag], unchangedSince: UInt64? = nil) {
        self.mode = mode
        self.silent = silent
        self.unchangedSince = unchangedSince
        self.flags = flags
    }
}

/// A body section specifier (RFC 9051 §6.4.5): part numbers, then what of that part.
public struct IMAPSection: Sendable, Hashable {
    public enum Text: Sendable, Hashable {
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        case mime
    }

    public var part: [Int]
    public var text: Text?

    public init(part: [Int] = [], text: Text? = nil) {
        self.part = part
        self.text = text
    }
}

/// FETCH data items (RFC 9051 §6.4.5, RFC 3516 for BINARY).
public enum IMAPFetchAttribute: Sendable, Hashable {
    case envelope, flags, internalDate, rfc822Size, uid, body, bodyStructure
    case rfc822, rfc822Header, rfc822Text
    case bodySection(IMAPSection, peek: Bool, partial: ClosedRange<UInt32>?)
    case binary(part: [Int], peek: Bool, partial: ClosedRange<UInt32>?)
    case binarySize(part: [Int])
    case modSeq
    /// OBJECTID (RFC 8474 §5): the message's content id, and its thread's (none here).
    case emailID, threadID
    /// SAVEDATE (RFC 8514): when the message was filed in this mailbox.
    case saveDate
    /// PREVIEW (RFC 8970), with the LAZY modifier (§3.1): the server may answer NIL when a preview
    /// would be costly to make now.
    case preview(lazy: Bool)
}

/// SEARCH keys (RFC 9051 §6.4.4), nested as sent.
public indirect enum IMAPSearchKey: Sendable, Equatable {
    case all, answered, deleted, draft, flagged, seen, unanswered, undeleted, undraft, unflagged, unseen
    case new, old, recent
    case keyword(String), unkeyword(String)
    case bcc(String), body(String), cc(String), from(String), subject(String), text(String), to(String)
    case header(String, String)
    case before(DateComponents), on(DateComponents), since(DateComponents)
    case sentBefore(DateComponents), sentOn(DateComponents), sentSince(DateComponents)
    case larger(UInt64), smaller(UInt64)
    case uid(IMAPSequenceSet)
    case sequence(IMAPSequenceSet)
    case not(IMAPSearchKey)
    case or(IMAPSearchKey, IMAPSearchKey)
    case and([IMAPSearchKey])
    case modSeq(UInt64)
    /// OBJECTID (RFC 8474 §6).
    case emailID(String), threadID(String)
    /// SAVEDATE (RFC 8514 §4.2): the day it was filed in the mailbox; every message has one.
    case savedBefore(DateComponents), savedOn(DateComponents), savedSince(DateComponents), saveDateSupported
}

/// ESEARCH return options (RFC 9051 §6.4.4, RFC 5182 SAVE).
public enum IMAPSearchReturn: Sendable, Hashable {
    case min, max, all, count, save
    /// UPDATE (RFC 5267 §4.2): tell the client, with ADDTO and REMOVEFROM, as messages start or stop
    /// matching, until CANCELUPDATE or the mailbox is closed.
    case update
    /// CONTEXT (RFC 5267 §4.2): a hint that the client will refer to the results later.
    case context
    /// PARTIAL (RFC 9394 §3.1): the results at these positions only.
    case partial(IMAPPartialRange)
}

extension Array where Element == IMAPSearchReturn {
    /// The PARTIAL option's range, if one was asked for.
    public var partialRange: IMAPPartialRange? {
        self.lazy.compactMap { option -> IMAPPartialRange? in if case .partial(let range) = option { range } else { nil } }.first
    }
}

/// Positions in a list of results (RFC 9394 §4), 1 the first; counted from the end when `fromEnd`
/// (-1 the last).
public struct IMAPPartialRange: Sendable, Hashable {
    public var positions: ClosedRange<UInt32>
    public var fromEnd: Bool

    public init(_ positions: ClosedRange<UInt32>, fromEnd: Bool = false) {
        self.positions = positions
        self.fromEnd = fromEnd
    }

    /// `1:100` or `-1:-100`, as responses repeat it.
    public var text: String {
        let sign = self.fromEnd ? "-" : ""
        return "\(sign)\(self.positions.lowerBound):\(sign)\(self.positions.upperBound)"
    }

    /// The elements of `results` at these positions, in their order.
    public func slice<T>(_ results: [T]) -> ArraySlice<T> {
        let count = results.count
        let low = Int(self.positions.lowerBound)
        let high = Int(self.positions.upperBound)
        if self.fromEnd {
            let start = max(0, count - high)
            let end = count - low + 1
            return end > start ? results[start..<end] : []
        }
        let start = low - 1
        return start < count ? results[start..<min(high, count)] : []
    }
}

/// One message of an APPEND.
public struct IMAPAppendedMessage: Sendable, Equatable {
    public var flags: [IMAPFlag]
    public var internalDate: Date?
    /// The literal's bytes; empty when `streamed`.
    public var message: [UInt8]
    /// The literal was large and went to the session in pieces before the command (`IMAPFrame.literalPiece`).
    public var streamed: Bool
    /// CATENATE (RFC 4469): the message is made of these parts in order (and `message` is empty).
    public var catenate: [IMAPCatenatePart]?

    public init(
        flags: [IMAPFlag] = [], internalDate: Date? = nil, message: [UInt8], streamed: Bool = false, catenate: [IMAPCatenatePart]? = nil
    ) {
        self.flags = flags
        self.internalDate = internalDate
        self.message = message
        self.streamed = streamed
        self.catenate = catenate
    }
}

/// A part of a CATENATE message (RFC 4469 §5): text given in the command, or an IMAP URL (RFC 5092) of a
/// message or a section of one.
public enum IMAPCatenatePart: Sendable, Equatable {
    case text([UInt8])
    case url(String)
}

/// GETMETADATA's DEPTH (RFC 5464 §4.2.2): the entries named only, with their children, or with every
/// entry below them.
public enum IMAPMetadataDepth: Sendable, Equatable {
    case zero, one, infinity
}

/// An entry of SETMETADATA: its name, lower-case, and its value (nil removes it).
public struct IMAPMetadataValue: Sendable, Equatable {
    public var entry: String
    public var value: [UInt8]?

    public init(entry: String, value: [UInt8]?) {
        self.entry = entry
        self.value = value
    }
}

/// What each command asks for.
public enum IMAPCommandKind: Sendable, Equatable {
    case capability, noop, logout, startTLS
    /// UNAUTHENTICATE (RFC 8437): back to the not-authenticated state on the same connection.
    case unauthenticate
    /// COMPRESS (RFC 4978) with a mechanism, upper-cased (DEFLATE).
    case compress(String)
    case authenticate(mechanism: String, initialResponse: String?)
    case login(user: String, password: String)
    case enable([String])
    /// SELECT or EXAMINE; `condstore` for the `(CONDSTORE)` parameter (RFC 7162 §3.1.8), `qresync` for
    /// `(QRESYNC (…))` (§3.2.5).
    case select(IMAPMailboxName, readOnly: Bool, condstore: Bool = false, qresync: IMAPQResync? = nil)
    /// CREATE, with the special-use attributes of a `USE` parameter (RFC 6154 §3) in `use`.
    case create(IMAPMailboxName, use: [IMAPFlag] = [])
    case delete(IMAPMailboxName)
    case rename(IMAPMailboxName, to: IMAPMailboxName)
    case subscribe(IMAPMailboxName)
    case unsubscribe(IMAPMailboxName)
    /// LIST, with RFC 5258 selection and return options (upper-cased) and one or more patterns; the
    /// STATUS return option's items (RFC 5819) apart, in `status`.
    case list(reference: String, patterns: [String], selection: [String], returning: [String], status: [IMAPStatusAttribute])
    case lsub(reference: String, pattern: String)
    case namespace
    case status(IMAPMailboxName, [IMAPStatusAttribute])
    /// APPEND of one message, or of several in one command (MULTIAPPEND, RFC 3502).
    case append(IMAPMailboxName, [IMAPAppendedMessage])
    case idle
    /// NOTIFY (RFC 5465): what to tell as it happens; nil for `NOTIFY NONE`.
    case notify(IMAPNotifyRequest?)
    /// CANCELUPDATE (RFC 5267 §4.4): no more updates for the searches of these tags.
    case cancelUpdate([String])
    case check, close, unselect, expunge
    case uidExpunge(IMAPSequenceSet)
    case copy(IMAPSequenceSet, IMAPMailboxName, uid: Bool)
    case move(IMAPSequenceSet, IMAPMailboxName, uid: Bool)
    case store(IMAPSequenceSet, IMAPStoreAction, uid: Bool)
    /// FETCH; `changedSince` for the `(CHANGEDSINCE n)` modifier (RFC 7162 §3.1.4.1), `vanished` for
    /// its `VANISHED` companion (UID FETCH only, §3.2.6).
    /// `partial` for the PARTIAL modifier (RFC 9394 §3.2): only the messages at those positions of the set.
    case fetch(
        IMAPSequenceSet, [IMAPFetchAttribute], uid: Bool, changedSince: UInt64? = nil, vanished: Bool = false,
        partial: IMAPPartialRange? = nil)
    /// SEARCH; `returning` is nil for a plain SEARCH, the options of `RETURN (...)` otherwise (ESEARCH).
    case search(charset: String?, IMAPSearchKey, returning: [IMAPSearchReturn]?, uid: Bool)
    /// SORT (RFC 5256 §3): the messages the key matches, in the order of the criteria; `returning` for
    /// ESORT's `RETURN (…)` (RFC 5267 §3), nil for a plain SORT.
    case sort([IMAPSortCriterion], charset: String, IMAPSearchKey, uid: Bool, returning: [IMAPSearchReturn]? = nil)
    /// THREAD (RFC 5256 §4) with an algorithm, upper-cased (ORDEREDSUBJECT, REFERENCES).
    case thread(algorithm: String, charset: String, IMAPSearchKey, uid: Bool)
    /// GETMETADATA (RFC 5464 §4.2): entries of a mailbox, or of the server when `mailbox` is nil;
    /// `maxSize` leaves out larger values; `depth` reaches below each entry named.
    case getMetadata(IMAPMailboxName?, entries: [String], maxSize: UInt32?, depth: IMAPMetadataDepth)
    /// SETMETADATA (RFC 5464 §4.3): each entry set to its value, or removed (nil).
    case setMetadata(IMAPMailboxName?, [IMAPMetadataValue])
    /// ID (RFC 2971): nil for `ID NIL`.
    case id([String: String]?)
    /// QUOTA (RFC 9208): the quota roots of a mailbox, a root's quota, and setting one (resource names
    /// upper-cased, with their limits).
    case getQuotaRoot(IMAPMailboxName)
    case getQuota(root: String)
    case setQuota(root: String, limits: [IMAPQuotaLimit])
}

/// One SORT criterion (RFC 5256 §3, DISPLAYFROM and DISPLAYTO from RFC 5957), perhaps reversed.
public struct IMAPSortCriterion: Sendable, Equatable {
    public enum Key: String, Sendable, CaseIterable {
        case arrival = "ARRIVAL", cc = "CC", date = "DATE", from = "FROM", size = "SIZE", subject = "SUBJECT", to = "TO"
        case displayFrom = "DISPLAYFROM", displayTo = "DISPLAYTO"
    }

    public let key: Key
    public let reverse: Bool

    public init(_ key: Key, reverse: Bool = false) {
        self.key = key
        self.reverse = reverse
    }
}

/// SELECT's QRESYNC parameter (RFC 7162 §3.2.5): what the client last knew of the mailbox, and the
/// UIDs it knows (the optional sequence-match data is read and not needed: expunges are told by UID).
public struct IMAPQResync: Sendable, Equatable {
    public let uidValidity: UInt32
    public let modSeq: UInt64
    public let knownUIDs: IMAPSequenceSet?

    public init(uidValidity: UInt32, modSeq: UInt64, knownUIDs: IMAPSequenceSet? = nil) {
        self.uidValidity = uidValidity
        self.modSeq = modSeq
        self.knownUIDs = knownUIDs
    }
}

/// One resource limit of SETQUOTA (RFC 9208 §4.1.3): `STORAGE 512`.
public struct IMAPQuotaLimit: Sendable, Equatable {
    public let resource: String
    public let limit: UInt64

    public init(resource: String, limit: UInt64) {
        self.resource = resource
        self.limit = limit
    }
}
