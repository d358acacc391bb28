import Foundation

/// The MIME structure of a message (RFC 2045, 2046): each entity's header and body as byte ranges of
/// the message, its content type, and its children (multipart) or enclosed message (message/rfc822).
/// For IMAP BODYSTRUCTURE, ENVELOPE and BODY[part].
public struct MIMEEntity: Sendable, Equatable {
    /// The header fields and the empty line after them.
    public var header: Range<Int>
    public var body: Range<Int>
    public var fields: [MessageHeader.Field]
    /// Lower-cased, as `text` / `plain`.
    public var type: String
    public var subtype: String
    /// Parameter names lower-cased, in order; RFC 2231 continuations joined.
    public var parameters: [(name: String, value: String)]
    public var children: [MIMEEntity]
    /// The message inside a message/rfc822 part.
    public var enclosed: [MIMEEntity]
    /// Lines in the body (IMAP BODYSTRUCTURE's size in lines): line ends, and a last line without one.
    public var bodyLines = 0

    public var isMultipart: Bool { self.type == "multipart" }

    public func field(_ name: String) -> String? {
        self.fields.first { MessageHeader.sameName($0.name, name) }?.value
    }

    public func parameter(_ name: String) -> String? { self.parameters.first { $0.name == name }?.value }

    /// The entity at a part path (RFC 9051 §6.4.5: `1.2`); for a message/rfc822 part, its part
    /// numbers continue into the enclosed message. nil when there is no such part.
    public func part(_ path: [Int]) -> MIMEEntity? {
        var entity = self
        for number in path {
            if entity.type == "message", entity.subtype == "rfc822", let inner = entity.enclosed.first {
                entity = inner
            }
            if entity.isMultipart {
                guard number >= 1, number <= entity.children.count else { return nil }
                entity = entity.children[number - 1]
            } else {
                // A non-multipart entity has only part 1: itself.
                guard number == 1 else { return nil }
            }
        }
        return entity
    }

    public static func == (lhs: MIMEEntity, rhs: MIMEEntity) -> Bool {
        lhs.header == rhs.header && lhs.body == rhs.body && lhs.type == rhs.type && lhs.subtype == rhs.subtype
            && lhs.parameters.map(\.name) == rhs.parameters.map(\.name) && lhs.parameters.map(\.value) == rhs.parameters.map(\.value)
            && lhs.children == rhs.children && lhs.enclosed == rhs.enclosed && lhs.bodyLines == rhs.bodyLines
            && lhs.fields == rhs.fields
    }
}

/// Parses MIME structure. Pure and bounded: nesting deeper than `maximumDepth` and parts beyond
/// `maximumParts` are left unparsed (their bodies opaque), so hostile mail costs linear time and
/// bounded stack.
public enum MIMEParser {
    public static func parse(_ message: [UInt8], maximumDepth: Int = 30, maximumParts: Int = 5_000) -> MIMEEntity {
        var scanner = MIMEStructureScanner(maximumDepth: maximumDepth, maximumParts: maximumParts)
        scanner.feed(message)
        return scanner.finish()
    }

    /// How many leading bytes of `message` are its header and the empty line after it (all of them
    /// when there is no empty line): for HEADER/TEXT sections and body searches.
    public static func headerLength(of message: some Collection<UInt8>) -> Int {
        if let length = message.withContiguousStorageIfAvailable({ Self.headerEnd($0, 0..<$0.count) }) { return length }
        return Array(message).withUnsafeBufferPointer { Self.headerEnd($0, 0..<$0.count) }
    }

    /// Where the header of the entity in `range` ends: after its empty line; at the start when the
    /// entity begins with one; at the end when there is none.
    static func headerEnd(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        var index = range.lowerBound
        var lineStart = true
        while index < range.upperBound {
            if lineStart {
                if bytes[index] == 10 { return index + 1 }
                if bytes[index] == 13, index + 1 < range.upperBound, bytes[index + 1] == 10 { return index + 2 }
            }
            lineStart = bytes[index] == 10
            index += 1
        }
        return range.upperBound
    }

    /// `type/subtype; name=value; name="quoted value"`, with RFC 2231 continuations (`name*0`,
    /// `name*1*`) joined; nil when there is no valid type.
    public static func contentType(_ value: String) -> (String, String, [(name: String, value: String)])? {
        let items = Self.splitParameters(value)
        guard let first = items.first else { return nil }
        let pieces = first.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty,
            pieces.allSatisfy({ $0.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 } })
        else { return nil }
        return (pieces[0], pieces[1], Self.parameters(items.dropFirst()))
    }

    /// `value; name=value` as in Content-Disposition: the first item lower-cased, and the parameters.
    public static func disposition(_ value: String) -> (String, [(name: String, value: String)])? {
        let items = Self.splitParameters(value)
        guard let first = items.first?.trimmingCharacters(in: .whitespaces).lowercased(), !first.isEmpty else { return nil }
        return (first, Self.parameters(items.dropFirst()))
    }

    private static func parameters(_ items: ArraySlice<String>) -> [(name: String, value: String)] {
        var plain: [(name: String, value: String)] = []
        var continued: [String: [(Int, String, Bool)]] = [:]
        var order: [String] = []
        for item in items.prefix(100) {
            guard let equals = item.firstIndex(of: "=") else { continue }
            var name = item[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = item[item.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            let extended = name.hasSuffix("*")
            if extended { name.removeLast() }
            if let star = name.firstIndex(of: "*"), let index = Int(name[name.index(after: star)...]) {
                let base = String(name[..<star])
                if continued[base] == nil { order.append(base) }
                continued[base, default: []].append((index, value, extended))
                continue
            }
            plain.append((name, extended ? Self.decode2231(value, first: true) : value))
        }
        for base in order {
            let pieces = (continued[base] ?? []).sorted { $0.0 < $1.0 }
            let joined = pieces.enumerated().map { offset, piece in
                piece.2 ? Self.decode2231(piece.1, first: offset == 0) : piece.1
            }.joined()
            plain.append((base, joined))
        }
        return plain
    }

    /// RFC 2231 §4: `charset'language'percent-encoded` (only the first piece carries the charset).
    private static func decode2231(_ value: String, first: Bool) -> String {
        var text = Substring(value)
        if first, let quote = text.firstIndex(of: "'"), let second = text[text.index(after: quote)...].firstIndex(of: "'") {
            text = text[text.index(after: second)...]
        }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Splits at `;` outside quoted strings and comments.
    private static func splitParameters(_ value: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quoted = false
        var comment = 0
        var escaped = false
        for character in value {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            switch character {
            case "\\" where quoted: escaped = true; current.append(character)
            case "\"" where comment == 0: quoted.toggle(); current.append(character)
            case "(" where !quoted: comment += 1
            case ")" where !quoted && comment > 0: comment -= 1
            case ";" where !quoted && comment == 0: items.append(current); current = ""
            default: if comment == 0 { current.append(character) }
            }
        }
        items.append(current)
        return items.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
