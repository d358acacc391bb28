/// NOTIFY (RFC 5465): which events of which mailboxes the client wants told as they happen.

/// An event a client can ask for (RFC 5465 §5); the names are matched without case.
public enum IMAPNotifyEvent: Sendable, Hashable {
    case messageNew, messageExpunge, flagChange, annotationChange, mailboxName, subscriptionChange
    case mailboxMetadataChange, serverMetadataChange
    /// An event this grammar does not know (an extension's): the server refuses it with BADEVENT.
    case other(String)

    static let named: [String: IMAPNotifyEvent] = [
        "MESSAGENEW": .messageNew, "MESSAGEEXPUNGE": .messageExpunge, "FLAGCHANGE": .flagChange,
        "ANNOTATIONCHANGE": .annotationChange, "MAILBOXNAME": .mailboxName, "SUBSCRIPTIONCHANGE": .subscriptionChange,
        "MAILBOXMETADATACHANGE": .mailboxMetadataChange, "SERVERMETADATACHANGE": .serverMetadataChange,
    ]

    init(name: String) {
        self = Self.named[name.uppercased()] ?? .other(name)
    }

    /// The name as RFC 5465 §8 spells it.
    public var name: String {
        switch self {
        case .messageNew: "MessageNew"
        case .messageExpunge: "MessageExpunge"
        case .flagChange: "FlagChange"
        case .annotationChange: "AnnotationChange"
        case .mailboxName: "MailboxName"
        case .subscriptionChange: "SubscriptionChange"
        case .mailboxMetadataChange: "MailboxMetadataChange"
        case .serverMetadataChange: "ServerMetadataChange"
        case .other(let name): name
        }
    }

    /// Events about a mailbox's messages, told for the selected mailbox as EXISTS, EXPUNGE and FETCH
    /// and for the others as STATUS (RFC 5465 §5.1–§5.3).
    public var isMessageEvent: Bool {
        switch self {
        case .messageNew, .messageExpunge, .flagChange, .annotationChange: true
        default: false
        }
    }
}

/// The mailboxes an event group is about (RFC 5465 §6), other than the selected one.
public enum IMAPNotifyMailboxes: Sendable, Equatable {
    /// Mailboxes where mail is delivered: for this server, INBOX.
    case inboxes
    /// Every mailbox of the user's own namespace.
    case personal
    /// The subscribed mailboxes, as the subscriptions change.
    case subscribed
    /// The named mailboxes and every mailbox below them.
    case subtree([IMAPMailboxName])
    /// The named mailboxes only.
    case mailboxes([IMAPMailboxName])
}

/// One `(filter (events))` group of NOTIFY SET.
public struct IMAPNotifyGroup: Sendable, Equatable {
    public let mailboxes: IMAPNotifyMailboxes
    public let events: Set<IMAPNotifyEvent>

    public init(mailboxes: IMAPNotifyMailboxes, events: Set<IMAPNotifyEvent>) {
        self.mailboxes = mailboxes
        self.events = events
    }
}

/// What NOTIFY SET asks for.
public struct IMAPNotifyRequest: Sendable, Equatable {
    /// `STATUS`: a STATUS response for each mailbox the message events watch, before the tagged OK.
    public var status = false
    /// Events of the selected mailbox (`SELECTED`, or `SELECTED-DELAYED` when `delayedExpunges`); none
    /// when the client did not name it.
    public var selectedEvents: Set<IMAPNotifyEvent> = []
    /// With `SELECTED-DELAYED` (RFC 5465 §6.2) expunges wait for a command that allows them, so that
    /// sequence numbers do not change under a client that uses them.
    public var delayedExpunges = false
    /// FETCH items to send with each new message of the selected mailbox (`MessageNew (items)`).
    public var newMessageItems: [IMAPFetchAttribute] = []
    /// Groups for mailboxes other than the selected one.
    public var groups: [IMAPNotifyGroup] = []

    public init() {}

    /// Every event named anywhere in the request.
    public var allEvents: Set<IMAPNotifyEvent> {
        self.groups.reduce(self.selectedEvents) { $0.union($1.events) }
    }
}
