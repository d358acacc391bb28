import Foundation

/// Encodes the pieces of server responses (RFC 9051 §4, §7): strings as quoted strings when they can
/// be, as literals otherwise; mailbox names in modified UTF-7 or UTF-8; flag lists; dates.
public enum IMAPEncoding {
    /// A string: quoted when short and free of CR, LF and (without UTF-8) 8-bit bytes, a literal
    /// otherwise, so any byte sequence but NUL round-trips. NUL may appear nowhere in IMAP but in a
    /// literal8 (RFC 9051 §4.3); a header value that holds one (kept as written) shows a
    /// space in its place.
    public static func string(_ bytes: [UInt8], utf8: Bool = true) -> [UInt8] {
        if bytes.contains(0) { return Self.string(bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, utf8: utf8) }
        let quotable = bytes.count <= 1024 && !bytes.contains { $0 == 13 || $0 == 10 || (!utf8 && $0 >= 0x80) }
        guard quotable else { return Self.literal(bytes) }
        var output: [UInt8] = [UInt8(ascii: "\"")]
        output.reserveCapacity(bytes.count + 2)
        for byte in bytes {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { output.append(UInt8(ascii: "\\")) }
            output.append(byte)
        }
        output.append(UInt8(ascii: "\""))
        return output
    }

    public static func string(_ text: String, utf8: Bool = true) -> [UInt8] { Self.string(Array(text.utf8), utf8: utf8) }

    /// `{n}` CRLF and the bytes.
    public static func literal(_ bytes: some Collection<UInt8>) -> [UInt8] {
        Array("{\(bytes.count)}\r\n".utf8) + bytes
    }

    /// `~{n}` CRLF and the bytes (RFC 3516 literal8): for BINARY data that holds NUL; `{n}` otherwise.
    public static func binaryLiteral(_ bytes: some Collection<UInt8>) -> [UInt8] {
        bytes.contains(0) ? Array("~{\(bytes.count)}\r\n".utf8) + bytes : Self.literal(bytes)
    }

    /// A mailbox name for LIST, STATUS and the like: modified UTF-7 unless UTF-8 was enabled.
    public static func mailbox(_ name: String, utf8: Bool) -> [UInt8] {
        Self.string(utf8 ? name : ModifiedUTF7.encode(name), utf8: utf8)
    }

    /// `(\Seen $Label)`.
    public static func flagList(_ flags: some Sequence<String>) -> String {
        "(" + flags.joined(separator: " ") + ")"
    }

    /// date-time: `"07-Feb-2026 09:30:00 +0000"` (RFC 9051 §9), in UTC.
    public static func dateTime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { let v = value ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        let month = IMAPDates.months[max(0, min(11, (parts.month ?? 1) - 1))].capitalized
        let year = String(parts.year ?? 1970)
        return "\"\(two(parts.day))-\(month)-\(year) \(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) +0000\""
    }

    /// Status text never breaks a response line: controls become spaces.
    public static func text(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }
}
