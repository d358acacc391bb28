import Foundation

/// SEARCH, SORT and THREAD: their options and criteria, and the search keys all three end with
/// (RFC 9051 §6.4.4, RFC 5256 §5).
extension IMAPCommandParser {
    /// SEARCH [RETURN (options)] [CHARSET charset] keys (RFC 9051 §6.4.4).
    func search(_ s: inout IMAPScanner, uid: Bool) throws(IMAPSyntaxError) -> IMAPCommandKind {
        var returning: [IMAPSearchReturn]?
        var charset: String?
        var save = s
        var word = (try? s.atom().uppercased()) ?? ""
        if word == "RETURN" {
            try s.space()
            returning = try Self.returnOptions(&s)
            try s.space()
            save = s
            word = (try? s.atom().uppercased()) ?? ""
        }
        if word == "CHARSET" {
            try s.space()
            charset = try s.astringText().uppercased()
            try s.space()
        } else {
            s = save
        }
        return .search(charset: charset, try self.searchKeys(&s), returning: returning, uid: uid)
    }

    /// RETURN's `(options)` of SEARCH (RFC 4731) and SORT (RFC 5267).
    static func returnOptions(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> [IMAPSearchReturn] {
        let options = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPSearchReturn in
            switch try s.atom().uppercased() {
            case "MIN": return .min
            case "MAX": return .max
            case "ALL": return .all
            case "COUNT": return .count
            case "SAVE": return .save
            // CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4.2).
            case "UPDATE": return .update
            case "CONTEXT": return .context
            case "PARTIAL":
                try s.space()
                return .partial(try Self.partialRange(&s))
            default: throw IMAPSyntaxError("Unknown RETURN option")
            }
        }
        // RFC 9394 §3.1: one PARTIAL at most, and not with ALL.
        let partials = options.filter { if case .partial = $0 { true } else { false } }.count
        guard partials <= 1, partials == 0 || !options.contains(.all) else { throw IMAPSyntaxError("PARTIAL once, and not with ALL") }
        return options
    }

    /// `n:m` or `-n:-m` (RFC 9394 §4), non-zero 32-bit numbers in either order.
    static func partialRange(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPPartialRange {
        let text = try IMAPScanner.text(
            try s.run("a PARTIAL range") { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "-") })
        let ends = text.split(separator: ":", omittingEmptySubsequences: false)
        guard ends.count == 2 else { throw IMAPSyntaxError("A PARTIAL range is n:m or -n:-m") }
        let fromEnd = ends[0].hasPrefix("-")
        guard ends[1].hasPrefix("-") == fromEnd,
            let first = UInt32(fromEnd ? ends[0].dropFirst() : ends[0]), let second = UInt32(fromEnd ? ends[1].dropFirst() : ends[1]),
            first > 0, second > 0
        else { throw IMAPSyntaxError("A PARTIAL range is n:m or -n:-m, of numbers from 1") }
        return IMAPPartialRange(min(first, second)...max(first, second), fromEnd: fromEnd)
    }

    /// `(criteria) charset search-keys` (RFC 5256 §5).
    func sort(_ s: inout IMAPScanner, uid: Bool) throws(IMAPSyntaxError) -> IMAPCommandKind {
        // ESORT (RFC 5267 §3): SORT RETURN (options) before the criteria.
        var returning: [IMAPSearchReturn]?
        if !s.peekIs("(") {
            guard try s.atom().uppercased() == "RETURN" else { throw IMAPSyntaxError("Expected sort criteria") }
            try s.space()
            returning = try Self.returnOptions(&s)
            try s.space()
        }
        var reverse = false
        let words = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPSortCriterion? in
            let word = try s.atom().uppercased()
            if word == "REVERSE" {
                guard !reverse else { throw IMAPSyntaxError("REVERSE twice") }
                reverse = true
                return nil
            }
            guard let key = IMAPSortCriterion.Key(rawValue: word) else { throw IMAPSyntaxError("Unknown sort criterion") }
            defer { reverse = false }
            return IMAPSortCriterion(key, reverse: reverse)
        }
        let criteria = words.compactMap { $0 }
        guard !criteria.isEmpty, !reverse, words.last != nil else { throw IMAPSyntaxError("Incomplete sort criteria") }
        try s.space()
        let charset = try s.astringText().uppercased()
        try s.space()
        return .sort(criteria, charset: charset, try self.searchKeys(&s), uid: uid, returning: returning)
    }

    /// One or more search keys, ANDed (what SEARCH, SORT and THREAD end with).
    func searchKeys(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPSearchKey {
        var keys = [try self.searchKey(&s)]
        while s.take(" ") {
            guard keys.count < 1000 else { throw IMAPSyntaxError("Too many search keys") }
            keys.append(try self.searchKey(&s))
        }
        return keys.count == 1 ? keys[0] : .and(keys)
    }

    func searchKey(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPSearchKey {
        try s.enter()
        defer { s.leave() }
        if s.peekIs("(") {
            let keys = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try self.searchKey(&s) }
            guard !keys.isEmpty else { throw IMAPSyntaxError("Empty search key list") }
            return keys.count == 1 ? keys[0] : .and(keys)
        }
        if let byte = s.peek(), (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "$") {
            return .sequence(try s.sequenceSet())
        }
        let word = try s.atom().uppercased()
        func argument() throws(IMAPSyntaxError) -> String {
            try s.space()
            return try IMAPScanner.text(try s.astring())
        }
        func date() throws(IMAPSyntaxError) -> DateComponents {
            try s.space()
            return try s.date()
        }
        switch word {
        case "ALL": return .all
        case "ANSWERED": return .answered
        case "DELETED": return .deleted
        case "DRAFT": return .draft
        case "FLAGGED": return .flagged
        case "SEEN": return .seen
        case "UNANSWERED": return .unanswered
        case "UNDELETED": return .undeleted
        case "UNDRAFT": return .undraft
        case "UNFLAGGED": return .unflagged
        case "UNSEEN": return .unseen
        case "NEW": return .new
        case "OLD": return .old
        case "RECENT": return .recent
        case "KEYWORD": try s.space(); return .keyword(try s.atom())
        case "UNKEYWORD": try s.space(); return .unkeyword(try s.atom())
        case "BCC": return .bcc(try argument())
        case "BODY": return .body(try argument())
        case "CC": return .cc(try argument())
        case "FROM": return .from(try argument())
        case "SUBJECT": return .subject(try argument())
        case "TEXT": return .text(try argument())
        case "TO": return .to(try argument())
        case "HEADER":
            let field = try argument()
            return .header(field, try argument())
        case "BEFORE": return .before(try date())
        case "ON": return .on(try date())
        case "SINCE": return .since(try date())
        case "SAVEDBEFORE": return .savedBefore(try date())
        case "SAVEDON": return .savedOn(try date())
        case "SAVEDSINCE": return .savedSince(try date())
        case "SAVEDATESUPPORTED": return .saveDateSupported
        case "SENTBEFORE": return .sentBefore(try date())
        case "SENTON": return .sentOn(try date())
        case "SENTSINCE": return .sentSince(try date())
        case "LARGER": try s.space(); return .larger(try s.number(maximum: UInt64(Int64.max)))
        case "SMALLER": try s.space(); return .smaller(try s.number(maximum: UInt64(Int64.max)))
        case "UID": try s.space(); return .uid(try s.sequenceSet())
        case "MODSEQ":
            try s.space()
            // RFC 7162 §3.1.5: an optional entry (a flag's metadata item, `"/flags/\\Seen" all`) before the
            // value. Modseqs are kept per message, not per flag, so the message's own is compared, as the
            // RFC allows for a server that keeps no per-item ones.
            if s.peekIs("\"") {
                let entry = try IMAPScanner.text(try s.quoted())
                guard entry.lowercased().hasPrefix("/flags/") else { throw IMAPSyntaxError("A MODSEQ entry names a flag: /flags/…") }
                try s.space()
                guard ["priv", "shared", "all"].contains(try s.atom().lowercased()) else {
                    throw IMAPSyntaxError("A MODSEQ entry type is priv, shared or all")
                }
                try s.space()
            }
            return .modSeq(try Self.modSeq(&s, allowingZero: true))
        case "EMAILID": try s.space(); return .emailID(try Self.objectID(&s))
        case "THREADID": try s.space(); return .threadID(try Self.objectID(&s))
        case "NOT":
            try s.space()
            return .not(try self.searchKey(&s))
        case "OR":
            try s.space()
            let first = try self.searchKey(&s)
            try s.space()
            return .or(first, try self.searchKey(&s))
        default:
            throw IMAPSyntaxError("Unknown search key \(word.prefix(30))")
        }
    }

    /// An objectid (RFC 8474 §7): 1 to 255 letters, digits, `_` and `-`.
    static func objectID(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> String {
        let id = try s.atom()
        guard (1...255).contains(id.utf8.count), id.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        else { throw IMAPSyntaxError("An object id is 1 to 255 letters, digits, _ and -") }
        return id
    }
}
