import Foundation

/// Threads of messages as RFC 5256 §4 defines them for IMAP THREAD: ORDEREDSUBJECT (messages grouped
/// by base subject) and REFERENCES (the tree that Message-ID, References and In-Reply-To describe,
/// threads with the same base subject then merged). Pure: it takes what the headers say and gives
/// trees of the callers' numbers.
public enum MessageThreading {
    /// What threading needs of one message; `number` is what the answer names it by (a sequence
    /// number or a UID).
    public struct Message: Sendable {
        public let number: UInt32
        public let messageID: String?
        /// References, oldest first; In-Reply-To's identifier when there are none.
        public let references: [String]
        /// The base subject (RFC 5256 §2.1), and whether the subject said the message is a reply or a
        /// forward: what threads of one subject are merged by.
        public let baseSubject: String
        public let isReply: Bool
        /// The sent date (the arrival when the message has none that can be read).
        public let date: Date

        public init(number: UInt32, messageID: String?, references: [String], baseSubject: String, isReply: Bool, date: Date) {
            self.number = number
            self.messageID = messageID
            self.references = references
            self.baseSubject = baseSubject
            self.isReply = isReply
            self.date = date
        }

        public init(number: UInt32, messageID: String?, references: [String], subject: String, date: Date) {
            self.init(
                number: number, messageID: messageID, references: references, baseSubject: BaseSubject.of(subject),
                isReply: BaseSubject.isReplyOrForward(subject), date: date)
        }

        /// From header values: identifiers are what stands between `<` and `>`.
        public init(number: UInt32, messageID: String?, references: String?, inReplyTo: String?, subject: String?, date: Date) {
            self.init(
                number: number, messageID: Self.identifiers(messageID ?? "").first,
                references: Self.chain(references: references, inReplyTo: inReplyTo), subject: subject ?? "", date: date)
        }

        /// The identifiers of References, oldest first; In-Reply-To's first when References has none.
        public static func chain(references: String?, inReplyTo: String?) -> [String] {
            let chain = Self.identifiers(references ?? "")
            if chain.isEmpty, let first = Self.identifiers(inReplyTo ?? "").first { return [first] }
            return chain
        }

        /// What stands between `<` and `>`, each in turn.
        public static func identifiers(_ text: String) -> [String] {
            var found: [String] = []
            var rest = Substring(text)
            while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
                let identifier = rest[rest.index(after: open)..<close]
                if !identifier.isEmpty { found.append(String(identifier)) }
                rest = rest[rest.index(after: close)...]
            }
            return found
        }
    }

    /// A thread node: a message, or none (a message referred to but not among those threaded).
    public struct Node: Sendable, Equatable {
        public var number: UInt32?
        public var children: [Node]

        public init(_ number: UInt32?, _ children: [Node] = []) {
            self.number = number
            self.children = children
        }
    }

    /// ORDEREDSUBJECT: one thread per base subject, its earliest message the parent of the others;
    /// threads in the order of their first messages' dates.
    public static func orderedSubject(_ messages: [Message]) -> [Node] {
        let sorted = messages.sorted { ($0.date, $0.number) < ($1.date, $1.number) }
        var groups: [String: [Message]] = [:]
        var order: [String] = []
        for message in sorted {
            let subject = message.baseSubject
            if groups[subject] == nil { order.append(subject) }
            groups[subject, default: []].append(message)
        }
        return order.compactMap { subject -> Node? in
            guard let members = groups[subject], let first = members.first else { return nil }
            return Node(first.number, members.dropFirst().map { Node($0.number) })
        }
    }

    /// REFERENCES (RFC 5256 §4): the reference tree, dummy nodes pruned, siblings and threads by date,
    /// and threads of one base subject merged.
    public static func references(_ messages: [Message]) -> [Node] {
        var threader = ReferenceThreader(messages)
        return threader.threads()
    }

    /// The THREAD answer's text for the threads: `(3 6 (4 23)(44 7 96))` per thread, a chain of only
    /// children written flat.
    public static func text(_ threads: [Node]) -> String {
        threads.map { "(" + Self.members($0) + ")" }.joined()
    }

    private static func members(_ node: Node) -> String {
        var parts: [String] = []
        var current = node
        while true {
            if let number = current.number { parts.append(String(number)) }
            guard current.children.count == 1, let only = current.children.first else { break }
            current = only
        }
        if current.children.count > 1 {
            parts.append(current.children.map { "(" + Self.members($0) + ")" }.joined())
        }
        return parts.joined(separator: " ")
    }
}

/// The containers of RFC 5256 §4's REFERENCES algorithm, by index.
private struct ReferenceThreader {
    struct Container {
        var message: MessageThreading.Message?
        var parent: Int?
        var children: [Int] = []
    }

    var containers: [Container] = []
    var byID: [String: Int] = [:]
    let messages: [MessageThreading.Message]

    init(_ messages: [MessageThreading.Message]) { self.messages = messages }

    mutating func container(for identifier: String) -> Int {
        if let index = self.byID[identifier] { return index }
        self.containers.append(Container())
        self.byID[identifier] = self.containers.count - 1
        return self.containers.count - 1
    }

    /// Whether `ancestor` is `node` or above it.
    func reaches(_ ancestor: Int, from node: Int) -> Bool {
        var current: Int? = node
        var steps = 0
        while let index = current, steps <= self.containers.count {
            if index == ancestor { return true }
            current = self.containers[index].parent
            steps += 1
        }
        return false
    }

    mutating func link(_ child: Int, under parent: Int) {
        guard child != parent, !self.reaches(child, from: parent) else { return }
        if let old = self.containers[child].parent { self.containers[old].children.removeAll { $0 == child } }
        self.containers[child].parent = parent
        self.containers[parent].children.append(child)
    }

    mutating func threads() -> [MessageThreading.Node] {
        // (1) Containers: each message under the last of its references, the references chained.
        for message in self.messages {
            var index: Int
            if let identifier = message.messageID, let existing = self.byID[identifier], self.containers[existing].message == nil {
                index = existing
            } else {
                // No Message-ID, or one seen already: a container of its own.
                self.containers.append(Container())
                index = self.containers.count - 1
                if let identifier = message.messageID, self.byID[identifier] == nil { self.byID[identifier] = index }
            }
            self.containers[index].message = message
            var previous: Int?
            for reference in message.references {
                let referenced = self.container(for: reference)
                if let previous, self.containers[referenced].parent == nil { self.link(referenced, under: previous) }
                previous = referenced
            }
            if let old = self.containers[index].parent {
                self.containers[index].parent = nil
                self.containers[old].children.removeAll { $0 == index }
            }
            if let previous { self.link(index, under: previous) }
        }
        // (2)-(4) The roots, with empty containers pruned.
        let roots = self.containers.indices.filter { self.containers[$0].parent == nil }
        var trees = roots.flatMap { self.pruned($0, isRoot: true) }
        // (5) Siblings and threads by date.
        trees = Self.sorted(trees)
        // (6) Threads of one base subject together.
        return Self.mergedBySubject(trees)
    }

    /// A node as a tree: empty containers without children vanish; one with children gives way to them,
    /// except at the root with several (they share an unknown parent).
    func pruned(_ index: Int, isRoot: Bool) -> [Tree] {
        let children = self.containers[index].children.flatMap { self.pruned($0, isRoot: false) }
        guard let message = self.containers[index].message else {
            if children.isEmpty { return [] }
            if isRoot && children.count > 1 { return [Tree(message: nil, children: children)] }
            return children
        }
        return [Tree(message: message, children: children)]
    }

    struct Tree {
        var message: MessageThreading.Message?
        var children: [Tree]

        /// The date a tree is sorted by: its message's, or its first child's.
        var date: Date { self.message?.date ?? self.children.first?.date ?? .distantPast }
        var number: UInt32 { self.message?.number ?? self.children.first?.number ?? 0 }
        var subjectMessage: MessageThreading.Message? { self.message ?? self.children.first?.subjectMessage }

        var node: MessageThreading.Node { MessageThreading.Node(self.message?.number, self.children.map(\.node)) }
    }

    static func sorted(_ trees: [Tree]) -> [Tree] {
        trees.map { Tree(message: $0.message, children: Self.sorted($0.children)) }
            .sorted { ($0.date, $0.number) < ($1.date, $1.number) }
    }

    /// RFC 5256 §4 step (6): a thread whose base subject an earlier one has joins it — under the one
    /// that is not a reply, or beside it under a new empty parent.
    static func mergedBySubject(_ trees: [Tree]) -> [MessageThreading.Node] {
        var merged: [Tree] = []
        var bySubject: [String: Int] = [:]
        for tree in trees {
            guard let message = tree.subjectMessage else {
                merged.append(tree)
                continue
            }
            let subject = message.baseSubject
            guard !subject.isEmpty, let existing = bySubject[subject] else {
                if !subject.isEmpty { bySubject[subject] = merged.count }
                merged.append(tree)
                continue
            }
            var kept = merged[existing]
            let isReply = message.isReply
            let keptIsReply = kept.subjectMessage?.isReply ?? false
            if kept.message == nil && tree.message == nil {
                kept.children += tree.children
            } else if kept.message == nil {
                kept.children.append(tree)
            } else if tree.message != nil && isReply && !keptIsReply {
                kept.children.append(tree)
            } else if kept.message != nil && keptIsReply && !isReply && tree.message != nil {
                var replacement = tree
                replacement.children.append(kept)
                kept = replacement
            } else {
                kept = Tree(message: nil, children: [kept, tree])
            }
            merged[existing] = Tree(message: kept.message, children: Self.sorted(kept.children))
        }
        return merged.map(\.node)
    }
}
