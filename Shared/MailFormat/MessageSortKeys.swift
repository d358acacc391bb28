import Foundation

/// What IMAP SORT (RFC 5256 §3, RFC 5957 §3) and THREAD (RFC 5256 §4) order a message by, taken from
/// its header once: the sent date, the base subject and whether it is a reply's, the first address's
/// mailbox part of From, To and Cc, the display names of From and To (text already folded for
/// comparison), and the message's identifier and references. The store keeps them with the message's
/// content (they never change), so a SORT or THREAD of a large mailbox reads them instead of every header.
public struct MessageSortKeys: Sendable, Equatable {
    /// The Date field as seconds since 1970 in UTC; nil when there is none that can be read (SORT then
    /// uses the internal date).
    public var sentAt: Int64?
    public var subject: String
    public var from: String
    public var to: String
    public var cc: String
    public var displayFrom: String
    public var displayTo: String
    /// The subject marks a reply or a forward (RFC 5256 §4 step 6).
    public var subjectIsReply: Bool
    /// The first identifier of Message-ID.
    public var messageID: String?
    /// References' identifiers, oldest first; In-Reply-To's when there are none.
    public var references: [String]

    /// The header fields the keys come from.
    public static let fields = ["Date", "Subject", "From", "To", "Cc", "Message-ID", "References", "In-Reply-To"]

    public init(
        sentAt: Int64?, subject: String, from: String, to: String, cc: String, displayFrom: String, displayTo: String,
        subjectIsReply: Bool = false, messageID: String? = nil, references: [String] = []
    ) {
        self.sentAt = sentAt
        self.subject = subject
        self.from = from
        self.to = to
        self.cc = cc
        self.displayFrom = displayFrom
        self.displayTo = displayTo
        self.subjectIsReply = subjectIsReply
        self.messageID = messageID
        self.references = references
    }

    /// The keys of a header (parsed with at least `fields`): base subject as RFC 5256 §2.1 extracts it,
    /// addresses by their mailbox part, display names decoded (RFC 5957 §3: the address when there is
    /// none), text compared with ASCII letters folded.
    public init(header: MessageHeader) {
        func first(_ field: String) -> AddressList.Address? {
            header.values(field).first.flatMap { AddressList(parsing: $0).addresses.first }
        }
        func display(_ address: AddressList.Address?) -> String {
            guard let address else { return "" }
            return (address.displayName.map(EncodedWords.decode) ?? address.address).uppercased()
        }
        let from = first("From")
        let to = first("To")
        let subject = header.values("Subject").first ?? ""
        let references = MessageThreading.Message.chain(
            references: header.values("References").first, inReplyTo: header.values("In-Reply-To").first)
        self.init(
            sentAt: header.values("Date").first.flatMap(MessageDate.parse).map { Int64($0.timeIntervalSince1970.rounded(.down)) },
            subject: BaseSubject.of(subject), from: from?.localPart.uppercased() ?? "", to: to?.localPart.uppercased() ?? "",
            cc: first("Cc")?.localPart.uppercased() ?? "", displayFrom: display(from), displayTo: display(to),
            subjectIsReply: BaseSubject.isReplyOrForward(subject),
            messageID: MessageThreading.Message.identifiers(header.values("Message-ID").first ?? "").first, references: references)
    }

    /// The keys as one text, for the store: a version, then each key, separated by U+001F, the
    /// references by U+001E (which no key holds: they are replaced by spaces, which sort the same among
    /// printable text and which identifiers do not hold).
    public var encoded: String {
        // The first SORT of a large mailbox encodes every message's keys: no Foundation string search, and
        // no copy of a text that holds neither separator (all of them, but for damaged headers).
        func clean(_ text: String) -> String {
            guard text.utf8.contains(where: { $0 == 0x1F || $0 == 0x1E }) else { return text }
            return String(decoding: text.utf8.map { $0 == 0x1F || $0 == 0x1E ? 0x20 : $0 }, as: UTF8.self)
        }
        let texts = [self.subject, self.from, self.to, self.cc, self.displayFrom, self.displayTo, self.subjectIsReply ? "1" : "0",
            self.messageID ?? "", self.references.map(clean).joined(separator: Self.listSeparator)]
        return ([Self.version, self.sentAt.map(String.init) ?? ""] + texts.dropLast().map(clean) + [texts[texts.count - 1]])
            .joined(separator: Self.separator)
    }

    /// The keys as the store keeps them.
    public var kept: Encoded { Encoded(unchecked: self.encoded) }

    /// Keys read back from `encoded`; nil for text of another version (worked out again from the header).
    public init?(encoded: String) {
        // Split as bytes, not Characters: THREAD decodes the keys of every message of the mailbox.
        let parts = encoded.utf8.split(separator: 0x1F, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count == 11, parts[0] == Self.version else { return nil }
        self.init(
            sentAt: parts[1].isEmpty ? nil : Int64(parts[1]), subject: parts[2], from: parts[3], to: parts[4], cc: parts[5],
            displayFrom: parts[6], displayTo: parts[7], subjectIsReply: parts[8] == "1", messageID: parts[9].isEmpty ? nil : parts[9],
            references: parts[10].utf8.split(separator: 0x1E).map { String(decoding: $0, as: UTF8.self) })
    }

    /// Keys as the store keeps them, read a field at a time where they are used: a SORT by date of a
    /// large mailbox reads one number of each message's keys and makes no text of the rest.
    public struct Encoded: Sendable, Equatable {
        public let text: String

        /// Nil for keys of another version.
        public init?(_ text: String) {
            guard text.hasPrefix(MessageSortKeys.encodingPrefix) else { return nil }
            self.text = text
        }

        fileprivate init(unchecked text: String) { self.text = text }

        /// The field at `index` (0 the version), found by its separators.
        private func field(_ index: Int) -> Substring {
            let utf8 = self.text.utf8
            var start = utf8.startIndex
            var seen = 0
            var position = utf8.startIndex
            while position != utf8.endIndex {
                if utf8[position] == 0x1F {
                    if seen == index { return self.text[start..<position] }
                    seen += 1
                    start = utf8.index(after: position)
                }
                position = utf8.index(after: position)
            }
            return seen == index ? self.text[start...] : ""
        }

        public var sentAt: Int64? { Int64(self.field(1)) }
        public var subject: Substring { self.field(2) }
        public var from: Substring { self.field(3) }
        public var to: Substring { self.field(4) }
        public var cc: Substring { self.field(5) }
        public var displayFrom: Substring { self.field(6) }
        public var displayTo: Substring { self.field(7) }
        /// Every key (what THREAD reads); nil when the text is damaged.
        public var decoded: MessageSortKeys? { MessageSortKeys(encoded: self.text) }
    }

    static let version = "2"
    static let separator = "\u{1F}"
    static let listSeparator = "\u{1E}"
    /// How the keys of this version begin when encoded: the store reads a header only where they do not.
    public static let encodingPrefix = version + separator
}
