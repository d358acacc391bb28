import Foundation
import MailFormat

/// RFC 2449 §8 / RFC 3206 extended response codes, in brackets after `-ERR`.
public enum POP3ResponseCode: String, Sendable {
    case inUse = "IN-USE"
    case loginDelay = "LOGIN-DELAY"
    case systemTemporary = "SYS/TEMP"
    case systemPermanent = "SYS/PERM"
    case authentication = "AUTH"
}

/// Encodes server responses (RFC 1939 §3): status lines, and multi-line responses whose lines are
/// dot-stuffed and ended by a lone dot.
public enum POP3Response {
    public static func ok(_ text: String = "") -> [UInt8] {
        Array((text.isEmpty ? "+OK" : "+OK \(Self.oneLine(text))").utf8) + [13, 10]
    }

    public static func err(_ text: String, code: POP3ResponseCode? = nil) -> [UInt8] {
        let prefix = code.map { "-ERR [\($0.rawValue)] " } ?? "-ERR "
        return Array((prefix + Self.oneLine(text)).utf8) + [13, 10]
    }

    /// A SASL challenge (RFC 5034 §4): `+ ` and base64 text.
    public static func continuation(_ base64: String) -> [UInt8] {
        Array("+ \(base64)".utf8) + [13, 10]
    }

    /// `+OK text`, then the lines (dot-stuffed), then `.`.
    public static func multiline(_ text: String, lines: [String]) -> [UInt8] {
        var body: [UInt8] = []
        for line in lines { body += Array(Self.oneLine(line).utf8) + [13, 10] }
        return Self.ok(text) + WireLines.dotTerminated(body)
    }

    /// Message content as RETR and TOP send it: CRLF line ends, dot-stuffed, ended by `.CRLF`.
    public static func content(_ bytes: some Collection<UInt8>) -> [UInt8] {
        WireLines.dotTerminated(bytes)
    }

    /// `+OK text` and the content as `content(_:)` sends it, built in one buffer (RETR's hot path).
    public static func ok(_ text: String, content bytes: some Collection<UInt8>) -> [UInt8] {
        var response = Self.ok(text)
        WireLines.appendDotTerminated(bytes, to: &response)
        return response
    }

    /// The header and the first `lines` body lines of a message (RFC 1939 §7 TOP), unterminated.
    public static func top(of message: [UInt8], lines: Int) -> [UInt8] {
        let normalised = WireLines.normalised(message, dotStuffing: false)
        // The header and the empty line after it, which TOP always sends.
        let headerEnd: Int
        if normalised.starts(with: [13, 10]) {
            headerEnd = 2  // no header fields at all
        } else {
            let header = MessageHeader.section(of: Data(normalised)).count
            headerEnd = header < normalised.count ? header + 2 : normalised.count
        }
        var end = headerEnd
        var remaining = lines
        while remaining > 0, end < normalised.count {
            while end < normalised.count, normalised[end] != 10 { end += 1 }
            end = min(end + 1, normalised.count)
            remaining -= 1
        }
        return Array(normalised[..<end])
    }

    /// Status text never breaks framing: CR, LF and other controls become spaces.
    static func oneLine(_ text: String) -> String {
        // Most status texts are short and clean: keep them as they are.
        if text.utf8.count <= 500, !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return text }
        let scalars = text.unicodeScalars.prefix(500).map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }
        return String(String.UnicodeScalarView(scalars))
    }
}
