import Foundation

/// Content-Transfer-Encoding decoding (RFC 2045 §6): what IMAP BINARY sends (RFC 3516) and what SEARCH
/// BODY/TEXT look into. Lenient the way mail readers are: bytes that cannot be decoded are kept or
/// skipped, never an error, since the content is someone else's and already accepted.
public enum TransferEncoding {
    /// The decoded content, or nil when the encoding is not one RFC 2045 defines (IMAP answers that
    /// with `[UNKNOWN-CTE]`). A missing or empty encoding is 7bit.
    public static func decode(_ content: some Collection<UInt8>, encoding: String?) -> [UInt8]? {
        guard var decoder = TransferDecoder(encoding: encoding) else { return nil }
        return decoder.decodeAll(content)
    }

    /// Base64 (RFC 2045 §6.8).
    public static func base64(_ content: some Collection<UInt8>) -> [UInt8] {
        var decoder = TransferDecoder(.base64)
        return decoder.decodeAll(content)
    }

    /// Quoted-printable (RFC 2045 §6.7).
    public static func quotedPrintable(_ content: some Collection<UInt8>) -> [UInt8] {
        var decoder = TransferDecoder(.quotedPrintable)
        return decoder.decodeAll(content)
    }
}

/// Undoes a Content-Transfer-Encoding a piece at a time (a large attachment is decoded as it is read),
/// with the same result however the content is cut into pieces.
///
/// Base64: characters outside the alphabet (line ends, spaces) are ignored, as RFC 2045 §6.8 says; the
/// first `=` ends the data; a last group cut short is decoded as far as it goes. Quoted-printable:
/// `=XX` is an octet, `=` at the end of a line joins it to the next, white space at the end of a line
/// is transport padding (as is one CR before the line's end, or at the very end), and an `=` not
/// followed by two hex digits is kept as it is (rule 1's advice for robust decoders).
public struct TransferDecoder: Sendable {
    public enum Encoding: Sendable { case identity, base64, quotedPrintable }

    private enum Equals: Sendable {
        case none, alone
        case digit(UInt8)
    }

    public let encoding: Encoding
    // Base64: the sextets of the group under way, and whether padding has ended the data.
    private var group: UInt32 = 0
    private var sextets = 0
    private var ended = false
    // Quoted-printable: the white space that may yet be the line's padding, a CR that may yet end the
    // line, and an `=` (with the digit after it) whose meaning the next octets decide.
    private var blanks: [UInt8] = []
    private var pendingCR = false
    private var equals = Equals.none

    /// White space held back at most; a longer run at a line's end is kept rather than held whole.
    static let blankRunLimit = 64 * 1024

    public init(_ encoding: Encoding) { self.encoding = encoding }

    /// nil for an encoding RFC 2045 does not define; a missing or empty one is 7bit.
    public init?(encoding name: String?) {
        switch (name ?? "7bit").trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "7bit", "8bit", "binary": self.init(.identity)
        case "base64": self.init(.base64)
        case "quoted-printable": self.init(.quotedPrintable)
        default: return nil
        }
    }

    public mutating func decodeAll(_ content: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(content.count)
        if content.withContiguousStorageIfAvailable({ self.decode(UnsafeRawBufferPointer($0), into: &output) }) == nil {
            Array(content).withUnsafeBytes { self.decode($0, into: &output) }
        }
        self.finish(into: &output)
        return output
    }

    public mutating func decode(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        switch self.encoding {
        case .identity: output.append(contentsOf: piece)
        case .base64: self.base64(piece, into: &output)
        case .quotedPrintable: for byte in piece { self.quotedPrintable(byte, into: &output) }
        }
    }

    /// At the end of the content: a short last group, or what the last line holds back.
    public mutating func finish(into output: inout [UInt8]) {
        switch self.encoding {
        case .identity: break
        case .base64:
            // A single leftover character carries no whole octet.
            if self.sextets == 2 { output.append(UInt8(truncatingIfNeeded: self.group >> 4)) }
            if self.sextets == 3 {
                output.append(UInt8(truncatingIfNeeded: self.group >> 10))
                output.append(UInt8(truncatingIfNeeded: self.group >> 2))
            }
            self.sextets = 0
        case .quotedPrintable:
            // The last line has no line end: its padding (and one CR) go, a last `=` joins nothing.
            if case .digit(let digit) = self.equals { output += [UInt8(ascii: "="), digit] }
            self.equals = .none
            self.blanks.removeAll()
            self.pendingCR = false
        }
    }

    /// Each octet's value in the base64 alphabet; 0xFF for the rest, 0xFE for the padding `=`.
    private static let base64Values: [UInt8] = (0...255).map { byte -> UInt8 in
        switch UInt8(byte) {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt8(byte) - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt8(byte) - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(byte) - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        case UInt8(ascii: "="): 0xFE
        default: 0xFF
        }
    }

    private mutating func base64(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        guard !self.ended else { return }
        output.reserveCapacity(output.count + piece.count / 4 * 3 + 3)
        var group = self.group
        var sextets = self.sextets
        Self.base64Values.withUnsafeBufferPointer { values in
            for byte in piece {
                let value = values[Int(byte)]
                if value >= 0xFE {
                    if value == 0xFE {
                        self.ended = true
                        break
                    }
                    continue
                }
                group = group << 6 | UInt32(value)
                sextets += 1
                if sextets == 4 {
                    output.append(UInt8(truncatingIfNeeded: group >> 16))
                    output.append(UInt8(truncatingIfNeeded: group >> 8))
                    output.append(UInt8(truncatingIfNeeded: group))
                    group = 0
                    sextets = 0
                }
            }
        }
        self.group = group
        self.sextets = sextets
    }

    private mutating func quotedPrintable(_ byte: UInt8, into output: inout [UInt8]) {
        if self.pendingCR {
            self.pendingCR = false
            if byte == 10 {
                self.endLine(into: &output)
                return
            }
            // Not before the line's end: the CR is text.
            self.text(13, into: &output)
        }
        switch byte {
        case 10: self.endLine(into: &output)
        case 13: self.pendingCR = true
        case 32, 9:
            if self.blanks.count >= Self.blankRunLimit {
                self.flushEquals(into: &output)
                output += self.blanks
                self.blanks.removeAll(keepingCapacity: true)
            }
            self.blanks.append(byte)
        default: self.text(byte, into: &output)
        }
    }

    /// A line end: its padding goes; a last `=` joins the next line to it.
    private mutating func endLine(into output: inout [UInt8]) {
        self.blanks.removeAll(keepingCapacity: true)
        switch self.equals {
        case .alone: break
        case .digit(let digit):
            output.append(UInt8(ascii: "="))
            output.append(digit)
            output.append(13)
            output.append(10)
        case .none:
            output.append(13)
            output.append(10)
        }
        self.equals = .none
    }

    /// An `=` (and its digit) held back turns out to be plain text.
    private mutating func flushEquals(into output: inout [UInt8]) {
        switch self.equals {
        case .none: break
        case .alone: output.append(UInt8(ascii: "="))
        case .digit(let digit):
            output.append(UInt8(ascii: "="))
            output.append(digit)
        }
        self.equals = .none
    }

    /// A byte that is not white space or a line end.
    private mutating func text(_ byte: UInt8, into output: inout [UInt8]) {
        if self.blanks.isEmpty, byte != 13, let value = Self.hex(byte) {
            switch self.equals {
            case .alone:
                self.equals = .digit(byte)
                return
            case .digit(let high):
                output.append((Self.hex(high) ?? 0) << 4 | value)
                self.equals = .none
                return
            case .none: break
            }
        }
        self.flushEquals(into: &output)
        output += self.blanks
        self.blanks.removeAll(keepingCapacity: true)
        if byte == UInt8(ascii: "=") { self.equals = .alone } else { output.append(byte) }
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
