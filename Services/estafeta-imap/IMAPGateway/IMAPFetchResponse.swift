import Foundation
import IMAPProtocol
import MailFormat
import MailStore
import NIOCore

/// The untagged FETCH responses of one FETCH command (RFC 9051 §7.5.2): flags, UID, size, internal
/// date, ENVELOPE, BODY, BODYSTRUCTURE, body sections (whole message, part numbers, HEADER,
/// HEADER.FIELDS[.NOT], TEXT, MIME, with partials) and BINARY (RFC 3516: parts with their
/// Content-Transfer-Encoding undone): what each item gives of a message, written by `IMAPFetchWriter`
/// straight into the outgoing buffer, so a whole message goes from the store's bytes into the buffer
/// in one copy (copies of content between intermediate arrays were the largest item in a 50-message
/// FETCH's profile). Pure: the session and the connection's shortcut (`IMAPFetchShortcut`) both
/// answer with it.
struct IMAPFetchResponse {
    let items: [IMAPFetchAttribute]
    /// ENVELOPE and BODYSTRUCTURE strings in UTF-8 (after ENABLE UTF8=ACCEPT or IMAP4rev2).
    let utf8: Bool

    /// The items of `attributes` in answer order: a UID FETCH always answers UID (RFC 9051 §6.4.8).
    init(_ attributes: [IMAPFetchAttribute], byUID: Bool, utf8: Bool) {
        var items = attributes
        if byUID && !items.contains(.uid) { items.insert(.uid, at: 0) }
        self.items = items
        self.utf8 = utf8
    }

    /// How much of each message's content the items need beyond what the listing says: the header
    /// section alone when every item reads only the message's own header (ENVELOPE, RFC822.HEADER,
    /// BODY[HEADER], BODY[HEADER.FIELDS …]: what a message list fetches), the whole message otherwise.
    var content: ContentExtent {
        self.items.reduce(ContentExtent.omitted) { extent, item in
            switch item {
            case .envelope, .rfc822Header: extent == .whole ? .whole : .header
            case .bodySection(let spec, _, _) where spec.part.isEmpty:
                switch spec.text {
                case .header, .headerFields, .headerFieldsNot: extent == .whole ? .whole : .header
                case .text, .mime, nil: .whole
                }
            case .rfc822, .rfc822Text, .bodySection, .body, .bodyStructure, .binary, .binarySize, .preview: .whole
            case .flags, .uid, .rfc822Size, .internalDate, .modSeq, .emailID, .threadID, .saveDate: extent
            }
        }
    }

    /// For an item that is a stretch of the message: what it is answered as and the octets it sends,
    /// given where the header section ends.
    static func messageExtent(_ item: IMAPFetchAttribute, size: Int64, headerLength: Int64) -> (item: IMAPFetchLiteralItem, range: Range<Int64>)? {
        let stretch: (item: IMAPFetchLiteralItem, range: Range<Int64>, partial: ClosedRange<UInt32>?)
        switch item {
        case .rfc822: stretch = (.rfc822, 0..<size, nil)
        case .rfc822Text: stretch = (.rfc822Text, min(headerLength, size)..<size, nil)
        case .bodySection(let spec, _, let partial) where spec.part.isEmpty && (spec.text == nil || spec.text == .text):
            let start = spec.text == nil ? 0 : min(headerLength, size)
            stretch = (.body(spec, origin: partial?.lowerBound), start..<size, partial)
        default: return nil
        }
        guard let partial = stretch.partial else { return (stretch.item, stretch.range) }
        // RFC 9051 §6.4.5: octets counted from the section's start; a start beyond the end gives empty data.
        let start = min(stretch.range.lowerBound + Int64(partial.lowerBound), stretch.range.upperBound)
        let end = min(stretch.range.lowerBound + Int64(partial.upperBound) + 1, stretch.range.upperBound)
        return (stretch.item, start..<max(start, end))
    }

    /// Whether an item is answered from the header section alone (ENVELOPE, RFC822.HEADER, BODY[HEADER]
    /// and BODY[HEADER.FIELDS …]).
    static func answeredFromHeader(_ item: IMAPFetchAttribute) -> Bool {
        switch item {
        case .envelope, .rfc822Header: true
        case .bodySection(let spec, _, _): spec.part.isEmpty && spec.text != nil && spec.text != .text && spec.text != .mime
        default: false
        }
    }

    /// Writes an item answered from the header section alone; false (nothing written) for any other.
    static func writeFromHeader(
        _ item: IMAPFetchAttribute, header: [UInt8], writer: inout IMAPFetchWriter, into output: inout ByteBuffer
    ) -> Bool {
        guard Self.answeredFromHeader(item) else { return false }
        switch item {
        case .envelope:
            writer.write(.envelope(IMAPMessageStructure(header).envelope()), into: &output)
        case .rfc822Header:
            header.withUnsafeBytes { writer.writeLiteral(.rfc822Header, $0, into: &output) }
        case .bodySection(let spec, _, let partial) where spec.part.isEmpty && spec.text != nil && spec.text != .text && spec.text != .mime:
            let data = Self.partial(Self.section(spec, of: header, structure: nil), partial)
            data.withUnsafeBytes { writer.writeLiteral(.body(spec, origin: partial?.lowerBound), $0, into: &output) }
        default:
            return false
        }
        return true
    }

    /// An item answered from the listing alone; nil for any other.
    static func listed(_ item: IMAPFetchAttribute, message: StoredMessage, flags: Set<String>) -> IMAPFetchItem? {
        switch item {
        case .flags: .flags(flags.sorted())
        case .uid: .uid(message.uid)
        case .rfc822Size: .rfc822Size(message.size)
        case .internalDate: .internalDate(message.internalDate)
        case .modSeq: .modSeq(message.modSeq)
        case .emailID: .emailID(IMAPObjectID.email(message.contentID))
        // No threads are kept: RFC 8474 §5.2 answers NIL then.
        case .threadID: .threadID(nil)
        case .saveDate: .saveDate(message.savedDate)
        default: nil
        }
    }

    /// Whether the FETCH sets \Seen on what it reads (a body section without PEEK, RFC 9051 §6.4.5),
    /// in a mailbox selected read-write.
    func setsSeen(readOnly: Bool) -> Bool {
        !readOnly && self.items.contains { item in
            switch item {
            case .rfc822, .rfc822Text: true
            case .bodySection(_, let peek, _), .binary(_, let peek, _): !peek
            default: false
            }
        }
    }

    /// Writes `* number FETCH (...)` for one message, with `flags` as the session shows them; a FLAGS
    /// item is added when `announceFlags` (this FETCH has just set \Seen) and none was asked for. Returns
    /// why, to end the command with NO, when a part named cannot be given (what was written then must
    /// not be sent).
    func write(
        number: Int, message: StoredMessage, content: Data?, flags: Set<String>, announceFlags: Bool, into output: inout ByteBuffer
    ) -> IMAPFetchRefusal? {
        var writer = IMAPFetchWriter(utf8: self.utf8)
        writer.begin(number, into: &output)
        var copied: [UInt8]?
        // The content as an array, for the items that take it apart; made once, and only for those.
        func bytes() -> [UInt8] {
            if let copied { return copied }
            let bytes = content.map { Array($0) } ?? []
            copied = bytes
            return bytes
        }
        var parsed: IMAPMessageStructure?
        func structure() -> IMAPMessageStructure {
            if let parsed { return parsed }
            let structure = IMAPMessageStructure(bytes())
            parsed = structure
            return structure
        }
        // The whole stored message, copied once.
        func writeWhole(_ item: IMAPFetchLiteralItem) {
            (content ?? Data()).withUnsafeBytes { writer.writeLiteral(item, $0, into: &output) }
        }
        for item in self.items {
            if let listed = Self.listed(item, message: message, flags: flags) {
                writer.write(listed, into: &output)
                continue
            }
            switch item {
            case .envelope: writer.write(.envelope(structure().envelope()), into: &output)
            case .body: writer.write(.body(structure().bodyStructure(), extensible: false), into: &output)
            case .bodyStructure: writer.write(.body(structure().bodyStructure(), extensible: true), into: &output)
            case .rfc822: writeWhole(.rfc822)
            case .rfc822Header:
                let bytes = bytes()
                bytes[..<MIMEParser.headerLength(of: bytes)].withUnsafeBytes { writer.writeLiteral(.rfc822Header, $0, into: &output) }
            case .rfc822Text:
                let bytes = bytes()
                bytes[MIMEParser.headerLength(of: bytes)...].withUnsafeBytes { writer.writeLiteral(.rfc822Text, $0, into: &output) }
            case .bodySection(let spec, _, nil) where spec.part.isEmpty && spec.text == nil:
                writeWhole(.body(spec, origin: nil))
            case .bodySection(let spec, _, let partial):
                let data = Self.partial(Self.section(spec, of: bytes(), structure: spec.part.isEmpty ? nil : structure()), partial)
                data.withUnsafeBytes { writer.writeLiteral(.body(spec, origin: partial?.lowerBound), $0, into: &output) }
            case .binary(let part, _, let partial):
                guard let data = Self.binaryContent(part, of: bytes(), structure: structure) else {
                    return Self.binaryRefusal(part, in: structure(), number: number)
                }
                Self.partial(data, partial).withUnsafeBytes { writer.writeLiteral(.binary(part: part, origin: partial?.lowerBound), $0, into: &output) }
            case .binarySize(let part):
                guard let data = Self.binaryContent(part, of: bytes(), structure: structure) else {
                    return Self.binaryRefusal(part, in: structure(), number: number)
                }
                writer.write(.binarySize(part: part, size: Int64(data.count)), into: &output)
            case .preview:
                writer.write(.preview(MessagePreview.text(of: bytes(), root: structure().root)), into: &output)
            case .flags, .uid, .rfc822Size, .internalDate, .modSeq, .emailID, .threadID, .saveDate:
                break  // answered from the listing above
            }
        }
        if announceFlags, !self.items.contains(.flags) { writer.write(.flags(flags.sorted()), into: &output) }
        writer.end(into: &output)
        return nil
    }

    /// BINARY's octets of `part` (the whole message for no part); nil when there is no such part or
    /// its encoding cannot be undone.
    private static func binaryContent(
        _ part: [Int], of bytes: [UInt8], structure: () -> IMAPMessageStructure
    ) -> [UInt8]? {
        guard !part.isEmpty else { return bytes }
        guard let entity = structure().root.part(part) else { return nil }
        return Self.binaryContent(of: entity, in: bytes)
    }

    private static func binaryRefusal(_ part: [Int], in structure: IMAPMessageStructure, number: Int) -> IMAPFetchRefusal {
        let named = part.map(String.init).joined(separator: ".")
        return IMAPFetchRefusal(structure.root.part(part) == nil ? .noSuchPart : .unknownEncoding, part: named, message: number)
    }

    /// The data of a body section (before its partial). For a part-numbered section, HEADER and TEXT
    /// refer to the message inside a message/rfc822 part (RFC 9051 §6.4.5); `structure` is given
    /// exactly when the section names a part.
    static func section(_ spec: IMAPSection, of bytes: [UInt8], structure: IMAPMessageStructure?) -> [UInt8] {
        var scope = bytes
        var partPrefix = ""
        var partEntity: MIMEEntity?
        if !spec.part.isEmpty, let structure {
            partPrefix = spec.part.map(String.init).joined(separator: ".")
            partEntity = structure.root.part(spec.part)
            if let entity = partEntity {
                let inner = entity.enclosed.first.map { $0.header.lowerBound..<$0.body.upperBound } ?? entity.body
                scope = Array(bytes[inner])
            } else {
                scope = []
            }
        }
        // Only the header/text sections need it.
        var headerEnd: Int { MIMEParser.headerLength(of: scope) }
        let data: [UInt8]
        switch spec.text {
        case nil:
            // BODY[n] of a non-multipart part is its body; of a message/rfc822 part, the whole message.
            data = partEntity.map { entity in entity.enclosed.isEmpty ? Array(bytes[entity.body]) : scope } ?? (partPrefix.isEmpty ? bytes : [])
        case .header?: data = Array(scope[..<headerEnd])
        case .text?: data = Array(scope[headerEnd...])
        case .headerFields(let fields)?: data = Self.headerFields(scope[..<headerEnd], names: fields, keep: true)
        case .headerFieldsNot(let fields)?: data = Self.headerFields(scope[..<headerEnd], names: fields, keep: false)
        case .mime?: data = partEntity.map { Array(bytes[$0.header]) } ?? []
        }
        return data
    }

    /// The header fields named (or all others), each with its continuation lines, then the empty line.
    static func headerFields(_ header: ArraySlice<UInt8>, names: [String], keep: Bool) -> [UInt8] {
        var filter = IMAPHeaderFieldFilter(names: names, keep: keep)
        var output: [UInt8] = []
        header.withUnsafeBytes { filter.filter($0, into: &output) }
        filter.finish(into: &output)
        return output
    }

    /// BINARY[part] content (RFC 3516): a leaf part's body with its Content-Transfer-Encoding undone;
    /// a multipart or message/rfc822 part as it is (there is nothing of its own to decode). nil for
    /// an encoding RFC 2045 does not define.
    static func binaryContent(of entity: MIMEEntity, in bytes: [UInt8]) -> [UInt8]? {
        if entity.isMultipart { return Array(bytes[entity.body]) }
        if let inner = entity.enclosed.first { return Array(bytes[inner.header.lowerBound..<inner.body.upperBound]) }
        return TransferEncoding.decode(bytes[entity.body], encoding: entity.field("content-transfer-encoding"))
    }

    /// The octets a `<origin.count>` partial asks for (RFC 9051 §6.4.5: a start beyond the end gives
    /// empty data); all of them without a partial.
    static func partial(_ data: [UInt8], _ partial: ClosedRange<UInt32>?) -> [UInt8] {
        guard let partial else { return data }
        let start = min(Int(partial.lowerBound), data.count)
        let end = min(Int(partial.upperBound) + 1, data.count)
        return Array(data[start..<max(start, end)])
    }
}

/// Why a FETCH cannot give a part it names, answered with NO (RFC 9051 §6.4.5), and for BINARY a
/// transfer encoding it cannot undo (RFC 3516 §4.3).
struct IMAPFetchRefusal: Error {
    enum Reason { case noSuchPart, unknownEncoding }
    let reason: Reason
    /// The part as named in the command (`2.1`).
    let part: String
    let message: Int

    init(_ reason: Reason, part: String, message: Int) {
        self.reason = reason
        self.part = part
        self.message = message
    }

    func response(tag: String) -> IMAPResponse {
        switch self.reason {
        case .noSuchPart: .status(tag: tag, .no, .nonExistent, "No part \(self.part) in message \(self.message)")
        case .unknownEncoding: .status(tag: tag, .no, .unknownCTE, "Cannot decode part \(self.part) of message \(self.message)")
        }
    }
}
