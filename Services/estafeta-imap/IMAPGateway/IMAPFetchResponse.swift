import Foundation
import IMAPProtocol
import MailFormat
import MailStore
import NIOCore

/// The untagged FETCH responses of one FETCH command (RFC 9051 §7.5.2): flags, UID, size, internal
/// date, ENVELOPE, BODY, BODYSTRUCTURE, body sections (whole message, part numbers, HEADER,
/// HEADER.FIELDS[.NOT], TEXT, MIME, with partials) and BINARY (RFC 3516: parts with their
/// Content-Transfer-Encoding undone). Written straight into the outgoing buffer: a whole message goes
/// from the store's bytes into the buffer in one copy (copies of content between intermediate arrays
/// were the largest item in a 50-message FETCH's profile). Pure: the session and the connection's shortcut
/// (`IMAPFetchShortcut`) both write their answers with it.
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

    /// For an item that is a stretch of the message: its name in the answer and the octets it sends,
    /// given where the header section ends.
    static func messageExtent(_ item: IMAPFetchAttribute, size: Int64, headerLength: Int64) -> (name: String, range: Range<Int64>)? {
        let stretch: (name: String, range: Range<Int64>, partial: ClosedRange<UInt32>?)
        switch item {
        case .rfc822: stretch = ("RFC822", 0..<size, nil)
        case .rfc822Text: stretch = ("RFC822.TEXT", min(headerLength, size)..<size, nil)
        case .bodySection(let spec, _, let partial) where spec.part.isEmpty && spec.text == nil:
            stretch = ("BODY[]", 0..<size, partial)
        case .bodySection(let spec, _, let partial) where spec.part.isEmpty && spec.text == .text:
            stretch = ("BODY[TEXT]", min(headerLength, size)..<size, partial)
        default: return nil
        }
        guard let partial = stretch.partial else { return (stretch.name, stretch.range) }
        // RFC 9051 §6.4.5: octets counted from the section's start; a start beyond the end gives empty data.
        let start = min(stretch.range.lowerBound + Int64(partial.lowerBound), stretch.range.upperBound)
        let end = min(stretch.range.lowerBound + Int64(partial.upperBound) + 1, stretch.range.upperBound)
        return (stretch.name + "<\(partial.lowerBound)>", start..<max(start, end))
    }

    /// An item answered from the header section alone (ENVELOPE, RFC822.HEADER, BODY[HEADER] and
    /// BODY[HEADER.FIELDS …]); false for any other.
    func writeFromHeader(_ item: IMAPFetchAttribute, header: [UInt8], into output: inout ByteBuffer) -> Bool {
        switch item {
        case .envelope:
            output.writeString("ENVELOPE \(IMAPMessageStructure(header, utf8: self.utf8).envelope())")
        case .rfc822Header:
            Self.writeSection("RFC822.HEADER", header[...], into: &output)
        case .bodySection(let spec, _, let partial) where spec.part.isEmpty && spec.text != nil && spec.text != .text && spec.text != .mime:
            let (name, data) = Self.section(spec, of: header, structure: nil)
            let (shown, origin) = Self.partial(data, partial)
            Self.writeSection(name + origin, shown[...], into: &output)
        default:
            return false
        }
        return true
    }

    /// An item answered from the listing alone; false for any other.
    static func writeListed(_ item: IMAPFetchAttribute, message: StoredMessage, flags: Set<String>, into output: inout ByteBuffer) -> Bool {
        switch item {
        case .flags: output.writeString("FLAGS " + IMAPEncoding.flagList(flags.sorted()))
        case .uid: output.writeString("UID \(message.uid)")
        case .rfc822Size: output.writeString("RFC822.SIZE \(message.size)")
        case .internalDate: output.writeString("INTERNALDATE \(IMAPEncoding.dateTime(message.internalDate))")
        case .modSeq: output.writeString("MODSEQ (\(message.modSeq))")
        case .emailID: output.writeString("EMAILID (\(IMAPObjectID.email(message.contentID)))")
        // No threads are kept: RFC 8474 §5.2 answers NIL then.
        case .threadID: output.writeString("THREADID NIL")
        case .saveDate: output.writeString("SAVEDATE \(IMAPEncoding.dateTime(message.savedDate))")
        default: return false
        }
        return true
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
        output.writeString("* \(number) FETCH (")
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
            let structure = IMAPMessageStructure(bytes(), utf8: self.utf8)
            parsed = structure
            return structure
        }
        for (index, item) in self.items.enumerated() {
            if index > 0 { output.writeInteger(UInt8(ascii: " ")) }
            switch item {
            case .flags, .uid, .rfc822Size, .internalDate, .modSeq, .emailID, .threadID, .saveDate:
                _ = Self.writeListed(item, message: message, flags: flags, into: &output)
            case .envelope: output.writeString("ENVELOPE \(structure().envelope())")
            case .body: output.writeString("BODY \(structure().bodyStructure(extensible: false))")
            case .bodyStructure: output.writeString("BODYSTRUCTURE \(structure().bodyStructure(extensible: true))")
            case .rfc822: Self.writeWhole("RFC822", content, into: &output)
            case .rfc822Header:
                let bytes = bytes()
                Self.writeSection("RFC822.HEADER", bytes[..<MIMEParser.headerLength(of: bytes)], into: &output)
            case .rfc822Text:
                let bytes = bytes()
                Self.writeSection("RFC822.TEXT", bytes[MIMEParser.headerLength(of: bytes)...], into: &output)
            case .bodySection(let spec, _, nil) where spec.part.isEmpty && spec.text == nil:
                Self.writeWhole("BODY[]", content, into: &output)
            case .bodySection(let spec, _, let partial):
                let (name, data) = Self.section(spec, of: bytes(), structure: spec.part.isEmpty ? nil : structure())
                let (shown, origin) = Self.partial(data, partial)
                Self.writeSection(name + origin, shown[...], into: &output)
            case .binary(let part, _, _) where !part.isEmpty, .binarySize(let part) where !part.isEmpty:
                let named = part.map(String.init).joined(separator: ".")
                guard let entity = structure().root.part(part) else { return IMAPFetchRefusal(.noSuchPart, part: named, message: number) }
                guard let data = Self.binaryContent(of: entity, in: bytes()) else {
                    return IMAPFetchRefusal(.unknownEncoding, part: named, message: number)
                }
                output.writeBytes(Self.binaryItem(item, data))
            case .binary, .binarySize:
                output.writeBytes(Self.binaryItem(item, bytes()))
            case .preview:
                output.writeString("PREVIEW ")
                output.writeBytes(IMAPEncoding.string(MessagePreview.text(of: bytes(), root: structure().root), utf8: self.utf8))
            }
        }
        if announceFlags, !self.items.contains(.flags) { output.writeString(" FLAGS " + IMAPEncoding.flagList(flags.sorted())) }
        output.writeStaticString(")\r\n")
        return nil
    }

    /// `name {n}` CRLF and the whole stored message, copied once.
    private static func writeWhole(_ name: String, _ content: Data?, into output: inout ByteBuffer) {
        let content = content ?? Data()
        output.writeString("\(name) {\(content.count)}\r\n")
        content.withUnsafeBytes { Self.writeLiteralBytes($0, into: &output) }
    }

    /// `name {n}` CRLF and the bytes.
    private static func writeSection(_ name: String, _ data: ArraySlice<UInt8>, into output: inout ByteBuffer) {
        output.writeString("\(name) {\(data.count)}\r\n")
        data.withUnsafeBytes { Self.writeLiteralBytes($0, into: &output) }
    }

    /// The bytes of a `{n}` literal. NUL may not appear in one (RFC 9051 §4.3), yet a stored message may
    /// hold it (kept byte-exact): each goes out as 0x80, as Dovecot does, so the literal
    /// keeps its length and RFC822.SIZE stays true. BINARY[] gives the exact bytes in a literal8.
    static func writeLiteralBytes(_ bytes: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        let offset = output.writerIndex - output.readerIndex
        let written = output.writeBytes(bytes)
        guard let base = bytes.baseAddress, memchr(base, 0, bytes.count) != nil else { return }
        output.withUnsafeMutableReadableBytes { buffer in
            for index in offset..<(offset + written) where buffer[index] == 0 { buffer[index] = 0x80 }
        }
    }

    /// The name a body section is answered under (without its partial) and its data. For a
    /// part-numbered section, HEADER and TEXT refer to the message inside a message/rfc822 part (RFC
    /// 9051 §6.4.5); `structure` is given exactly when the section names a part.
    static func section(_ spec: IMAPSection, of bytes: [UInt8], structure: IMAPMessageStructure?) -> (name: String, data: [UInt8]) {
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
        return (Self.sectionName(spec), data)
    }

    /// `BODY[2.HEADER.FIELDS (FROM)]`: the name a body section is answered under, without its partial.
    static func sectionName(_ spec: IMAPSection) -> String {
        let partPrefix = spec.part.map(String.init).joined(separator: ".")
        var name = "BODY[" + partPrefix + (partPrefix.isEmpty || spec.text == nil ? "" : ".")
        switch spec.text {
        case nil: break
        case .header?: name += "HEADER"
        case .text?: name += "TEXT"
        case .headerFields(let fields)?: name += "HEADER.FIELDS (" + fields.map { $0.uppercased() }.joined(separator: " ") + ")"
        case .headerFieldsNot(let fields)?: name += "HEADER.FIELDS.NOT (" + fields.map { $0.uppercased() }.joined(separator: " ") + ")"
        case .mime?: name += "MIME"
        }
        return name + "]"
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

    /// `BINARY[part]<origin> data` (a literal8 when the data holds NUL) or `BINARY.SIZE[part] n`.
    static func binaryItem(_ item: IMAPFetchAttribute, _ data: [UInt8]) -> [UInt8] {
        switch item {
        case .binarySize(let part):
            return Array("BINARY.SIZE[\(part.map(String.init).joined(separator: "."))] \(data.count)".utf8)
        case .binary(let part, _, let partial):
            let (data, origin) = Self.partial(data, partial)
            return Array("BINARY[\(part.map(String.init).joined(separator: "."))]\(origin) ".utf8) + IMAPEncoding.binaryLiteral(data)
        default:
            return []
        }
    }

    /// The octets a `<origin.count>` partial asks for, and the `<origin>` the answer names (RFC 9051
    /// §6.4.5: a start beyond the end gives empty data); all of them and "" without a partial.
    static func partial(_ data: [UInt8], _ partial: ClosedRange<UInt32>?) -> (data: [UInt8], origin: String) {
        guard let partial else { return (data, "") }
        let start = min(Int(partial.lowerBound), data.count)
        let end = min(Int(partial.upperBound) + 1, data.count)
        return (Array(data[start..<max(start, end)]), "<\(partial.lowerBound)>")
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
