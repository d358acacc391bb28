import Foundation
import NIOCore

/// Writes one untagged FETCH response (RFC 9051 §7.5.2) item by item, straight into the outgoing
/// buffer: `* n FETCH (`, the items with a space between, `)` CRLF. A message's octets go from where
/// they lie into the buffer in one copy, and a large one can be sent a piece at a time after
/// `writeLiteralHeader`.
public struct IMAPFetchWriter: Sendable {
    /// Strings (ENVELOPE, BODYSTRUCTURE, PREVIEW) may hold UTF-8 in quoted form (UTF8=ACCEPT or IMAP4rev2).
    public let utf8: Bool
    private var itemsWritten = 0

    public init(utf8: Bool) {
        self.utf8 = utf8
    }

    public mutating func begin(_ number: Int, into output: inout ByteBuffer) {
        output.writeString("* \(number) FETCH (")
        self.itemsWritten = 0
    }

    public func end(into output: inout ByteBuffer) {
        output.writeStaticString(")\r\n")
    }

    private mutating func separate(_ output: inout ByteBuffer) {
        if self.itemsWritten > 0 { output.writeInteger(UInt8(ascii: " ")) }
        self.itemsWritten += 1
    }

    public mutating func write(_ item: IMAPFetchItem, into output: inout ByteBuffer) {
        self.separate(&output)
        switch item {
        case .flags(let flags): output.writeString("FLAGS " + IMAPEncoding.flagList(flags))
        case .uid(let uid): output.writeString("UID \(uid)")
        case .rfc822Size(let size): output.writeString("RFC822.SIZE \(size)")
        case .internalDate(let date): output.writeString("INTERNALDATE " + IMAPEncoding.dateTime(date))
        case .modSeq(let modSeq): output.writeString("MODSEQ (\(modSeq))")
        case .emailID(let id): output.writeString("EMAILID (\(id))")
        case .threadID(let id): output.writeString("THREADID " + (id.map { "(\($0))" } ?? "NIL"))
        case .saveDate(let date): output.writeString("SAVEDATE " + IMAPEncoding.dateTime(date))
        case .envelope(let envelope):
            output.writeString("ENVELOPE ")
            self.write(envelope, into: &output)
        case .body(let structure, let extensible):
            output.writeString(extensible ? "BODYSTRUCTURE " : "BODY ")
            self.write(structure, extensible: extensible, into: &output)
        case .preview(let text):
            output.writeString("PREVIEW ")
            output.writeBytes(IMAPEncoding.string(text, utf8: self.utf8))
        case .binarySize(let part, let size):
            output.writeString("BINARY.SIZE[" + Self.partName(part) + "] \(size)")
        }
    }

    /// A literal item with its octets. NUL may not appear in a `{n}` literal (RFC 9051 §4.3), yet a
    /// stored message may hold it (kept byte-exact): each goes out as 0x80, as Dovecot does, so the
    /// literal keeps its length and RFC822.SIZE stays true. BINARY sends the exact octets, in a
    /// literal8 when they hold NUL (RFC 3516 §4.2).
    public mutating func writeLiteral(_ item: IMAPFetchLiteralItem, _ bytes: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        let exact: Bool
        if case .binary = item { exact = true } else { exact = false }
        let holdsNUL = bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false
        self.writeLiteralHeader(item, count: bytes.count, literal8: exact && holdsNUL, into: &output)
        if exact || !holdsNUL {
            output.writeBytes(bytes)
        } else {
            Self.writeReplacingNUL(bytes, into: &output)
        }
    }

    /// A literal item's name and `{count}` CRLF (`~{count}` for a literal8): its octets follow, as
    /// `writeLiteralOctets` gives them.
    public mutating func writeLiteralHeader(_ item: IMAPFetchLiteralItem, count: Int, literal8: Bool, into output: inout ByteBuffer) {
        self.separate(&output)
        output.writeString(Self.name(item) + (literal8 ? " ~{" : " {") + "\(count)}\r\n")
    }

    /// Octets of a `{n}` literal sent a piece at a time (NUL as 0x80, as `writeLiteral` says), or of a
    /// literal8 as they are when `exact`.
    public static func writeLiteralOctets(_ bytes: UnsafeRawBufferPointer, exact: Bool, into output: inout ByteBuffer) {
        if exact || !(bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false) {
            output.writeBytes(bytes)
        } else {
            Self.writeReplacingNUL(bytes, into: &output)
        }
    }

    private static func writeReplacingNUL(_ bytes: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        let offset = output.writerIndex - output.readerIndex
        let written = output.writeBytes(bytes)
        output.withUnsafeMutableReadableBytes { buffer in
            for index in offset..<(offset + written) where buffer[index] == 0 { buffer[index] = 0x80 }
        }
    }

    /// `BODY[2.HEADER.FIELDS (FROM)]<0>`: the name a literal item is answered under.
    public static func name(_ item: IMAPFetchLiteralItem) -> String {
        switch item {
        case .rfc822: return "RFC822"
        case .rfc822Header: return "RFC822.HEADER"
        case .rfc822Text: return "RFC822.TEXT"
        case .binary(let part, let origin): return "BINARY[" + Self.partName(part) + "]" + (origin.map { "<\($0)>" } ?? "")
        case .body(let spec, let origin):
            let partPrefix = Self.partName(spec.part)
            var name = "BODY[" + partPrefix + (partPrefix.isEmpty || spec.text == nil ? "" : ".")
            switch spec.text {
            case nil: break
            case .header?: name += "HEADER"
            case .text?: name += "TEXT"
            case .headerFields(let fields)?: name += "HEADER.FIELDS (" + fields.map { $0.uppercased() }.joined(separator: " ") + ")"
            case .headerFieldsNot(let fields)?: name += "HEADER.FIELDS.NOT (" + fields.map { $0.uppercased() }.joined(separator: " ") + ")"
            case .mime?: name += "MIME"
            }
            return name + "]" + (origin.map { "<\($0)>" } ?? "")
        }
    }

    private static func partName(_ part: [Int]) -> String { part.map(String.init).joined(separator: ".") }

    // MARK: ENVELOPE and BODYSTRUCTURE

    private func writeNString(_ text: String?, into output: inout ByteBuffer) {
        guard let text else {
            output.writeStaticString("NIL")
            return
        }
        output.writeBytes(IMAPEncoding.string(text, utf8: self.utf8))
    }

    private func write(_ envelope: IMAPEnvelope, into output: inout ByteBuffer) {
        output.writeStaticString("(")
        self.writeNString(envelope.date, into: &output)
        output.writeStaticString(" ")
        self.writeNString(envelope.subject, into: &output)
        for list in [envelope.from, envelope.sender, envelope.replyTo, envelope.to, envelope.cc, envelope.bcc] {
            output.writeStaticString(" ")
            self.write(list, into: &output)
        }
        output.writeStaticString(" ")
        self.writeNString(envelope.inReplyTo, into: &output)
        output.writeStaticString(" ")
        self.writeNString(envelope.messageID, into: &output)
        output.writeStaticString(")")
    }

    /// `((name adl mailbox host)…)`, or NIL for no list.
    private func write(_ addresses: [IMAPAddress]?, into output: inout ByteBuffer) {
        guard let addresses, !addresses.isEmpty else {
            output.writeStaticString("NIL")
            return
        }
        output.writeStaticString("(")
        for address in addresses {
            switch address {
            case .mailbox(let name, let mailbox, let host):
                output.writeStaticString("(")
                self.writeNString(name, into: &output)
                output.writeStaticString(" NIL ")
                self.writeNString(mailbox, into: &output)
                output.writeStaticString(" ")
                self.writeNString(host, into: &output)
                output.writeStaticString(")")
            case .groupStart(let name):
                output.writeStaticString("(NIL NIL ")
                self.writeNString(name, into: &output)
                output.writeStaticString(" NIL)")
            case .groupEnd:
                output.writeStaticString("(NIL NIL NIL NIL)")
            }
        }
        output.writeStaticString(")")
    }

    private func write(_ parameters: [IMAPBodyParameter], into output: inout ByteBuffer) {
        guard !parameters.isEmpty else {
            output.writeStaticString("NIL")
            return
        }
        output.writeStaticString("(")
        for (index, parameter) in parameters.enumerated() {
            if index > 0 { output.writeStaticString(" ") }
            self.writeNString(parameter.name.uppercased(), into: &output)
            output.writeStaticString(" ")
            self.writeNString(parameter.value, into: &output)
        }
        output.writeStaticString(")")
    }

    /// body-fld-dsp SP body-fld-lang SP body-fld-loc.
    private func write(_ extensionData: IMAPBodyExtension, into output: inout ByteBuffer) {
        if let disposition = extensionData.disposition {
            output.writeStaticString("(")
            self.writeNString(disposition.type.uppercased(), into: &output)
            output.writeStaticString(" ")
            self.write(disposition.parameters, into: &output)
            output.writeStaticString(")")
        } else {
            output.writeStaticString("NIL")
        }
        output.writeStaticString(" ")
        self.writeNString(extensionData.language, into: &output)
        output.writeStaticString(" ")
        self.writeNString(extensionData.location, into: &output)
    }

    private func write(_ structure: IMAPBodyStructure, extensible: Bool, into output: inout ByteBuffer) {
        output.writeStaticString("(")
        switch structure {
        case .multipart(let parts, let subtype, let parameters, let extensionData):
            for part in parts { self.write(part, extensible: extensible, into: &output) }
            output.writeStaticString(" ")
            self.writeNString(subtype.uppercased(), into: &output)
            if extensible {
                output.writeStaticString(" ")
                self.write(parameters, into: &output)
                output.writeStaticString(" ")
                self.write(extensionData, into: &output)
            }
        case .single(let fields, let lines, let md5, let extensionData):
            self.write(fields, into: &output)
            if let lines { output.writeString(" \(lines)") }
            self.writeSinglePartExtension(md5, extensionData, extensible: extensible, into: &output)
        case .message(let fields, let envelope, let body, let lines, let md5, let extensionData):
            self.write(fields, into: &output)
            output.writeStaticString(" ")
            self.write(envelope, into: &output)
            output.writeStaticString(" ")
            self.write(body, extensible: extensible, into: &output)
            output.writeString(" \(lines)")
            self.writeSinglePartExtension(md5, extensionData, extensible: extensible, into: &output)
        }
        output.writeStaticString(")")
    }

    private func write(_ fields: IMAPBodyFields, into output: inout ByteBuffer) {
        self.writeNString(fields.type.uppercased(), into: &output)
        output.writeStaticString(" ")
        self.writeNString(fields.subtype.uppercased(), into: &output)
        output.writeStaticString(" ")
        self.write(fields.parameters, into: &output)
        output.writeStaticString(" ")
        self.writeNString(fields.id, into: &output)
        output.writeStaticString(" ")
        self.writeNString(fields.description, into: &output)
        output.writeStaticString(" ")
        self.writeNString(fields.encoding.uppercased(), into: &output)
        output.writeString(" \(fields.size)")
    }

    private func writeSinglePartExtension(_ md5: String?, _ extensionData: IMAPBodyExtension, extensible: Bool, into output: inout ByteBuffer) {
        guard extensible else { return }
        output.writeStaticString(" ")
        self.writeNString(md5, into: &output)
        output.writeStaticString(" ")
        self.write(extensionData, into: &output)
    }
}
