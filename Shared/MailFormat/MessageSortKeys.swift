import Foundation

/// What IMAP SORT (RFC 5256 §3, RFC 5957 §3) orders a message by, taken from its header once: the sent
/// date, the base subject, the first address's mailbox part of From, To and Cc, and the display names
/// of From and To, text already folded for comparison. The store keeps them with the message's content
/// (they never change), so a SORT of a large mailbox reads them instead of every header.
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

    /// The header fields the keys come from.
    public static let fields = ["Date", "Subject", "From", "To", "Cc"]

    public init(sentAt: Int64?, subject: String, from: String, to: String, cc: String, displayFrom: String, displayTo: String) {
        self.sentAt = sentAt
        self.subject = subject
        self.from = from
        self.to = to
        self.cc = cc
        self.displayFrom = displayFrom
        self.displayTo = displayTo
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
        self.init(
            sentAt: header.values("Date").first.flatMap(MessageDate.parse).map { Int64($0.timeIntervalSince1970.rounded(.down)) },
            subject: BaseSubject.of(header.values("Subject").first ?? ""),
            from: from?.localPart.uppercased() ?? "", to: to?.localPart.uppercased() ?? "",
            cc: first("Cc")?.localPart.uppercased() ?? "", displayFrom: display(from), displayTo: display(to))
    }

    /// The keys as one text, for the store: a version, then each key, separated by U+001F (which a key
    /// never holds: it is replaced by a space, which sorts the same among printable text).
    public var encoded: String {
        let texts = [self.subject, self.from, self.to, self.cc, self.displayFrom, self.displayTo].map {
            $0.replacingOccurrences(of: Self.separator, with: " ")
        }
        return ([Self.version, self.sentAt.map(String.init) ?? ""] + texts).joined(separator: Self.separator)
    }

    /// Keys read back from `encoded`; nil for text of another version (worked out again from the header).
    public init?(encoded: String) {
        let parts = encoded.split(separator: Character(Self.separator), omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 8, parts[0] == Self.version else { return nil }
        self.init(
            sentAt: parts[1].isEmpty ? nil : Int64(parts[1]), subject: parts[2], from: parts[3], to: parts[4], cc: parts[5],
            displayFrom: parts[6], displayTo: parts[7])
    }

    static let version = "1"
    static let separator = "\u{1F}"
    /// How the keys of this version begin when encoded: the store reads a header only where they do not.
    public static let encodingPrefix = version + separator
}
