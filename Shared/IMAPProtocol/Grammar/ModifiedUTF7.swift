/// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3; RFC 9051 keeps it for clients without UTF8=ACCEPT):
/// printable ASCII stands for itself except `&`, written `&-`; anything else is UTF-16 in a modified
/// base64 (`,` for `/`, no padding) between `&` and `-`.
public enum ModifiedUTF7 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)
    private static let values: [UInt8: UInt32] = {
        var table: [UInt8: UInt32] = [:]
        for (index, byte) in Self.alphabet.enumerated() { table[byte] = UInt32(index) }
        return table
    }()

    public static func encode(_ name: String) -> String {
        var output = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for unit in pending { bytes += [UInt8(unit >> 8), UInt8(unit & 0xFF)] }
            var encoded = "&"
            var index = 0
            while index < bytes.count {
                let chunk = bytes[index..<min(index + 3, bytes.count)]
                var value: UInt32 = 0
                for (position, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * position) }
                let characters = chunk.count + 1
                for position in 0..<characters {
                    encoded.unicodeScalars.append(Unicode.Scalar(Self.alphabet[Int((value >> (18 - 6 * position)) & 0x3F)]))
                }
                index += 3
            }
            output += encoded + "-"
            pending = []
        }
        for scalar in name.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7E {
                flush()
                output += scalar == "&" ? "&-" : String(scalar)
            } else {
                pending += Array(String(scalar).utf16)
            }
        }
        flush()
        return output
    }

    /// nil when `text` is not valid modified UTF-7: a raw non-ASCII character, an unterminated or empty
    /// shift (other than `&-`), bad base64, leftover bits, a shifted printable ASCII character, two
    /// adjacent shifts, or a broken surrogate pair.
    public static func decode(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        var output = ""
        var index = 0
        var previousWasShift = false
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= 0x20 && byte <= 0x7E else { return nil }
            guard byte == UInt8(ascii: "&") else {
                output.unicodeScalars.append(Unicode.Scalar(byte))
                previousWasShift = false
                index += 1
                continue
            }
            guard let end = bytes[(index + 1)...].firstIndex(of: UInt8(ascii: "-")) else { return nil }
            let encoded = bytes[(index + 1)..<end]
            index = end + 1
            if encoded.isEmpty {
                output += "&"
                previousWasShift = false
                continue
            }
            guard !previousWasShift else { return nil }
            var bits: UInt32 = 0
            var bitCount = 0
            var units: [UInt16] = []
            for character in encoded {
                guard let value = Self.values[character] else { return nil }
                bits = (bits << 6) | value
                bitCount += 6
                if bitCount >= 16 {
                    bitCount -= 16
                    units.append(UInt16((bits >> UInt32(bitCount)) & 0xFFFF))
                }
            }
            // Leftover bits must be fewer than 6 and zero.
            guard bitCount < 6, bits & ((1 << UInt32(bitCount)) - 1) == 0, !units.isEmpty else { return nil }
            var decoded = ""
            var iterator = units.makeIterator()
            var utf16 = UTF16()
            decoding: while true {
                switch utf16.decode(&iterator) {
                case .scalarValue(let scalar):
                    // Printable ASCII must not be shifted.
                    if scalar.value >= 0x20 && scalar.value <= 0x7E { return nil }
                    decoded.unicodeScalars.append(scalar)
                case .emptyInput: break decoding
                case .error: return nil
                }
            }
            output += decoded
            previousWasShift = true
        }
        return output
    }
}
