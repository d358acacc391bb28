/// A DKIM tag list (RFC 6376 §3.2): `name=value` pairs split by semicolons, as in a signature field
/// and a key record. Values keep their inner blanks; folding and blanks around them are dropped.
public struct DKIMTagList: Sendable, Equatable {
    public private(set) var tags: [(name: String, value: String)] = []

    public enum ParseError: Error, Equatable, Sendable {
        case malformed(String)
        case duplicate(String)
    }

    public static func == (lhs: DKIMTagList, rhs: DKIMTagList) -> Bool {
        lhs.tags.elementsEqual(rhs.tags) { $0.name == $1.name && $0.value == $1.value }
    }

    /// The longest list read: a field of more tags than any specification defines is not one.
    static let maximumTags = 64

    /// Read as UTF-8 octets: every delimiter and blank is ASCII, and a field is read on every message.
    public init(parsing text: String) throws(ParseError) {
        var seen = Set<String>()
        let bytes = Array(text.utf8)
        var start = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            defer { start = end + 1 }
            let spec = Self.trimmed(bytes[start..<end])
            if spec.isEmpty { continue }  // a final ";", or blanks only
            guard let equals = spec.firstIndex(of: UInt8(ascii: "=")) else {
                throw .malformed(String(decoding: spec.prefix(40), as: UTF8.self))
            }
            let nameBytes = Self.trimmed(spec[..<equals])
            let valueBytes = Self.trimmed(spec[(equals + 1)...])
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard Self.isTagName(nameBytes) else { throw .malformed(String(name.prefix(40))) }
            guard valueBytes.allSatisfy(Self.isValueOctet) else { throw .malformed(name) }
            guard seen.insert(name).inserted else { throw .duplicate(name) }
            guard self.tags.count < Self.maximumTags else { throw .malformed("too many tags") }
            self.tags.append((name, String(decoding: valueBytes, as: UTF8.self)))
        }
    }

    public subscript(name: String) -> String? {
        self.tags.first { $0.name == name }?.value
    }

    /// A value without any folding or blanks (base64 tags, the header list).
    public func compact(_ name: String) -> String? {
        self[name].map { String(decoding: $0.utf8.filter { !Self.isBlank($0) }, as: UTF8.self) }
    }

    static func isBlank(_ octet: UInt8) -> Bool {
        octet == 0x20 || octet == 0x09 || octet == 0x0D || octet == 0x0A
    }

    private static func trimmed(_ octets: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var result = octets
        while let first = result.first, isBlank(first) { result = result.dropFirst() }
        while let last = result.last, isBlank(last) { result = result.dropLast() }
        return result
    }

    private static func isTagName(_ name: ArraySlice<UInt8>) -> Bool {
        guard let first = name.first, Self.isASCIILetter(first) else { return false }
        return name.allSatisfy { Self.isASCIILetter($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "_") }
    }

    private static func isASCIILetter(_ octet: UInt8) -> Bool { (0x41...0x5A).contains(octet) || (0x61...0x7A).contains(octet) }

    /// VALCHAR, blanks and folding (RFC 6376 §3.2); UTF-8 is allowed in some values (RFC 6376 §3.5 `i=`
    /// under SMTPUTF8), so only controls other than folding are refused.
    private static func isValueOctet(_ octet: UInt8) -> Bool {
        if isBlank(octet) { return true }
        return octet > 0x20 && octet != 0x7F && octet != UInt8(ascii: ";")
    }
}
