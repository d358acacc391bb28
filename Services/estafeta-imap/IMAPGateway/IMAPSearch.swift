import Foundation
import IMAPProtocol
import MailFormat
import MailStore

/// Evaluates SEARCH keys (RFC 9051 §6.4.4) against one message. Pure. Everything compares
/// case-insensitively, on what a reader sees: header keys on the unfolded field values with RFC 2047
/// words decoded; BODY on the text parts with their transfer encoding undone and charset converted
/// (`MessageText`); TEXT on both.
struct IMAPSearch {
    struct Candidate {
        let sequence: Int
        let uid: UInt32
        let flags: Set<String>
        /// Size, dates and modseq: nil when the search needs none of them (`needsListing`).
        let message: StoredMessage?
        /// Parsed once per message, however many header keys the search has.
        let header: MessageHeader?
        /// The decoded text of the body, when a BODY or TEXT key needs it.
        let bodyText: String?
        /// Instead, for a message read a piece at a time: which of the key's BODY and TEXT words its
        /// text holds (`bodyWords`).
        let bodyWordsHeld: Set<String>?

        /// `headerNames`: the only fields the search reads (`IMAPSearch.headerNames`), nil for all.
        init(sequence: Int, message: StoredMessage, content: Data?, needsBodyText: Bool = false, headerNames: [String]? = nil) {
            self.sequence = sequence
            self.uid = message.uid
            self.flags = message.flags
            self.message = message
            self.header = content.map { content in
                headerNames.map { MessageHeader(parsing: content, only: $0) } ?? MessageHeader(parsing: content)
            }
            self.bodyText = needsBodyText ? content.map { MessageText.body(of: Array($0)) } : nil
            self.bodyWordsHeld = nil
        }

        /// A large message: its header section, and the words its text was found to hold.
        init(sequence: Int, message: StoredMessage, header: Data, bodyWordsHeld: Set<String>, headerNames: [String]?) {
            self.sequence = sequence
            self.uid = message.uid
            self.flags = message.flags
            self.message = message
            self.header = headerNames.map { MessageHeader(parsing: header, only: $0) } ?? MessageHeader(parsing: header)
            self.bodyText = nil
            self.bodyWordsHeld = bodyWordsHeld
        }

        /// A message as the selection knows it: enough for keys on flags, UIDs and sequence numbers.
        init(sequence: Int, uid: UInt32, flags: Set<String>) {
            self.sequence = sequence
            self.uid = uid
            self.flags = flags
            self.message = nil
            self.header = nil
            self.bodyText = nil
            self.bodyWordsHeld = nil
        }
    }

    let largestSequence: UInt32
    let largestUID: UInt32
    /// The saved result (`$`, RFC 5182).
    let saved: Set<UInt32>
    /// The session's \Recent messages (empty after ENABLE IMAP4rev2).
    let recent: Set<UInt32>

    /// Whether some key inside `key` (through NOT, OR and AND) is one `leaf` says yes to.
    private static func anyKey(in key: IMAPSearchKey, where leaf: (IMAPSearchKey) -> Bool) -> Bool {
        switch key {
        case .not(let inner): Self.anyKey(in: inner, where: leaf)
        case .or(let a, let b): Self.anyKey(in: a, where: leaf) || Self.anyKey(in: b, where: leaf)
        case .and(let keys): keys.contains { Self.anyKey(in: $0, where: leaf) }
        default: leaf(key)
        }
    }

    /// Whether evaluating `key` needs the message's content.
    static func needsContent(_ key: IMAPSearchKey) -> Bool {
        Self.anyKey(in: key) { leaf in
            switch leaf {
            case .bcc, .body, .cc, .from, .subject, .text, .to, .header, .sentBefore, .sentOn, .sentSince: true
            default: false
            }
        }
    }

    /// Whether evaluating `key` needs more than flags, UIDs and sequence numbers: the stored size,
    /// dates or modseq, or the content.
    static func needsListing(_ key: IMAPSearchKey) -> Bool {
        Self.anyKey(in: key) { leaf in
            switch leaf {
            case .larger, .smaller, .modSeq, .before, .on, .since, .emailID, .savedBefore, .savedOn, .savedSince: true
            default: Self.needsContent(leaf)
            }
        }
    }

    /// The header fields evaluating `key` reads; nil when it may read any (TEXT).
    static func headerNames(_ key: IMAPSearchKey) -> [String]? {
        var names: Set<String> = []
        func collect(_ key: IMAPSearchKey) -> Bool {
            switch key {
            case .bcc: names.insert("bcc")
            case .cc: names.insert("cc")
            case .from: names.insert("from")
            case .to: names.insert("to")
            case .subject: names.insert("subject")
            case .header(let name, _): names.insert(name)  // MessageHeader folds ASCII case, as `values` does
            case .sentBefore, .sentOn, .sentSince: names.insert("date")
            case .text: return false
            case .not(let inner): return collect(inner)
            case .or(let a, let b): return collect(a) && collect(b)
            case .and(let keys): return keys.allSatisfy(collect)
            default: break
            }
            return true
        }
        return collect(key) ? names.sorted() : nil
    }

    /// Whether evaluating `key` needs the decoded body text (`Candidate.bodyText`).
    static func needsBodyText(_ key: IMAPSearchKey) -> Bool {
        Self.anyKey(in: key) { leaf in
            switch leaf {
            case .body, .text: true
            default: false
            }
        }
    }

    func matches(_ key: IMAPSearchKey, _ candidate: Candidate) -> Bool {
        let flags = candidate.flags
        switch key {
        case .all: return true
        case .answered: return flags.contains("\\Answered")
        case .deleted: return flags.contains("\\Deleted")
        case .draft: return flags.contains("\\Draft")
        case .flagged: return flags.contains("\\Flagged")
        case .seen: return flags.contains("\\Seen")
        case .unanswered: return !flags.contains("\\Answered")
        case .undeleted: return !flags.contains("\\Deleted")
        case .undraft: return !flags.contains("\\Draft")
        case .unflagged: return !flags.contains("\\Flagged")
        case .unseen: return !flags.contains("\\Seen")
        case .recent: return self.recent.contains(candidate.uid)
        case .new: return self.recent.contains(candidate.uid) && !flags.contains("\\Seen")
        case .old: return !self.recent.contains(candidate.uid)
        case .keyword(let keyword): return flags.contains { $0.caseInsensitiveCompare(keyword) == .orderedSame }
        case .unkeyword(let keyword): return !flags.contains { $0.caseInsensitiveCompare(keyword) == .orderedSame }
        case .larger(let size): return candidate.message.map { $0.size > Int64(clamping: size) } ?? false
        case .smaller(let size): return candidate.message.map { $0.size < Int64(clamping: size) } ?? false
        case .modSeq(let modSeq): return candidate.message.map { $0.modSeq >= modSeq } ?? false
        case .emailID(let id): return candidate.message.map { IMAPObjectID.email($0.contentID) == id } ?? false
        case .threadID: return false  // no message belongs to a thread (THREADID NIL)
        case .before(let day): return candidate.message.map { Self.day(of: $0.internalDate) < Self.day(day) } ?? false
        case .on(let day): return candidate.message.map { Self.day(of: $0.internalDate) == Self.day(day) } ?? false
        case .since(let day): return candidate.message.map { Self.day(of: $0.internalDate) >= Self.day(day) } ?? false
        case .savedBefore(let day): return candidate.message.map { Self.day(of: $0.savedDate) < Self.day(day) } ?? false
        case .savedOn(let day): return candidate.message.map { Self.day(of: $0.savedDate) == Self.day(day) } ?? false
        case .savedSince(let day): return candidate.message.map { Self.day(of: $0.savedDate) >= Self.day(day) } ?? false
        case .saveDateSupported: return true  // every mailbox keeps save dates
        case .sentBefore(let day), .sentOn(let day), .sentSince(let day):
            // RFC 9051 §6.4.4: the day written in the Date header, disregarding time and timezone (a
            // message dated 00:30 +0200 was sent on that day, not on the day before in UTC); messages
            // without a readable one never match.
            guard let value = candidate.header?.values("Date").first, let sentDay = MessageDate.writtenDay(value) else { return false }
            switch key {
            case .sentBefore: return sentDay < Self.day(day)
            case .sentOn: return sentDay == Self.day(day)
            default: return sentDay >= Self.day(day)
            }
        case .bcc(let text): return self.addresses(candidate, "Bcc", contain: text)
        case .cc(let text): return self.addresses(candidate, "Cc", contain: text)
        case .from(let text): return self.addresses(candidate, "From", contain: text)
        case .to(let text): return self.addresses(candidate, "To", contain: text)
        case .subject(let text): return self.header(candidate, "Subject", contains: text)
        case .header(let name, let text): return self.header(candidate, name, contains: text)
        case .body(let text):
            return self.bodyHolds(candidate, text)
        case .text(let text):
            guard let header = candidate.header else { return false }
            return self.bodyHolds(candidate, text)
                || header.fields.contains { Self.contains($0.name + ": " + EncodedWords.decode($0.value), text) }
        case .uid(let set):
            return self.contains(set, candidate.uid, largest: self.largestUID, savedUIDs: true)
        case .sequence(let set):
            if case .saved = set { return self.saved.contains(candidate.uid) }
            return self.contains(set, UInt32(candidate.sequence), largest: self.largestSequence, savedUIDs: false)
        case .not(let inner): return !self.matches(inner, candidate)
        case .or(let a, let b): return self.matches(a, candidate) || self.matches(b, candidate)
        case .and(let keys): return keys.allSatisfy { self.matches($0, candidate) }
        }
    }

    private func bodyHolds(_ candidate: Candidate, _ text: String) -> Bool {
        if let held = candidate.bodyWordsHeld { return held.contains(text) }
        guard let body = candidate.bodyText else { return false }
        return Self.contains(body, text)
    }

    /// Whether `key` has a MODSEQ criterion (RFC 7162 §3.1.5): CONDSTORE then turns on, and the answer
    /// carries the highest modseq of the messages found.
    static func usesModSeq(_ key: IMAPSearchKey) -> Bool {
        switch key {
        case .modSeq: true
        case .not(let inner): Self.usesModSeq(inner)
        case .or(let a, let b): Self.usesModSeq(a) || Self.usesModSeq(b)
        case .and(let keys): keys.contains(where: Self.usesModSeq)
        default: false
        }
    }

    /// The words of the BODY and TEXT keys in `key`: what a large message's text is searched for.
    static func bodyWords(_ key: IMAPSearchKey) -> [String] {
        switch key {
        case .body(let text), .text(let text): [text]
        case .not(let inner): Self.bodyWords(inner)
        case .or(let a, let b): Self.bodyWords(a) + Self.bodyWords(b)
        case .and(let keys): keys.flatMap(Self.bodyWords)
        default: []
        }
    }

    private func contains(_ set: IMAPSequenceSet, _ value: UInt32, largest: UInt32, savedUIDs: Bool) -> Bool {
        if case .saved = set { return self.saved.contains(value) }
        return set.resolved(largest: max(largest, 1)).contains { $0.contains(value) }
    }

    private func header(_ candidate: Candidate, _ name: String, contains text: String) -> Bool {
        guard let header = candidate.header else { return false }
        let values = header.values(name)
        // HEADER name "" matches every message that has the field (RFC 9051).
        if text.isEmpty { return !values.isEmpty }
        return values.contains { Self.contains(EncodedWords.decode($0), text) }
    }

    /// An address key (FROM, TO, CC, BCC): the field's text as written (decoded), or any of its
    /// addresses however written — display name, old comment form, comments inside the address —
    /// seen as `Name <local@domain>`, so a search for an address or a name finds it either way.
    private func addresses(_ candidate: Candidate, _ name: String, contain text: String) -> Bool {
        guard let header = candidate.header else { return false }
        let values = header.values(name)
        if text.isEmpty { return !values.isEmpty }
        for value in values {
            if Self.contains(EncodedWords.decode(value), text) { return true }
            for address in AddressList(parsing: value).addresses {
                let written = address.displayName.map { "\(EncodedWords.decode($0)) <\(address.address)>" } ?? address.address
                if Self.contains(written, text) { return true }
            }
        }
        return false
    }

    static func contains(_ haystack: String, _ text: String) -> Bool {
        guard !text.isEmpty else { return true }
        // ASCII on both sides (most header values and search terms): compare bytes, folding only
        // A-Z; Foundation's Unicode case folding was the costliest step of a header SEARCH.
        var haystack = haystack
        var text = text
        if let found = haystack.withUTF8({ hay in text.withUTF8 { needle in Self.asciiContains(hay, needle) } }) { return found }
        return haystack.range(of: text, options: .caseInsensitive) != nil
    }

    /// Whether `haystack` contains `needle` ignoring ASCII case; nil when either holds a non-ASCII byte
    /// (then Unicode case folding decides).
    private static func asciiContains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard !needle.contains(where: { $0 >= 0x80 }), !haystack.contains(where: { $0 >= 0x80 }) else { return nil }
        guard needle.count <= haystack.count else { return false }
        let first = Self.folded(needle[0])
        var start = 0
        while start <= haystack.count - needle.count {
            if Self.folded(haystack[start]) == first {
                var offset = 1
                while offset < needle.count, Self.folded(haystack[start + offset]) == Self.folded(needle[offset]) { offset += 1 }
                if offset == needle.count { return true }
            }
            start += 1
        }
        return false
    }

    /// A quick look at a message's raw header section that rules it out of a search on header text
    /// without parsing it: a header key can match only if each word of its text is in the raw bytes,
    /// because unfolding joins lines only at whitespace and, in a header of ASCII bytes without RFC 2047
    /// words, the value read is the bytes as written (and compares folding only A-Z, as `contains`
    /// does). Anything else — 8-bit bytes, an encoded word — is left to the full evaluation. Parsing
    /// every header was most of a SEARCH SUBJECT on 1,000 messages.
    struct HeaderPrefilter {
        /// Lower-case ASCII words, each of which a matching message's header holds.
        let words: [[UInt8]]

        /// Nil when `key` requires no word: header keys under NOT or OR, or with non-ASCII or empty text.
        init?(_ key: IMAPSearchKey) {
            func required(_ key: IMAPSearchKey) -> [[UInt8]] {
                switch key {
                case .subject(let text), .header(_, let text):
                    return Self.words(text, splitAt: [0x20, 0x09, 0x0D, 0x0A])
                case .from(let text), .to(let text), .cc(let text), .bcc(let text):
                    // An address may be written with comments or white space between its parts
                    // (`user (c)@ (c) example.org`): only the atoms between them are sure to be there.
                    return Self.words(text, splitAt: Array(" \t\r\n@.<>()\",:;".utf8))
                case .and(let keys): return keys.flatMap(required)
                default: return []
                }
            }
            let words = required(key)
            guard !words.isEmpty else { return nil }
            self.words = words
        }

        /// The lower-case words of `text` between the bytes of `separators`; none for non-ASCII text.
        private static func words(_ text: String, splitAt separators: [UInt8]) -> [[UInt8]] {
            let bytes = Array(text.utf8)
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return [] }
            return bytes.split { separators.contains($0) }.map { $0.map(IMAPSearch.folded) }
        }

        /// False only when the header (`content`, its raw bytes) cannot match.
        func mayMatch(_ content: Data) -> Bool {
            content.withUnsafeBytes { raw in
                let count = raw.count
                // A lower-cased copy, searched with memchr and memcmp: a byte-by-byte search in Swift
                // was a sixth of a SEARCH SUBJECT's time.
                return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(count, 1)) { lowered in
                    var high: UInt8 = 0
                    for index in 0..<count {
                        let byte = raw[index]
                        high |= byte
                        lowered[index] = IMAPSearch.folded(byte)
                    }
                    let header = UnsafeBufferPointer(rebasing: lowered[0..<count])
                    if high >= 0x80 || Self.contains(header, Self.encodedWordStart) { return true }
                    return self.words.allSatisfy { Self.contains(header, $0) }
                }
            }
        }

        private static let encodedWordStart: [UInt8] = Array("=?".utf8)

        private static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ word: [UInt8]) -> Bool {
            guard let first = word.first else { return true }
            guard let base = haystack.baseAddress, word.count <= haystack.count else { return false }
            return word.withUnsafeBufferPointer { word in
                guard let wordBase = word.baseAddress else { return true }
                let last = haystack.count - word.count
                var start = 0
                while start <= last {
                    guard let found = memchr(base + start, Int32(first), last - start + 1) else { return false }
                    let index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + index, wordBase, word.count) == 0 { return true }
                    start = index + 1
                }
                return false
            }
        }
    }

    /// A-Z to a-z, every other byte as it is: the only case folding of ASCII comparisons here.
    static func folded(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// Days since the epoch of an instant, in UTC (RFC 9051 compares dates without the time).
    private static func day(of date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    private static func day(_ components: DateComponents) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        guard let date = calendar.date(from: components) else { return 0 }
        return Self.day(of: date)
    }
}
