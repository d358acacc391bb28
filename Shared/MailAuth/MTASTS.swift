import Crypto
import Foundation

/// The `_mta-sts.<domain>` TXT record (RFC 8461 §3.1): announces that the domain has a policy and
/// names its version, so a cached copy is fetched again only when `id` changes.
public struct MTASTSRecord: Sendable, Equatable {
    public let id: String

    public init(id: String) { self.id = id }

    /// The one record among a name's TXT strings (each already joined), or nil when there is none or
    /// more than one or it is malformed: the domain then has no policy available (§3.1).
    public static func select(_ texts: [String]) -> MTASTSRecord? {
        let candidates = texts.filter { $0.hasPrefix("v=STSv1;") || $0 == "v=STSv1" }
        guard candidates.count == 1 else { return nil }
        return Self(parsing: candidates[0])
    }

    /// `v=STSv1; id=20260101T000000;` with `v` first, `id` of 1 to 32 letters and digits; other
    /// fields (extensions) are ignored.
    public init?(parsing text: String) {
        var fields = text.split(separator: ";", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if fields.last == "" { fields.removeLast() }
        guard fields.first == "v=STSv1" else { return nil }
        var id: String?
        for field in fields.dropFirst() {
            guard let equals = field.firstIndex(of: "=") else { return nil }
            let name = field[..<equals].trimmingCharacters(in: .whitespaces)
            let value = field[field.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if name == "id" && id == nil {
                guard (1...32).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
                else { return nil }
                id = value
            }
        }
        guard let id else { return nil }
        self.id = id
    }
}

/// A domain's MTA-STS policy (RFC 8461 §3.2), as served at
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt`: which MX hosts may receive its mail, whether
/// a sender must refuse others and unauthenticated TLS (`enforce`) or only report them (`testing`),
/// and how long the policy may be kept.
public struct MTASTSPolicy: Sendable, Equatable {
    public enum Mode: String, Sendable {
        case enforce, testing, none
    }

    public let mode: Mode
    /// MX host patterns: a name, or `*.` and a name (which stands for exactly one further label).
    public let mx: [String]
    /// Seconds the policy may be cached (at most 31,557,600: a year).
    public let maxAge: Int

    public init(mode: Mode, mx: [String], maxAge: Int) {
        self.mode = mode
        self.mx = mx.map { $0.lowercased() }
        self.maxAge = maxAge
    }

    public static let maximumAge = 31_557_600
    /// Policies are small; a larger body is refused rather than read (§3.3 leaves the bound to the sender).
    public static let maximumBytes = 65_536

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notText
        case missingField(String)
        case invalid(String, String)
        public var description: String {
            switch self {
            case .notText: "the policy is not UTF-8 text"
            case .missingField(let name): "the policy has no \(name) field"
            case .invalid(let name, let value): "the policy's \(name) field is invalid: \(value)"
            }
        }
    }

    /// `key: value` lines ended by LF or CRLF. Fields other than `mx` count once (the first); unknown
    /// fields are ignored, as §3.2 asks for extensions.
    public init(parsing body: [UInt8]) throws(ParseError) {
        guard let text = String(validating: body, as: UTF8.self) else { throw .notText }
        var fields: [String: String] = [:]
        var mx: [String] = []
        // CRLF is one Character in Swift, so both line ends are named.
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            guard let colon = line.firstIndex(of: ":") else {
                if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
                throw .invalid("line", String(line.prefix(80)))
            }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "mx" {
                guard Self.isPattern(value) else { throw .invalid("mx", value) }
                mx.append(value.lowercased())
            } else if fields[name] == nil {
                fields[name] = value
            }
        }
        guard let version = fields["version"] else { throw .missingField("version") }
        guard version == "STSv1" else { throw .invalid("version", version) }
        guard let modeText = fields["mode"] else { throw .missingField("mode") }
        guard let mode = Mode(rawValue: modeText) else { throw .invalid("mode", modeText) }
        guard let ageText = fields["max_age"] else { throw .missingField("max_age") }
        guard ageText.count <= 10, ageText.allSatisfy(\.isASCIIDigit), let age = Int(ageText), age <= Self.maximumAge
        else { throw .invalid("max_age", ageText) }
        // "mx" may be left out only by a policy that asks for nothing.
        guard !mx.isEmpty || mode == .none else { throw .missingField("mx") }
        self.init(mode: mode, mx: mx, maxAge: age)
    }

    /// The policy's fields, a line each (the policy-string of a TLS report, RFC 8460 §4.4).
    public var lines: [String] {
        ["version: STSv1", "mode: \(self.mode.rawValue)"] + self.mx.map { "mx: \($0)" } + ["max_age: \(self.maxAge)"]
    }

    /// The policy as a policy host serves it: its lines, each ended by CRLF (§3.2).
    public var text: String { self.lines.map { $0 + "\r\n" }.joined() }

    /// An `id` for the `_mta-sts` record (§3.1) that changes whenever the policy does: the first 20 hex
    /// digits of its text's SHA-256, so that publishing a changed policy without a new id cannot happen.
    public var digestID: String {
        SHA256.hash(data: Array(self.text.utf8)).prefix(10).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether an MX host name is one the policy lists (§4.1): equal ignoring case and a final dot, or
    /// matching `*.rest` where the host is one label followed by `rest`.
    public func permits(mx host: String) -> Bool {
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return self.mx.contains { pattern in
            if pattern.hasPrefix("*.") {
                let rest = pattern.dropFirst(2)
                guard let dot = name.firstIndex(of: "."), dot != name.startIndex else { return false }
                return name[name.index(after: dot)...] == rest
            }
            return pattern == name
        }
    }

    /// A host name of letters, digits, hyphens and dots, with at most a leading `*.`.
    public static func isPattern(_ value: String) -> Bool {
        let name = value.hasPrefix("*.") ? value.dropFirst(2) : value[...]
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }
}
