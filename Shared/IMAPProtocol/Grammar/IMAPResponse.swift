import MailFormat

/// The condition of a status response (RFC 9051 §7.1).
public enum IMAPCondition: String, Sendable {
    case ok = "OK", no = "NO", bad = "BAD", bye = "BYE"
}

/// The response codes this server sends, in brackets before a status response's text (RFC 9051 §7.1,
/// and the extensions' own: RFC 4315 UIDPLUS, RFC 7162 CONDSTORE/QRESYNC, RFC 4978, RFC 4469, RFC 5464,
/// RFC 8474, RFC 5465).
public enum IMAPResponseCode: Sendable, Equatable {
    case alreadyExists, authenticationFailed, cannot, closed, compressionActive, hasChildren, limit, nonExistent, noPerm
    case overQuota, privacyRequired, readOnly, readWrite, tooBig, tryCreate, unavailable, useAttr
    /// A part's transfer encoding BINARY cannot undo (RFC 3516 §4.3).
    case unknownCTE
    case badCharset([String])
    /// The URL a CATENATE could not use (RFC 4469 §5).
    case badURL(String)
    case capability([String])
    case uidValidity(UInt32)
    case uidNext(UInt32)
    /// The sequence number of the first unseen message (RFC 3501 SELECT).
    case unseen(Int)
    case highestModSeq(UInt64)
    case mailboxID(String)
    case permanentFlags([String])
    /// UIDPLUS (RFC 4315 §3): the UIDs of appended messages.
    case appendUID(uidValidity: UInt32, uids: [UInt32])
    /// UIDPLUS: source and new UIDs, pairwise in the same order (so written as lists, not ranges).
    case copyUID(uidValidity: UInt32, sources: [UInt32], copies: [UInt32])
    /// The messages a conditional STORE left alone (RFC 7162 §3.1.3).
    case modified([UInt32])
    case metadataMaxSize(Int)
    case metadataTooMany
    case metadataLongEntries(Int)
    /// NOTIFY events this server does not send, with those it does (RFC 5465 §3.1).
    case badEvent([String])
    /// NOTIFY cannot tell what was asked (RFC 5465 §5.8).
    case notificationOverflow
    /// A search asked to be updated will not be (RFC 5267 §4.3.1).
    case noUpdate(tag: String)
}

/// One item of an ESEARCH response (RFC 4731, RFC 5267, RFC 9394), in the order asked for.
public enum IMAPSearchResultItem: Sendable, Equatable {
    case min(UInt32)
    case max(UInt32)
    case count(Int)
    /// The numbers as ranges: ascending for SEARCH, in sort order for SORT (runs only).
    case all([ClosedRange<UInt32>])
    /// The range asked for and the numbers in it, NIL when none.
    case partial(IMAPPartialRange, [ClosedRange<UInt32>])
    case modSeq(UInt64)
    /// An updating search's new results (RFC 5267 §4.3.3): numbers inserted at each position of the
    /// result list (position 0 for SEARCH, whose results have no order of their own).
    case addTo([IMAPContextUpdate])
    /// Results that no longer match (RFC 5267 §4.3.4), position 0: wherever they are in the list.
    case removeFrom([IMAPContextUpdate])
}

/// Where in an updating search's result list numbers go or leave (RFC 5267 §4.3.3, §4.3.4).
public struct IMAPContextUpdate: Sendable, Equatable {
    public let position: Int
    public let numbers: [ClosedRange<UInt32>]

    public init(position: Int, numbers: [ClosedRange<UInt32>]) {
        self.position = position
        self.numbers = numbers
    }
}

/// A STATUS item (RFC 9051 §7.5.2): a number, or MAILBOXID's id (written in parentheses).
public struct IMAPStatusItem: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case number(UInt64)
        case objectID(String)
    }

    public let attribute: IMAPStatusAttribute
    public let value: Value
    public init(_ attribute: IMAPStatusAttribute, _ value: Value) {
        self.attribute = attribute
        self.value = value
    }
}

/// A server response (RFC 9051 §7), with everything the server would say in it as typed values: the
/// gateway builds these and `IMAPResponseEncoder` alone turns them into bytes.
public enum IMAPResponse: Sendable, Equatable {
    /// `tag OK [code] text`, or `* OK …` untagged when `tag` is nil (BYE is always untagged).
    case status(tag: String?, IMAPCondition, IMAPResponseCode?, String)
    /// `+ text`: go on (RFC 9051 §7.5).
    case continuation(String)
    case capability([String])
    case enabled([String])
    /// RFC 2971: the server's identification as name/value pairs.
    case id([IMAPIDField])
    /// One personal namespace with its delimiter; no other users' or shared ones (RFC 2342).
    case namespace(prefix: String, delimiter: String)
    case exists(Int)
    case recent(Int)
    case expunge(Int)
    /// RFC 7162 §3.2.10: UIDs gone, EARLIER when told in answer to a resynchronisation.
    case vanished(earlier: Bool, [ClosedRange<UInt32>])
    case flags([String])
    /// LIST (RFC 9051 §7.3.1); `childInfoSubscribed` adds RFC 5258 §3.5's CHILDINFO extended item.
    /// `oldName` for a mailbox NOTIFY tells was renamed (RFC 5465 §5.4: the OLDNAME extended item).
    case list(attributes: [String], mailbox: String, childInfoSubscribed: Bool = false, oldName: String? = nil)
    case lsub(attributes: [String], mailbox: String)
    case mailboxStatus(mailbox: String, [IMAPStatusItem])
    /// RFC 3501 SEARCH, with RFC 7162 §3.1.5's highest modseq of what was found.
    case search([UInt32], modSeq: UInt64?)
    case esearch(tag: String?, byUID: Bool, [IMAPSearchResultItem])
    case sort([UInt32])
    case thread([MessageThreading.Node])
    /// A FETCH that tells flags (and their modseq) of one message, as after STORE or a change made
    /// elsewhere; the FETCH of message data has its own writer in the gateway.
    case fetchFlags(number: Int, uid: UInt32?, flags: [String]?, modSeq: UInt64?)
    /// RFC 9208: the quota roots of a mailbox, and a root's resources (usage and limit).
    case quotaRoot(mailbox: String, roots: [String])
    case quota(root: String, [IMAPQuotaResource])
    /// RFC 5464 §4.4.1: a mailbox's (or, with "", the server's) entries; a nil value is NIL.
    case metadata(mailbox: String, [IMAPMetadataEntry])
}

public struct IMAPIDField: Sendable, Equatable {
    public let name: String
    public let value: String?
    public init(_ name: String, _ value: String?) {
        self.name = name
        self.value = value
    }
}

public struct IMAPQuotaResource: Sendable, Equatable {
    public let name: String
    public let usage: Int64
    public let limit: Int64
    public init(_ name: String, usage: Int64, limit: Int64) {
        self.name = name
        self.usage = usage
        self.limit = limit
    }
}

public struct IMAPMetadataEntry: Sendable, Equatable {
    public let name: String
    public let value: [UInt8]?
    public init(_ name: String, _ value: [UInt8]?) {
        self.name = name
        self.value = value
    }
}
