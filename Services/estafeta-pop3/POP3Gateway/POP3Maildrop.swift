import Foundation

/// The maildrop of one POP3 session (RFC 1939 §5): the INBOX as it was when the session began, numbered
/// from 1 in UID order, with the deletion marks of DELE. Messages that arrive later are not seen until
/// the next session; deletions happen only at QUIT (UPDATE). Pure: the session asks the store.
struct POP3Maildrop: Sendable, Equatable {
    struct Message: Sendable, Equatable {
        let uid: UInt32
        /// Octets RETR sends before dot-stuffing: stored content is CRLF throughout (ingress refuses
        /// bare CR and LF), so this is the stored size.
        let size: Int64
    }

    let uidValidity: UInt32
    let messages: [Message]
    private(set) var deleted: Set<Int> = []

    init(uidValidity: UInt32, messages: [Message]) {
        self.uidValidity = uidValidity
        self.messages = messages
    }

    /// The message numbered `number`, unless out of range or marked deleted.
    func message(_ number: Int) -> Message? {
        guard number >= 1, number <= self.messages.count, !self.deleted.contains(number) else { return nil }
        return self.messages[number - 1]
    }

    /// The numbers of messages not marked deleted, ascending.
    var visible: [Int] { self.messages.indices.map { $0 + 1 }.filter { !self.deleted.contains($0) } }

    /// STAT: count and total size of the messages not marked deleted.
    var statistics: (count: Int, size: Int64) {
        self.visible.reduce((0, Int64(0))) { total, number in (total.0 + 1, total.1 + self.messages[number - 1].size) }
    }

    /// A unique id that never changes for this message (RFC 1939 §7 UIDL): UIDVALIDITY and UID, which
    /// together are never reused for another message.
    func uniqueID(_ number: Int) -> String? {
        self.message(number).map { Self.uniqueID(uidValidity: self.uidValidity, uid: $0.uid) }
    }

    static func uniqueID(uidValidity: UInt32, uid: UInt32) -> String {
        Self.hex(uidValidity) + Self.hex(uid)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// DELE: false when there is no such message (or it is already marked).
    mutating func markDeleted(_ number: Int) -> Bool {
        guard self.message(number) != nil else { return false }
        self.deleted.insert(number)
        return true
    }

    /// RSET.
    mutating func unmarkAll() { self.deleted.removeAll() }

    /// The UIDs to remove at UPDATE.
    var deletedUIDs: [UInt32] { self.deleted.sorted().map { self.messages[$0 - 1].uid } }

    /// The UIDs to read together for RETR or TOP of `number` (a message that exists): it and the
    /// messages after it not marked deleted, up to `maximumMessages` and, beyond the first,
    /// `maximumBytes` in all. Clients fetch in order, so one read serves the next several commands.
    func readAheadWindow(from number: Int, maximumMessages: Int, maximumBytes: Int64) -> ClosedRange<UInt32>? {
        guard let first = self.message(number) else { return nil }
        var last = first
        var bytes = first.size
        var taken = 1
        var next = number + 1
        while taken < maximumMessages, next <= self.messages.count {
            if let message = self.message(next) {
                guard bytes + message.size <= maximumBytes else { break }
                bytes += message.size
                taken += 1
                last = message
            }
            next += 1
        }
        return first.uid...last.uid
    }
}

/// Message contents read ahead for RETR and TOP (see `POP3Maildrop.readAheadWindow`), held only
/// until used or replaced by the next window, so a session holds at most one window's bytes. A
/// message not found here is read again (with the window after it): one removed meanwhile is then
/// reported as gone.
struct POP3ReadAhead: Sendable {
    static let maximumMessages = 32
    static let maximumBytes: Int64 = 256 * 1024

    private var contents: [UInt32: Data] = [:]

    func content(of uid: UInt32) -> Data? { self.contents[uid] }

    mutating func replace(with contents: [UInt32: Data]) { self.contents = contents }

    /// RETR sends a message once; TOP may be followed by RETR of the same message, so it keeps it.
    mutating func consume(_ uid: UInt32) { self.contents[uid] = nil }
}
