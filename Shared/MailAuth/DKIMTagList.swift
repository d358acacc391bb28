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

    public init(parsing text: String) throws(ParseError) {
        var seen = Set<String>()
        for spec in text.split(separator: ";", omittingEmptySubsequences: false) {
            let trimmed = Self.trimmed(spec)
            if trimmed.isEmpty { continue }  // a final ";", or blanks only
            guard let equals = trimmed.firstIndex(of: "=") else { throw .malformed(String(trimmed.prefix(40))) }
            let name = String(Self.trimmed(trimmed[..<equals]))
            let value = String(Self.trimmed(trimmed[trimmed.index(after: equals)...]))
            guard Self.isTagName(name) else { throw .malformed(String(name.prefix(40))) }
            guard value.unicodeScalars.allSatisfy(Self.isValueScalar) else { throw .malformed(name) }
            guard seen.insert(name).inserted else { throw .duplicate(name) }
            guard self.tags.count < Self.maximumTags else { throw .malformed("too many tags") }
            self.tags.append((name, value))
        }
    }

    public subscript(name: String) -> String? {
        self.tags.first { $0.name == name }?.value
    }

    /// A value without any folding or blanks (base64 tags, the header list).
    public func compact(_ name: String) -> String? {
        self[name].map { String($0.unicodeScalars.filter { !Self.isBlank($0) }) }
    }

    static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
    }

    private static func trimmed(_ text: Substring) -> Substring {
        var result = text
        while let first = result.unicodeScalars.first, isBlank(first) { result = result.dropFirst() }
        while let last = result.unicodeScalars.last, isBlank(last) { result = result.dropLast() }
        return result
    }

    private static func isTagName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// VALCHAR, blanks and folding (RFC 6376 §3.2); UTF-8 is allowed in some values (RFC 6376 §3.5 `i=`
    /// under SMTPUTF8), so only controls other than folding are refused.
    private static func isValueScalar(_ scalar: Unicode.Scalar) -> Bool {
        if isBlank(scalar) { return true }
        return scalar.value > 0x20 && scalar.value != 0x7F && scalar != ";"
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
