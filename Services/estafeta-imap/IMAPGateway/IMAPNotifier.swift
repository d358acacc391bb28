import IMAPProtocol
import MailStore

/// What NOTIFY (RFC 5465) tells of mailboxes other than the selected one: what the session last told
/// of the account's mailboxes and subscriptions, and the responses that tell what changed since —
/// LIST for mailboxes created, deleted or renamed and for subscriptions (§5.4, §5.5), STATUS for a
/// mailbox whose messages changed (§5.1–§5.3). Worked out by comparing the store's state with the last
/// one told, so changes made by any process are told the same way, and several changes between two
/// looks are told once.
struct IMAPNotifier: Sendable {
    let request: IMAPNotifyRequest
    let account: AccountID
    /// The account's mailboxes as last told: name and highest modseq.
    private var mailboxes: [MailboxID: (name: String, modSeq: UInt64)] = [:]
    private var subscriptions: Set<String> = []

    /// The events this server tells (RFC 5465 §5); the others are refused with BADEVENT.
    static let supportedEvents: [IMAPNotifyEvent] = [.messageNew, .messageExpunge, .flagChange, .mailboxName, .subscriptionChange]

    /// The most mailboxes NOTIFY watches for one session: past it the request is refused with
    /// NOTIFICATIONOVERFLOW (RFC 5465 §5.8) rather than read a very long list at every change.
    static let maximumMailboxes = 10_000

    /// The STATUS items told for a watched mailbox whose messages changed (RFC 5465 §5.1–§5.3: enough
    /// for a client to know whether to look), HIGHESTMODSEQ too once CONDSTORE is on.
    static func statusItems(condstore: Bool) -> [IMAPStatusAttribute] {
        condstore ? [.messages, .uidNext, .uidValidity, .unseen, .highestModSeq] : [.messages, .uidNext, .uidValidity, .unseen]
    }

    init(request: IMAPNotifyRequest, account: AccountID) {
        self.request = request
        self.account = account
    }

    /// The events asked for a mailbox other than the selected one.
    func events(for name: String, subscribed: Set<String>) -> Set<IMAPNotifyEvent> {
        var events: Set<IMAPNotifyEvent> = []
        for group in self.request.groups {
            let matches =
                switch group.mailboxes {
                case .inboxes: name == "INBOX"
                case .personal: true
                case .subscribed: subscribed.contains(name)
                case .subtree(let roots): roots.contains { name == $0.name || name.hasPrefix($0.name + "/") }
                case .mailboxes(let names): names.contains { name == $0.name }
                }
            if matches { events.formUnion(group.events) }
        }
        return events
    }

    /// Whether the subscriptions need reading: a group follows them, or their changes are asked for.
    private var followsSubscriptions: Bool {
        self.request.groups.contains { $0.mailboxes == .subscribed || $0.events.contains(.subscriptionChange) }
    }

    /// Takes the account's state as the one told; with `status`, the STATUS of every mailbox whose
    /// message events are asked (NOTIFY SET STATUS, RFC 5465 §3.1), the selected one apart. Nil when the
    /// account has more mailboxes than one session watches.
    mutating func start(store: MailStore, selected: MailboxID?, status: Bool, condstore: Bool) async throws -> [IMAPResponse]? {
        let current = try await store.mailboxes(of: self.account)
        guard current.count <= Self.maximumMailboxes else { return nil }
        self.subscriptions = self.followsSubscriptions ? Set(try await store.subscriptions(of: self.account)) : []
        self.mailboxes = Dictionary(current.map { ($0.id, ($0.name, $0.highestModSeq)) }, uniquingKeysWith: { $1 })
        guard status else { return [] }
        var lines: [IMAPResponse] = []
        for mailbox in current where mailbox.id != selected {
            guard self.events(for: mailbox.name, subscribed: self.subscriptions).contains(where: \.isMessageEvent) else { continue }
            lines.append(try await Self.status(of: mailbox.id, store: store, condstore: condstore))
        }
        return lines
    }

    /// The responses for what changed since the state last told, which becomes the state told.
    mutating func changes(store: MailStore, selected: MailboxID?, condstore: Bool) async throws -> [IMAPResponse] {
        let current = try await store.mailboxes(of: self.account)
        let subscriptions = self.followsSubscriptions ? Set(try await store.subscriptions(of: self.account)) : []
        var lines: [IMAPResponse] = []
        var seen = Set<MailboxID>()
        for mailbox in current {
            seen.insert(mailbox.id)
            let events = self.events(for: mailbox.name, subscribed: subscriptions)
            guard let known = self.mailboxes[mailbox.id] else {
                if events.contains(.mailboxName) { lines.append(.list(attributes: [], mailbox: mailbox.name)) }
                // A mailbox new since the last look may have had messages filed in it already.
                if mailbox.id != selected, mailbox.uidNext > 1, events.contains(where: \.isMessageEvent) {
                    lines.append(try await Self.status(of: mailbox.id, store: store, condstore: condstore))
                }
                continue
            }
            if known.name != mailbox.name,
                events.contains(.mailboxName) || self.events(for: known.name, subscribed: self.subscriptions).contains(.mailboxName)
            {
                lines.append(.list(attributes: [], mailbox: mailbox.name, oldName: known.name))
            }
            guard mailbox.id != selected, mailbox.highestModSeq > known.modSeq else { continue }
            let wanted = events.filter(\.isMessageEvent)
            guard !wanted.isEmpty else { continue }
            if try await Self.changed(mailbox.id, since: known.modSeq, anyOf: wanted, store: store) {
                lines.append(try await Self.status(of: mailbox.id, store: store, condstore: condstore))
            }
        }
        for (id, known) in self.mailboxes where !seen.contains(id) {
            if self.events(for: known.name, subscribed: self.subscriptions).contains(.mailboxName) {
                lines.append(.list(attributes: ["\\NonExistent"], mailbox: known.name))
            }
        }
        for name in subscriptions.symmetricDifference(self.subscriptions).sorted() {
            let subscribed = subscriptions.contains(name)
            if self.events(for: name, subscribed: subscribed ? subscriptions : self.subscriptions).contains(.subscriptionChange) {
                lines.append(.list(attributes: subscribed ? ["\\Subscribed"] : [], mailbox: name))
            }
        }
        self.mailboxes = Dictionary(current.map { ($0.id, ($0.name, $0.highestModSeq)) }, uniquingKeysWith: { $1 })
        self.subscriptions = subscriptions
        return lines
    }

    /// Whether the mailbox's feed past `modSeq` has a change of a kind asked for; true when the feed was
    /// pruned past it (the client is then told the counts, which is never wrong).
    private static func changed(
        _ mailbox: MailboxID, since modSeq: UInt64, anyOf events: Set<IMAPNotifyEvent>, store: MailStore
    ) async throws(MailStoreError) -> Bool {
        let changes: [MailboxChange]
        do {
            changes = try await store.changes(in: mailbox, since: modSeq)
        } catch {
            guard case .changeFeedPruned = error else { throw error }
            return true
        }
        return changes.contains { change in
            switch change.kind {
            case .append: events.contains(.messageNew)
            case .expunge: events.contains(.messageExpunge)
            case .flags: events.contains(.flagChange)
            }
        }
    }

    private static func status(of mailbox: MailboxID, store: MailStore, condstore: Bool) async throws -> IMAPResponse {
        let status = try await store.mailboxStatus(mailbox)
        let items = try await IMAPSession.statusItems(Self.statusItems(condstore: condstore), of: status, store: store)
        return .mailboxStatus(mailbox: status.mailbox.name, items)
    }
}
