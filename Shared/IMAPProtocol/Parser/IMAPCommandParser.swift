import Foundation

/// Parses one framed command (RFC 9051 §9 grammar, RFC 3501's too). Pure and total: any input gives a
/// command or an `IMAPSyntaxError`; the tag is known whenever the first token is a valid tag, so the
/// `BAD` reply can carry it (`*` otherwise).
public struct IMAPCommandParser: Sendable {
    /// UTF8=ACCEPT is enabled (RFC 6855): mailbox names are UTF-8, not modified UTF-7.
    public var utf8Enabled: Bool

    public init(utf8Enabled: Bool = false) { self.utf8Enabled = utf8Enabled }

    public func parse(_ bytes: IMAPCommandBytes) -> Result<IMAPCommand, IMAPParseFailure> {
        var scanner = IMAPScanner(bytes)
        let tag: String
        do throws(IMAPSyntaxError) {
            tag = try scanner.tag()
            try scanner.space()
        } catch {
            return .failure(IMAPParseFailure(tag: "*", error: IMAPSyntaxError("Invalid tag")))
        }
        do throws(IMAPSyntaxError) {
            let kind = try self.command(&scanner)
            try scanner.end()
            return .success(IMAPCommand(tag: tag, kind: kind))
        } catch {
            return .failure(IMAPParseFailure(tag: tag, error: error))
        }
    }

    private func command(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPCommandKind {
        let name = try s.atom().uppercased()
        switch name {
        case "CAPABILITY": return .capability
        case "NOOP": return .noop
        case "LOGOUT": return .logout
        case "STARTTLS": return .startTLS
        case "UNAUTHENTICATE": return .unauthenticate
        case "COMPRESS":
            try s.space()
            return .compress(try s.atom().uppercased())
        case "NAMESPACE": return .namespace
        case "IDLE": return .idle
        case "NOTIFY": return try self.notify(&s)
        case "CANCELUPDATE":
            // RFC 5267 §4.4: one or more tags, as strings.
            var tags: [String] = []
            while s.take(" ") {
                guard tags.count < 100 else { throw IMAPSyntaxError("Too many tags") }
                tags.append(try IMAPScanner.text(try s.string()))
            }
            guard !tags.isEmpty else { throw IMAPSyntaxError("CANCELUPDATE needs a tag") }
            return .cancelUpdate(tags)
        case "CHECK": return .check
        case "CLOSE": return .close
        case "UNSELECT": return .unselect
        case "EXPUNGE": return .expunge
        case "AUTHENTICATE":
            try s.space()
            let mechanism = try s.atom().uppercased()
            var initial: String?
            if s.take(" ") {
                // SASL-IR (RFC 4959): base64 or `=` for an empty response.
                initial = try IMAPScanner.text(try s.run("an initial response") { Self.isBase64OrEquals($0) })
            }
            return .authenticate(mechanism: mechanism, initialResponse: initial)
        case "LOGIN":
            try s.space()
            let user = try s.astringText()
            try s.space()
            let password = try s.astringText()
            return .login(user: user, password: password)
        case "ENABLE":
            var capabilities: [String] = []
            while s.take(" ") { capabilities.append(try s.atom().uppercased()) }
            guard !capabilities.isEmpty else { throw IMAPSyntaxError("ENABLE needs a capability") }
            return .enable(capabilities)
        case "SELECT", "EXAMINE":
            try s.space()
            let mailbox = try s.mailbox(utf8: self.utf8Enabled)
            var condstore = false
            var qresync: IMAPQResync?
            if s.take(" ") {
                // select-params: CONDSTORE (RFC 7162 §3.1.8) and QRESYNC (…) (§3.2.5); others are unknown.
                _ = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in
                    switch try s.atom().uppercased() {
                    case "CONDSTORE": condstore = true
                    case "QRESYNC":
                        try s.space()
                        qresync = try self.qresyncParameter(&s)
                    default: throw IMAPSyntaxError("Unknown SELECT parameter")
                    }
                }
            }
            return .select(mailbox, readOnly: name == "EXAMINE", condstore: condstore, qresync: qresync)
        case "CREATE":
            try s.space()
            let mailbox = try s.mailbox(utf8: self.utf8Enabled)
            var use: [IMAPFlag] = []
            if s.take(" ") {
                // create-params (RFC 4466): a name, then its value if any. USE (RFC 6154) is read, the
                // others are skipped in full, nested lists included.
                var previous: String?
                _ = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in
                    if previous == "USE", s.peekIs("(") {
                        use += try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try s.flag() }
                        previous = nil
                    } else if s.peekIs("(") {
                        try self.skipParenthesised(&s)
                        previous = nil
                    } else if s.peekIs("\\") {
                        _ = try s.flag()
                        previous = nil
                    } else {
                        previous = try s.astringText().uppercased()
                    }
                }
            }
            return .create(mailbox, use: use)
        case "DELETE": try s.space(); return .delete(try s.mailbox(utf8: self.utf8Enabled))
        case "SUBSCRIBE": try s.space(); return .subscribe(try s.mailbox(utf8: self.utf8Enabled))
        case "UNSUBSCRIBE": try s.space(); return .unsubscribe(try s.mailbox(utf8: self.utf8Enabled))
        case "RENAME":
            try s.space()
            let from = try s.mailbox(utf8: self.utf8Enabled)
            try s.space()
            return .rename(from, to: try s.mailbox(utf8: self.utf8Enabled))
        case "LIST": return try self.list(&s)
        case "LSUB":
            try s.space()
            let reference = try self.decodedName(try s.astringText())
            try s.space()
            return .lsub(reference: reference, pattern: try self.decodedName(try s.listMailbox()))
        case "GETQUOTAROOT":
            try s.space()
            return .getQuotaRoot(try s.mailbox(utf8: self.utf8Enabled))
        case "GETQUOTA":
            try s.space()
            return .getQuota(root: try s.astringText())
        case "SETQUOTA":
            try s.space()
            let root = try s.astringText()
            try s.space()
            let limits = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPQuotaLimit in
                let resource = try s.atom().uppercased()
                try s.space()
                guard let limit = UInt64(try s.atom()) else { throw IMAPSyntaxError("A quota limit is a number") }
                return IMAPQuotaLimit(resource: resource, limit: limit)
            }
            return .setQuota(root: root, limits: limits)
        case "STATUS":
            try s.space()
            let mailbox = try s.mailbox(utf8: self.utf8Enabled)
            try s.space()
            return .status(mailbox, try self.statusAttributes(&s))
        case "APPEND": return try self.append(&s)
        case "GETMETADATA": return try self.getMetadata(&s)
        case "SETMETADATA": return try self.setMetadata(&s)
        case "COPY", "MOVE", "STORE", "FETCH", "SEARCH", "SORT", "THREAD":
            return try self.messageCommand(name, &s, uid: false)
        case "UID":
            try s.space()
            let sub = try s.atom().uppercased()
            if sub == "EXPUNGE" {
                try s.space()
                return .uidExpunge(try s.sequenceSet())
            }
            guard ["COPY", "MOVE", "STORE", "FETCH", "SEARCH", "SORT", "THREAD"].contains(sub) else {
                throw IMAPSyntaxError("Unknown UID command")
            }
            return try self.messageCommand(sub, &s, uid: true)
        case "ID":
            try s.space()
            if s.peekIs("(") {
                var fields: [String: String] = [:]
                let items = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> [UInt8]? in try s.nstring() }
                guard items.count % 2 == 0 else { throw IMAPSyntaxError("ID needs field and value pairs") }
                // RFC 2971 §3.3: at most 30 pairs, field names of at most 30 octets, values of at most 1,024.
                guard items.count <= 60 else { throw IMAPSyntaxError("ID takes at most 30 field and value pairs", exceedsLimit: true) }
                for index in stride(from: 0, to: items.count, by: 2) {
                    guard let key = items[index] else { throw IMAPSyntaxError("ID field names are strings") }
                    guard key.count <= 30 else { throw IMAPSyntaxError("ID field names are at most 30 octets", exceedsLimit: true) }
                    guard (items[index + 1]?.count ?? 0) <= 1024 else {
                        throw IMAPSyntaxError("ID values are at most 1024 octets", exceedsLimit: true)
                    }
                    fields[String(decoding: key, as: UTF8.self)] = items[index + 1].map { String(decoding: $0, as: UTF8.self) }
                }
                return .id(fields)
            }
            guard try s.atom().uppercased() == "NIL" else { throw IMAPSyntaxError("ID needs a list or NIL") }
            return .id(nil)
        default:
            throw IMAPSyntaxError("Unknown command")
        }
    }

    private static func isBase64OrEquals(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
            || byte == UInt8(ascii: "=")
    }

    /// A LIST reference or pattern, decoded like a mailbox name (wildcards pass through unchanged).
    private func decodedName(_ text: String) throws(IMAPSyntaxError) -> String {
        if self.utf8Enabled { return text }
        guard let decoded = ModifiedUTF7.decode(text) else { throw IMAPSyntaxError("Invalid modified UTF-7 in mailbox name") }
        return decoded
    }

    private func skipParenthesised(_ s: inout IMAPScanner) throws(IMAPSyntaxError) {
        _ = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in
            if s.peekIs("(") {
                try self.skipParenthesised(&s)
            } else if s.peekIs("\\") {
                _ = try s.flag()
            } else {
                _ = try s.astring()
            }
        }
    }

    /// LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)] (RFC 5258).
    private func list(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPCommandKind {
        try s.space()
        var selection: [String] = []
        if s.peekIs("(") {
            selection = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try s.atom().uppercased() }
            try s.space()
        }
        let reference = try self.decodedName(try s.astringText())
        try s.space()
        let patterns: [String]
        if s.peekIs("(") {
            patterns = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try self.decodedName(try s.listMailbox()) }
            guard !patterns.isEmpty else { throw IMAPSyntaxError("LIST needs a pattern") }
        } else {
            patterns = [try self.decodedName(try s.listMailbox())]
        }
        var returning: [String] = []
        var status: [IMAPStatusAttribute] = []
        if s.take(" ") {
            guard try s.atom().uppercased() == "RETURN" else { throw IMAPSyntaxError("Expected RETURN") }
            try s.space()
            let options = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> String? in
                let option = try s.atom().uppercased()
                guard option == "STATUS" else { return option }
                // STATUS (items) as a return option (RFC 5819).
                try s.space()
                status = try self.statusAttributes(&s)
                return nil
            }
            returning = options.compactMap { $0 }
        }
        return .list(reference: reference, patterns: patterns, selection: selection, returning: returning, status: status)
    }

    /// `(item ...)` of STATUS, and of LIST's STATUS return option: at least one known item.
    private func statusAttributes(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> [IMAPStatusAttribute] {
        let attributes = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPStatusAttribute in
            let atom = try s.atom().uppercased()
            guard let attribute = IMAPStatusAttribute(rawValue: atom) else { throw IMAPSyntaxError("Unknown STATUS item \(atom.prefix(30))") }
            return attribute
        }
        guard !attributes.isEmpty else { throw IMAPSyntaxError("STATUS needs at least one item") }
        return attributes
    }

    /// APPEND mailbox [(flags)] [date-time] literal (RFC 9051 §6.3.12).
    /// `APPEND mailbox message *(SP message)`, each message `[flag-list SP] [date-time SP] literal`
    /// (RFC 3502 §6.3.11).
    private func append(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPCommandKind {
        try s.space()
        let mailbox = try s.mailbox(utf8: self.utf8Enabled)
        var messages: [IMAPAppendedMessage] = []
        repeat {
            try s.space()
            // imapclient puts two spaces between one message's literal and the next.
            if !messages.isEmpty { while s.take(" ") {} }
            messages.append(try self.appendedMessage(&s))
        } while !s.atEnd
        return .append(mailbox, messages)
    }

    private func appendedMessage(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPAppendedMessage {
        var flags: [IMAPFlag] = []
        if s.peekIs("(") {
            flags = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try s.flag() }
            try s.space()
        }
        var date: Date?
        if s.peekIs("\"") {
            date = try s.dateTime()
            try s.space()
        }
        // CATENATE (URL url / TEXT literal ...) (RFC 4469 §5).
        if s.peekIs("C") || s.peekIs("c") {
            var word = s
            if try word.atom().uppercased() == "CATENATE" {
                s = word
                try s.space()
                let parts = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPCatenatePart in
                    switch try s.atom().uppercased() {
                    case "URL":
                        try s.space()
                        return .url(try s.astringText())
                    case "TEXT":
                        try s.space()
                        if s.take("~") {}
                        return .text(try s.literal())
                    default:
                        throw IMAPSyntaxError("A CATENATE part is URL or TEXT")
                    }
                }
                guard !parts.isEmpty else { throw IMAPSyntaxError("CATENATE needs a part") }
                return IMAPAppendedMessage(flags: flags, internalDate: date, message: [], catenate: parts)
            }
        }
        // After ENABLE UTF8=ACCEPT the message may come as `UTF8 (~{n}...)` (RFC 6855 §4): same bytes.
        var wrapped = false
        if self.utf8Enabled, !s.peekIs("{"), !s.peekIs("~") {
            guard try s.atom().uppercased() == "UTF8" else { throw IMAPSyntaxError("APPEND needs the message as a literal") }
            try s.space()
            try s.expect("(")
            guard s.peekIs("~") else { throw IMAPSyntaxError("APPEND UTF8 needs a literal8 (~{n})") }
            wrapped = true
        }
        guard s.peekIs("{") || s.peekIs("~") else { throw IMAPSyntaxError("APPEND needs the message as a literal") }
        if s.take("~") {}
        let message = try s.literal()
        let streamed = s.lastLiteralStreamed
        if wrapped { try s.expect(")") }
        return IMAPAppendedMessage(flags: flags, internalDate: date, message: message, streamed: streamed)
    }

    private func messageCommand(_ name: String, _ s: inout IMAPScanner, uid: Bool) throws(IMAPSyntaxError) -> IMAPCommandKind {
        try s.space()
        if name == "SEARCH" { return try self.search(&s, uid: uid) }
        if name == "SORT" { return try self.sort(&s, uid: uid) }
        if name == "THREAD" {
            // `algorithm charset search-keys` (RFC 5256 §5).
            let algorithm = try s.atom().uppercased()
            try s.space()
            let charset = try s.astringText().uppercased()
            try s.space()
            return .thread(algorithm: algorithm, charset: charset, try self.searchKeys(&s), uid: uid)
        }
        let set = try s.sequenceSet()
        try s.space()
        switch name {
        case "COPY": return .copy(set, try s.mailbox(utf8: self.utf8Enabled), uid: uid)
        case "MOVE": return .move(set, try s.mailbox(utf8: self.utf8Enabled), uid: uid)
        case "STORE":
            // store-modifier: (UNCHANGEDSINCE n) before the action (RFC 7162 §3.1.3).
            var unchangedSince: UInt64?
            if s.take("(") {
                guard try s.atom().uppercased() == "UNCHANGEDSINCE" else { throw IMAPSyntaxError("Expected UNCHANGEDSINCE") }
                try s.space()
                unchangedSince = try Self.modSeq(&s, allowingZero: true)
                try s.expect(")")
                try s.space()
            }
            var action = try self.storeAction(&s)
            action.unchangedSince = unchangedSince
            return .store(set, action, uid: uid)
        default:
            let attributes = try self.fetchAttributes(&s)
            // fetch-modifiers: (CHANGEDSINCE n [VANISHED]) after the items (RFC 7162 §3.1.4.1, §3.2.6).
            var changedSince: UInt64?
            var vanished = false
            var partial: IMAPPartialRange?
            if s.take(" ") {
                // fetch-modifiers, each once, in any order: CHANGEDSINCE n, VANISHED (RFC 7162 §3.1.4.1,
                // §3.2.6), PARTIAL range (RFC 9394 §3.2).
                _ = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in
                    switch try s.atom().uppercased() {
                    case "CHANGEDSINCE" where changedSince == nil:
                        try s.space()
                        changedSince = try Self.modSeq(&s)
                    case "VANISHED" where !vanished:
                        guard uid else { throw IMAPSyntaxError("Only UID FETCH takes VANISHED") }
                        vanished = true
                    case "PARTIAL" where partial == nil:
                        try s.space()
                        partial = try Self.partialRange(&s)
                    default:
                        throw IMAPSyntaxError("Unknown or repeated FETCH modifier")
                    }
                }
                if vanished, changedSince == nil { throw IMAPSyntaxError("VANISHED needs CHANGEDSINCE") }
            }
            return .fetch(set, attributes, uid: uid, changedSince: changedSince, vanished: vanished, partial: partial)
        }
    }

    /// `(uidvalidity modseq [known-uids [(seq-match-data)]])` (RFC 7162 §3.2.5).
    private func qresyncParameter(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPQResync {
        try s.expect("(")
        let validity = try s.nzNumber()
        try s.space()
        let modSeq = try Self.modSeq(&s)
        var known: IMAPSequenceSet?
        if s.take(" ") {
            known = try s.sequenceSet()
            if s.take(" ") {
                // seq-match-data: two sequence sets, read for their syntax.
                _ = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try s.sequenceSet() }
            }
        }
        try s.expect(")")
        return IMAPQResync(uidValidity: validity, modSeq: modSeq, knownUIDs: known)
    }

    /// A mod-sequence value (RFC 7162 §7: 1 to 2^63-1; UNCHANGEDSINCE takes 0 too).
    static func modSeq(_ s: inout IMAPScanner, allowingZero: Bool = false) throws(IMAPSyntaxError) -> UInt64 {
        let value = try s.number(maximum: UInt64(Int64.max))
        guard allowingZero || value > 0 else { throw IMAPSyntaxError("A mod-sequence value is at least 1") }
        return value
    }

    /// [+|-]FLAGS[.SILENT] SP (flag-list | flag *(SP flag)).
    private func storeAction(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPStoreAction {
        let mode: IMAPStoreAction.Mode = s.take("+") ? .add : (s.take("-") ? .remove : .replace)
        let item = try s.atom().uppercased()
        guard item == "FLAGS" || item == "FLAGS.SILENT" else { throw IMAPSyntaxError("STORE supports FLAGS only") }
        try s.space()
        var flags: [IMAPFlag]
        if s.peekIs("(") {
            flags = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try s.flag() }
        } else {
            flags = [try s.flag()]
            while s.take(" ") { flags.append(try s.flag()) }
        }
        return IMAPStoreAction(mode: mode, silent: item == "FLAGS.SILENT", flags: flags)
    }

    func fetchAttributes(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> [IMAPFetchAttribute] {
        if s.peekIs("(") {
            let attributes = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try self.fetchAttribute(&s) }
            guard !attributes.isEmpty else { throw IMAPSyntaxError("FETCH needs at least one item") }
            return attributes
        }
        let save = s
        let macro = try s.atom().uppercased()
        switch macro {
        case "ALL": return [.flags, .internalDate, .rfc822Size, .envelope]
        case "FAST": return [.flags, .internalDate, .rfc822Size]
        case "FULL": return [.flags, .internalDate, .rfc822Size, .envelope, .body]
        default:
            s = save
            return [try self.fetchAttribute(&s)]
        }
    }

    private func fetchAttribute(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPFetchAttribute {
        // The item name runs up to `[` (an atom character, so not a delimiter for `atom()`), a space or `)`.
        let name = try IMAPScanner.text(try s.run("a FETCH item") { IMAPGrammar.isAtomChar($0) && $0 != UInt8(ascii: "[") }).uppercased()
        switch name {
        case "ENVELOPE": return .envelope
        case "FLAGS": return .flags
        case "INTERNALDATE": return .internalDate
        case "RFC822.SIZE": return .rfc822Size
        case "UID": return .uid
        case "BODYSTRUCTURE": return .bodyStructure
        case "RFC822": return .rfc822
        case "RFC822.HEADER": return .rfc822Header
        case "RFC822.TEXT": return .rfc822Text
        case "MODSEQ": return .modSeq
        case "EMAILID": return .emailID
        case "THREADID": return .threadID
        case "SAVEDATE": return .saveDate
        case "PREVIEW":
            // `PREVIEW (LAZY)` (RFC 8970 §6); the next item cannot start with "(".
            var modifiers = s
            guard modifiers.take(" "), modifiers.take("(") else { return .preview(lazy: false) }
            s = modifiers
            var lazy = false
            repeat {
                guard try s.atom().uppercased() == "LAZY" else { throw IMAPSyntaxError("Unknown PREVIEW modifier") }
                lazy = true
            } while s.take(" ")
            try s.expect(")")
            return .preview(lazy: lazy)
        case "BODY" where !s.peekIs("["): return .body
        case "BODY", "BODY.PEEK":
            let section = try self.section(&s)
            return .bodySection(section, peek: name == "BODY.PEEK", partial: try self.partial(&s))
        case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
            try s.expect("[")
            let part = s.peekIs("]") ? [] : try self.partNumbers(&s)
            try s.expect("]")
            if name == "BINARY.SIZE" { return .binarySize(part: part) }
            return .binary(part: part, peek: name == "BINARY.PEEK", partial: try self.partial(&s))
        default:
            throw IMAPSyntaxError("Unknown FETCH item \(name.prefix(30))")
        }
    }

    /// `[` section-spec `]` (RFC 9051 §6.4.5).
    private func section(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPSection {
        try s.expect("[")
        var section = IMAPSection()
        if s.take("]") { return section }
        if let byte = s.peek(), byte >= 0x31, byte <= 0x39 {
            section.part = try self.partNumbers(&s)
            guard s.take(".") else {
                try s.expect("]")
                return section
            }
        }
        let text = try IMAPScanner.text(try s.run("a section") { IMAPGrammar.isAtomChar($0) && $0 != UInt8(ascii: "[") }).uppercased()
        switch text {
        case "HEADER": section.text = .header
        case "TEXT": section.text = .text
        case "MIME" where !section.part.isEmpty: section.text = .mime
        case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
            try s.space()
            let fields = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try s.astringText() }
            guard !fields.isEmpty else { throw IMAPSyntaxError("HEADER.FIELDS needs field names") }
            section.text = text == "HEADER.FIELDS" ? .headerFields(fields) : .headerFieldsNot(fields)
        default:
            throw IMAPSyntaxError("Invalid section")
        }
        try s.expect("]")
        return section
    }

    /// nz-number *("." nz-number), stopping before `.HEADER` and the like.
    private func partNumbers(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> [Int] {
        var part = [Int(try s.nzNumber())]
        while s.peekIs(".") {
            var probe = s
            probe.advance()
            guard let byte = probe.peek(), byte >= 0x30, byte <= 0x39 else { break }
            s = probe
            guard part.count < 100 else { throw IMAPSyntaxError("Section too deep") }
            part.append(Int(try s.nzNumber()))
        }
        return part
    }

    /// `<` offset `.` length `>`; 32-bit numbers (never overflows; clamped when used).
    private func partial(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> ClosedRange<UInt32>? {
        guard s.take("<") else { return nil }
        let offset = UInt32(try s.number())
        try s.expect(".")
        let length = try s.nzNumber()
        try s.expect(">")
        return offset...UInt32(min(UInt64(offset) + UInt64(length) - 1, UInt64(UInt32.max)))
    }
}

/// A command that did not parse, with the tag to answer `BAD` to.
public struct IMAPParseFailure: Error, Sendable, Equatable {
    public let tag: String
    public let error: IMAPSyntaxError
}
