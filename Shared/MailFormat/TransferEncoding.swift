import Foundation

/// Content-Transfer-Encoding decoding (RFC 2045 §6): what IMAP BINARY sends (RFC 3516) and what SEARCH
/// BODY/TEXT look into. Lenient the way mail readers are: bytes that cannot be decoded are kept or
/// skipped, never an error, since the content is someone else's and already accepted.
public enum TransferEncoding {
    /// The decoded content, or nil when the encoding is not one RFC 2045 defines (IMAP answers that
    /// with `[UNKNOWN-CTE]`). A missing or empty encoding is 7bit.
    public static func decode(_ content: some Collection<UInt8>, encoding: String?) -> [UInt8]? {
        switch (encoding ?? "7bit").trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "7bit", "8bit", "binary": Array(content)
        case "base64": Self.base64(content)
        case "quoted-printable": Self.quotedPrintable(content)
        default: nil
        }
    }

    /// Base64 (RFC 2045 §6.8): characters outside the alphabet (line ends, spaces) are ignored, as the
    /// RFC says, and a last group cut short is decoded as far as it goes.
    public static func base64(_ content: some Collection<UInt8>) -> [UInt8] {
        var alphabet: [UInt8] = []
        alphabet.reserveCapacity(content.count)
        for byte in content {
            if byte == UInt8(ascii: "=") { break }  // padding: the data ends here
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "/"):
                alphabet.append(byte)
            default:
                continue
            }
        }
        // A single leftover character carries no whole octet.
        if alphabet.count % 4 == 1 { alphabet.removeLast() }
        while alphabet.count % 4 != 0 { alphabet.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(alphabet)).map { Array($0) } ?? []
    }

    /// Quoted-printable (RFC 2045 §6.7): `=XX` is an octet, `=` at the end of a line joins it to the
    /// next, and whitespace at the end of a line is transport padding. An `=` not followed by two hex
    /// digits is kept as it is (rule 1's advice for robust decoders).
    public static func quotedPrintable(_ content: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(content)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 10 { lineEnd += 1 }
            let hasNewline = lineEnd < bytes.count
            var textEnd = lineEnd
            if textEnd > lineStart, bytes[textEnd - 1] == 13 { textEnd -= 1 }
            while textEnd > lineStart, bytes[textEnd - 1] == 32 || bytes[textEnd - 1] == 9 { textEnd -= 1 }
            var soft = false
            var index = lineStart
            while index < textEnd {
                let byte = bytes[index]
                if byte == UInt8(ascii: "=") {
                    if index + 1 == textEnd {
                        soft = true
                        index += 1
                        continue
                    }
                    if index + 2 < textEnd, let high = Self.hex(bytes[index + 1]), let low = Self.hex(bytes[index + 2]) {
                        output.append(high << 4 | low)
                        index += 3
                        continue
                    }
                }
                output.append(byte)
                index += 1
            }
            if hasNewline && !soft { output += [13, 10] }
            lineStart = lineEnd + 1
        }
        return output
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
