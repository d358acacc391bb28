import MailFormat

/// A reply as an SMTP client receives it (RFC 5321 §4.2): a three-digit code and one or more text
/// lines. `SMTPReply` is what our server sends; this is what a remote server sent us.
public struct SMTPResponse: Sendable, Equatable, CustomStringConvertible {
    public let code: Int
    public let lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    public var isPositive: Bool { (200..<300).contains(self.code) }
    public var isPermanent: Bool { (500..<600).contains(self.code) }

    /// `250 2.1.0 Ok` for logs, queue errors and bounce reports: the first line, bounded.
    public var description: String {
        String("\(self.code) \(self.lines.first ?? "")".prefix(512))
    }

    /// EHLO keywords (the lines after the first), upper-cased, with their parameters.
    public var extensions: [String: String] {
        var extensions: [String: String] = [:]
        for line in self.lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard let keyword = parts.first else { continue }
            extensions[keyword.uppercased()] = parts.count > 1 ? String(parts[1]) : ""
        }
        return extensions
    }
}

/// Assembles reply lines into replies: `250-first`, `250-second`, `250 last`.
public struct SMTPResponseParser: Sendable {
    public enum Failure: Error, Equatable {
        /// Not `ddd`, `ddd-text` or `ddd text`, or a continuation with another code.
        case malformed(String)
        /// More lines than `maximumLines` in one reply.
        case tooManyLines
    }

    private var code: Int?
    private var lines: [String] = []
    public let maximumLines: Int

    public init(maximumLines: Int = 200) { self.maximumLines = maximumLines }

    /// Feeds one line (without CRLF); returns the reply once its last line has come.
    public mutating func feed(_ line: [UInt8]) throws(Failure) -> SMTPResponse? {
        guard line.count >= 3, line.prefix(3).allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            line.count == 3 || line[3] == UInt8(ascii: " ") || line[3] == UInt8(ascii: "-")
        else { throw .malformed(String(decoding: line.prefix(80), as: UTF8.self)) }
        let code = line.prefix(3).reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        if let current = self.code, current != code {
            throw .malformed("reply code changed from \(current) to \(code) within one reply")
        }
        self.code = code
        self.lines.append(line.count > 4 ? String(decoding: line[4...], as: UTF8.self) : "")
        guard self.lines.count <= self.maximumLines else { throw .tooManyLines }
        if line.count > 3 && line[3] == UInt8(ascii: "-") { return nil }
        let response = SMTPResponse(code: code, lines: self.lines)
        self.code = nil
        self.lines = []
        return response
    }
}

/// Message content as it goes on the wire (RFC 5321 §4.5.2), see `WireLines`: after DATA dot-stuffed
/// and ended by `CRLF.CRLF`; a BDAT chunk (RFC 3030) with its line ends normalised only.
public enum SMTPDataEncoder {
    /// For DATA: normalised, dot-stuffed, terminated by `.CRLF`.
    public static func encode(_ content: some Collection<UInt8>) -> [UInt8] {
        WireLines.dotTerminated(content)
    }

    /// For BDAT: normalised line ends only (the octet count frames the content, RFC 3030 §2).
    public static func chunk(_ content: some Collection<UInt8>) -> [UInt8] {
        WireLines.normalised(content, dotStuffing: false)
    }
}
