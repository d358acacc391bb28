/// GETMETADATA and SETMETADATA (RFC 5464 §4.2, §4.3, §5).
extension IMAPCommandParser {
    /// `GETMETADATA [(options)] mailbox (entry ...)|entry`, options MAXSIZE n and DEPTH 0|1|infinity.
    func getMetadata(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPCommandKind {
        try s.space()
        var maxSize: UInt32?
        var depth: IMAPMetadataDepth?
        if s.peekIs("(") {
            _ = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in
                switch try s.atom().uppercased() {
                case "MAXSIZE" where maxSize == nil:
                    try s.space()
                    maxSize = UInt32(try s.number())
                case "DEPTH" where depth == nil:
                    try s.space()
                    switch try s.atom().lowercased() {
                    case "0": depth = .zero
                    case "1": depth = .one
                    case "infinity": depth = .infinity
                    default: throw IMAPSyntaxError("DEPTH is 0, 1 or infinity")
                    }
                default:
                    throw IMAPSyntaxError("Unknown or repeated GETMETADATA option")
                }
            }
            try s.space()
        }
        let mailbox = try self.metadataMailbox(&s)
        try s.space()
        let entries = s.peekIs("(")
            ? try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) in try Self.entry(&s, scope: true) }
            : [try Self.entry(&s, scope: true)]
        guard !entries.isEmpty else { throw IMAPSyntaxError("GETMETADATA needs an entry") }
        return .getMetadata(mailbox, entries: entries, maxSize: maxSize, depth: depth ?? .zero)
    }

    /// `SETMETADATA mailbox (entry value ...)`, each value a string, a literal8 or NIL.
    func setMetadata(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPCommandKind {
        try s.space()
        let mailbox = try self.metadataMailbox(&s)
        try s.space()
        let values = try s.parenthesised { (s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPMetadataValue in
            let entry = try Self.entry(&s)
            try s.space()
            if s.take("~") { return IMAPMetadataValue(entry: entry, value: try s.literal()) }
            return IMAPMetadataValue(entry: entry, value: try s.nstring())
        }
        guard !values.isEmpty else { throw IMAPSyntaxError("SETMETADATA needs an entry") }
        return .setMetadata(mailbox, values)
    }

    /// The mailbox, or nil for `""`: the server's entries.
    private func metadataMailbox(_ s: inout IMAPScanner) throws(IMAPSyntaxError) -> IMAPMailboxName? {
        let mailbox = try s.mailbox(utf8: self.utf8Enabled)
        return mailbox.name.isEmpty ? nil : mailbox
    }

    /// An entry name (RFC 5464 §3.2): `/private/…` or `/shared/…`, its parts separated by one `/`, no
    /// `*` or `%`, no control characters; names are compared without case, so they are kept lower-case.
    /// With `scope`, `/private` or `/shared` alone too: GETMETADATA with DEPTH reaches below it.
    static func entry(_ s: inout IMAPScanner, scope: Bool = false) throws(IMAPSyntaxError) -> String {
        let name = try s.astringText().lowercased()
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard name.utf8.count <= 1024, parts.count >= (scope ? 2 : 3), parts[0].isEmpty, ["private", "shared"].contains(parts[1]),
            !parts.dropFirst().contains(where: \.isEmpty),
            !name.unicodeScalars.contains(where: { $0 == "*" || $0 == "%" || $0.value < 0x20 || $0.value == 0x7F })
        else { throw IMAPSyntaxError("An entry is /private/name or /shared/name, without *, % or an empty part") }
        return name
    }
}
