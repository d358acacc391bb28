/// Dovecot's `passwd-file` (its users and their password hashes): a line per user,
/// `user:password:uid:gid:gecos:home:shell:extra fields`, the password usually with a `{SCHEME}`
/// prefix, the extra fields space-separated `key=value` pairs (`userdb_quota_rule=*:storage=1G`).
/// Empty lines and `#` comments are skipped.
public struct DovecotPasswdFile: Sendable, Equatable {
    public struct User: Sendable, Equatable {
        public let name: String
        /// As written, scheme prefix included; empty when the line has none.
        public let password: String
        public let extraFields: [String: String]
        /// The line it is on.
        public let line: Int

        /// The storage quota of a `quota_rule` (or `userdb_quota_rule`) of `*:storage=…`, in octets:
        /// a number with B, K, M, G or T, or without one in kilobytes, as Dovecot reads it; nil when
        /// there is none or it is not a size (a percentage, `+`, `-`).
        public var quotaBytes: Int64? {
            guard let rule = self.extraFields["userdb_quota_rule"] ?? self.extraFields["quota_rule"],
                rule.hasPrefix("*:storage=")
            else { return nil }
            var value = rule.dropFirst("*:storage=".count)
            var unit: Int64 = 1024
            if let last = value.last, last.isLetter {
                switch last.uppercased() {
                case "B": unit = 1
                case "K": unit = 1 << 10
                case "M": unit = 1 << 20
                case "G": unit = 1 << 30
                case "T": unit = 1 << 40
                default: return nil
                }
                value = value.dropLast()
            }
            guard !value.isEmpty, value.count <= 12, value.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int64(value)
            else { return nil }
            let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
            return overflow ? nil : bytes
        }
    }

    public let users: [User]

    public init(parsing text: String) {
        var users: [User] = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let fields = trimmed.split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false)
            guard let name = fields.first, !name.isEmpty else { continue }
            var extra: [String: String] = [:]
            if fields.count == 8 {
                for pair in fields[7].split(separator: " ") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { extra[String(parts[0])] = String(parts[1]) }
                }
            }
            users.append(User(name: String(name), password: fields.count > 1 ? String(fields[1]) : "", extraFields: extra, line: index + 1))
        }
        self.users = users
    }
}
