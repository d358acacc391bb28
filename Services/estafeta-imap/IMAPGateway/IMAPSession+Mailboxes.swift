import Foundation
import IMAPProtocol
import MailStore

/// Finding mailboxes by name, STATUS items, LIST and LSUB (patterns, subscriptions), and QUOTA.
extension IMAPSession {
    /// The mailbox named `name`: on the loop where the store has immediate reads (one indexed row).
    func mailbox(named name: String, of account: AccountID) async throws(MailStoreError) -> Mailbox {
        if let immediate = self.store.immediate { return try immediate.mailbox(named: name, of: account) }
        return try await self.store.mailbox(named: name, of: account)
    }

    /// The mailbox named `name`, nil when there is none (APPEND, COPY and MOVE answer `[TRYCREATE]`).
    func existingMailbox(_ name: String, of account: AccountID) async throws(MailStoreError) -> Mailbox? {
        do {
            return try await self.mailbox(named: name, of: account)
        } catch {
            if case .unknownMailbox = error { return nil }
            throw error
        }
    }

    /// The items of a STATUS response (RFC 9051 §7.5.2), for STATUS and for LIST's STATUS return option.
    func statusItems(_ attributes: [IMAPStatusAttribute], of status: MailboxStatus) async throws -> [IMAPStatusItem] {
        try await Self.statusItems(attributes, of: status, store: self.store)
    }

    static func statusItems(_ attributes: [IMAPStatusAttribute], of status: MailboxStatus, store: MailStore) async throws -> [IMAPStatusItem] {
        var items: [IMAPStatusItem] = []
        for attribute in attributes {
            let value: IMAPStatusItem.Value =
                switch attribute {
                case .messages: .number(UInt64(clamping: status.messages))
                case .uidNext: .number(UInt64(clamping: status.mailbox.uidNext))
                case .uidValidity: .number(UInt64(clamping: status.mailbox.uidValidity))
                case .unseen: .number(UInt64(clamping: status.unseen))
                case .deleted: .number(UInt64(clamping: status.deleted))
                case .size: .number(UInt64(clamping: status.sizeBytes))
                case .recent: .number(UInt64(clamping: status.recent))
                case .highestModSeq: .number(status.mailbox.highestModSeq)
                case .mailboxID: .objectID(IMAPObjectID.mailbox(status.mailbox.id))
                // In the STORAGE resource's units, rounded up as its usage is.
                case .deletedStorage: .number(UInt64(clamping: (try await store.deletedBytes(in: status.mailbox.id) + 1023) / 1024))
                }
            items.append(IMAPStatusItem(attribute, value))
        }
        return items
    }

    /// LIST wildcards (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the delimiter; every
    /// other character only itself.
    static func matches(_ name: String, pattern: String) -> Bool {
        let name = Array(name.unicodeScalars)
        let pattern = Array(pattern.unicodeScalars)
        // Depth-first over (name, pattern) positions, each visited once: bounded, never recursive.
        var memo = Set<Int>()
        func match(_ n: Int, _ p: Int) -> Bool {
            var stack = [(n, p)]
            var steps = 0
            while let (n, p) = stack.popLast() {
                steps += 1
                if steps > 100_000 { return false }
                let key = n * (pattern.count + 1) + p
                if memo.contains(key) { continue }
                memo.insert(key)
                if p == pattern.count {
                    if n == name.count { return true }
                    continue
                }
                switch pattern[p] {
                case "*":
                    stack.append((n, p + 1))
                    if n < name.count { stack.append((n + 1, p)) }
                case "%":
                    stack.append((n, p + 1))
                    if n < name.count, name[n] != "/" { stack.append((n + 1, p)) }
                default:
                    if n < name.count, name[n] == pattern[p] { stack.append((n + 1, p + 1)) }
                }
            }
            return false
        }
        if String(String.UnicodeScalarView(pattern)).uppercased() == "INBOX" { return String(String.UnicodeScalarView(name)) == "INBOX" }
        return match(0, 0)
    }

    /// LSUB's lines for the subscribed names: those the pattern matches and, where `%` stops short of a
    /// subscribed name, the ancestor it matches instead, flagged \Noselect when not subscribed itself
    /// (RFC 3501 §6.3.9: `foo/bar` subscribed, `foo` not, `LSUB "" %` gives `foo`).
    static func lsubLines(_ subscribed: [String], pattern: String) -> [IMAPResponse] {
        let subscribedNames = Set(subscribed)
        var listed: Set<String> = []
        var lines: [IMAPResponse] = []
        func list(_ name: String, _ attributes: [String]) {
            guard listed.insert(name).inserted else { return }
            lines.append(.lsub(attributes: attributes, mailbox: name))
        }
        for name in subscribed {
            if Self.matches(name, pattern: pattern) {
                list(name, [])
                continue
            }
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            for depth in stride(from: parts.count - 1, through: 1, by: -1) {
                let ancestor = parts[0..<depth].joined(separator: "/")
                if Self.matches(ancestor, pattern: pattern) {
                    list(ancestor, subscribedNames.contains(ancestor) ? [] : ["\\Noselect"])
                    break
                }
            }
        }
        return lines
    }

    /// The account's quota as an untagged QUOTA (RFC 9208 §5.1): one root, `""`, for the whole account,
    /// whose STORAGE resource counts 1,024-octet units; nil when the account has no quota (then no
    /// mailbox has a quota root).
    func quotaLine(_ state: State) async throws -> IMAPResponse? {
        guard let address = state.account?.address else { return nil }
        let account = try await self.store.account(address)
        guard let limit = account.quotaBytes else { return nil }
        let used = (max(account.usedBytes, 0) + 1023) / 1024
        return .quota(root: "", [IMAPQuotaResource("STORAGE", usage: used, limit: max(limit, 0) / 1024)])
    }

    /// LIST (RFC 9051 §6.3.9) with RFC 5258's selection and return options and RFC 5819's STATUS.
    func list(
        _ tag: String, reference: String, patterns: [String], selection: [String], returning: [String],
        statusItems: [IMAPStatusAttribute], account: AccountID, state: inout State
    ) async throws -> Next {
        // RFC 5258 §3: unknown options, and RECURSIVEMATCH without an option it could modify, are BAD.
        let knownSelection: Set = ["SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"]
        let knownReturn: Set = ["SUBSCRIBED", "CHILDREN", "SPECIAL-USE"]
        guard selection.allSatisfy(knownSelection.contains), returning.allSatisfy(knownReturn.contains),
            !selection.contains("RECURSIVEMATCH") || selection.contains("SUBSCRIBED") || selection.contains("SPECIAL-USE")
        else { return self.bad(tag, "Unknown or incomplete LIST options", state: &state) }
        let mailboxes = try await self.store.mailboxes(of: account)
        var lines: [IMAPResponse] = []
        if patterns == [""] {
            lines.append(.list(attributes: ["\\Noselect"], mailbox: ""))
        }
        let matches = { (name: String) in patterns.contains { Self.matches(name, pattern: reference + $0) } }
        let subscribedOnly = selection.contains("SUBSCRIBED")
        let specialUseOnly = selection.contains("SPECIAL-USE")
        let recursive = selection.contains("RECURSIVEMATCH")
        let showSubscribed = subscribedOnly || returning.contains("SUBSCRIBED")
        let byName = Dictionary(mailboxes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        // With SUBSCRIBED the names listed are the subscriptions, mailboxes or not (a deleted one's is
        // \NonExistent, RFC 5258 §3); with RECURSIVEMATCH also every ancestor of a subscription that the
        // patterns match, whether or not it is subscribed itself (§3.5). Otherwise the mailboxes.
        var subscriptions: [String] = []
        let names: [String]
        if subscribedOnly {
            subscriptions = try await self.store.subscriptions(of: account)
            var chosen = Set(subscriptions.filter(matches))
            for name in subscriptions where recursive {
                let parts = name.split(separator: "/", omittingEmptySubsequences: false)
                for depth in 1..<max(parts.count, 1) {
                    let ancestor = parts[0..<depth].joined(separator: "/")
                    if matches(ancestor) { chosen.insert(ancestor) }
                }
            }
            names = chosen.sorted()
        } else {
            names = mailboxes.map(\.name).filter(matches)
        }
        let subscribed = subscribedOnly ? Set(subscriptions) : Set(mailboxes.filter(\.subscribed).map(\.name))
        for name in names {
            let mailbox = byName[name]
            if specialUseOnly && mailbox?.specialUse == nil { continue }
            var attributes: [String] = []
            if mailbox == nil { attributes.append("\\NonExistent") }
            if mailbox != nil || returning.contains("CHILDREN") {
                let hasChildren = mailboxes.contains { $0.name.hasPrefix(name + "/") }
                attributes.append(hasChildren ? "\\HasChildren" : "\\HasNoChildren")
            }
            if let use = mailbox?.specialUse { attributes.append(use.rawValue) }
            if showSubscribed && subscribed.contains(name) { attributes.append("\\Subscribed") }
            // RECURSIVEMATCH: CHILDINFO tells of subscriptions below, listed here or not (RFC 5258 §3.5).
            let childInfo = recursive && subscribedOnly && subscriptions.contains { $0.hasPrefix(name + "/") }
            lines.append(.list(attributes: attributes, mailbox: name, childInfoSubscribed: childInfo))
            // LIST-STATUS (RFC 5819): the STATUS of each mailbox right after its LIST line.
            if let mailbox, !statusItems.isEmpty {
                let status = try await self.store.mailboxStatus(mailbox.id)
                lines.append(.mailboxStatus(mailbox: name, try await self.statusItems(statusItems, of: status)))
            }
        }
        return self.reply(tag, "LIST completed", lines, state)
    }
}

/// OBJECTID (RFC 8474): ids that stay with a mailbox through RENAME and with a message through COPY
/// and MOVE, and are never given to another (the store's row ids, which are not reused).
enum IMAPObjectID {
    static func mailbox(_ id: MailboxID) -> String { "F\(id.rawValue)" }
    static func email(_ contentID: Int64) -> String { "M\(contentID)" }
}
