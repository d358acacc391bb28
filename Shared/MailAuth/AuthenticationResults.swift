import Foundation

/// The `Authentication-Results` header field (RFC 8601) this server adds to mail it receives, and the
/// removal of any such field that already claims its authserv-id: a sender could otherwise forge our
/// verdicts (§5).
public struct AuthenticationResults: Sendable {
    /// One method's result: `method=result (comment) property=value …`.
    public struct Entry: Sendable, Equatable {
        public let method: String
        public let result: String
        /// A comment after the result, as `(p=reject dis=none)` after a DMARC result.
        public let comment: String?
        public let reason: String?
        public let properties: [(String, String)]

        public init(
            method: String, result: String, comment: String? = nil, reason: String? = nil, properties: [(String, String)] = []
        ) {
            self.method = method
            self.result = result
            self.comment = comment
            self.reason = reason
            self.properties = properties
        }

        public static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.method == rhs.method && lhs.result == rhs.result && lhs.comment == rhs.comment && lhs.reason == rhs.reason
                && lhs.properties.elementsEqual(rhs.properties) { $0 == $1 }
        }

        var text: String {
            var text = "\(self.method)=\(self.result)"
            if let comment = self.comment { text += " (\(comment.filter { $0 != "(" && $0 != ")" && !$0.isNewline }))" }
            if let reason = self.reason { text += " reason=" + AuthenticationResults.quoted(reason) }
            for (name, value) in self.properties { text += " \(name)=" + AuthenticationResults.value(value) }
            return text
        }
    }

    public let authservID: String
    public var entries: [Entry] = []

    public init(authservID: String) {
        self.authservID = authservID
    }

    /// The DKIM verdicts as `dkim=` entries (RFC 8601 §2.7.1, RFC 6008 `header.b`); `dkim=none` for none.
    public mutating func add(dkim verdicts: [DKIMVerdict]) {
        guard !verdicts.isEmpty else {
            self.entries.append(Entry(method: "dkim", result: "none"))
            return
        }
        for verdict in verdicts {
            var properties: [(String, String)] = []
            if let domain = verdict.domain { properties.append(("header.d", domain)) }
            if let selector = verdict.selector { properties.append(("header.s", selector)) }
            if let identity = verdict.identity { properties.append(("header.i", identity)) }
            if let algorithm = verdict.algorithm { properties.append(("header.a", algorithm)) }
            if let prefix = verdict.signaturePrefix { properties.append(("header.b", prefix)) }
            self.entries.append(Entry(method: "dkim", result: verdict.result.rawValue, reason: verdict.reason, properties: properties))
        }
    }

    /// The SPF result of the MAIL FROM identity (RFC 8601 §2.7.2), or of HELO for the null sender.
    public mutating func add(spf outcome: SPFChecker.Outcome, nullSender: Bool) {
        self.entries.append(
            Entry(
                method: "spf", result: outcome.result.rawValue, reason: outcome.reason,
                properties: [(nullSender ? "smtp.helo" : "smtp.mailfrom", outcome.domain)]))
    }

    /// The DMARC result (RFC 7489 §11.2) with the published policy and what was done, as comments.
    public mutating func add(dmarc outcome: DMARCChecker.Outcome) {
        var comment: String?
        if let policy = outcome.publishedPolicy { comment = "p=\(policy.rawValue) dis=\(outcome.disposition.rawValue)" }
        self.entries.append(
            Entry(
                method: "dmarc", result: outcome.result.rawValue, comment: comment, reason: outcome.reason,
                properties: outcome.fromDomain.map { [("header.from", $0)] } ?? []))
    }

    /// The field with its CRLF, one entry per folded line.
    public var field: String {
        var text = "Authentication-Results: \(self.authservID)"
        if self.entries.isEmpty { return text + "; none\r\n" }
        for entry in self.entries { text += ";\r\n\t" + entry.text }
        return text + "\r\n"
    }

    /// A property value (RFC 8601 §2.2 `pvalue`): as is when it is an RFC 2045 token or an address
    /// (`local@domain`, `@domain`), quoted otherwise.
    static func value(_ text: String) -> String {
        let special = Set("()<>@,;:\\\"/[]?=".unicodeScalars)
        func isToken(_ part: Substring) -> Bool {
            !part.isEmpty && part.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && !special.contains($0) }
        }
        if isToken(Substring(text)) { return text }
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2, parts[0].isEmpty || isToken(parts[0]), isToken(parts[1]) { return text }
        return Self.quoted(text)
    }

    static func quoted(_ text: String) -> String {
        // Control characters and line breaks (a peer's text may end up here) are left out.
        let cleaned = text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }
            .map { $0 == "\"" || $0 == "\\" ? "\\" + String($0) : String($0) }.joined()
        return "\"" + String(cleaned.prefix(200)) + "\""
    }

    /// The header section without the `Authentication-Results` fields whose authserv-id is
    /// `authservID` (compared without regard to case).
    public static func removingClaims(of authservID: String, from header: Data) -> Data {
        let fields = DKIMHeaderField.fields(of: header)
        guard fields.contains(where: { Self.claims(authservID, $0) }) else { return header }
        var kept = Data()
        for field in fields where !Self.claims(authservID, field) { kept.append(contentsOf: field.raw) }
        // The empty line after the fields, as it was.
        let fieldsLength = fields.reduce(0) { $0 + $1.raw.count }
        kept.append(header.dropFirst(fieldsLength))
        return kept
    }

    static func claims(_ authservID: String, _ field: DKIMHeaderField) -> Bool {
        guard field.name.lowercased() == "authentication-results" else { return false }
        let value = String(decoding: field.raw.drop { $0 != UInt8(ascii: ":") }.dropFirst(), as: UTF8.self)
        // The authserv-id is the first token, after any comments (RFC 8601 §2.2 allows CFWS).
        var text = Substring(value)
        while true {
            text = text.drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
            guard text.first == "(" else { break }
            var depth = 0
            var index = text.startIndex
            while index < text.endIndex {
                if text[index] == "(" { depth += 1 } else if text[index] == ")" { depth -= 1 }
                index = text.index(after: index)
                if depth == 0 { break }
            }
            text = text[index...]
        }
        let id = text.prefix { $0 != ";" && $0 != " " && $0 != "\t" && $0 != "\r" && $0 != "\n" && $0 != "(" }
        return id.lowercased() == authservID.lowercased()
    }
}
