import Foundation
import IMAPProtocol
import MailFormat
import MailStore
import NIOCore
import ServerSupport

/// `* n FETCH (…)` of one message stored larger than `imap.streamedMessageBytes`, answered
/// while holding one piece of it at a time, whatever it is asked: its structure (BODY, BODYSTRUCTURE)
/// is worked out in one pass over it (`MIMEStructureScanner`), and every section, part and BINARY
/// item is sent from the store as it is read, announced by its size. A section whose size is not its
/// stored size (HEADER.FIELDS of a part, BINARY with the transfer encoding undone) is read twice:
/// once to count what it gives, once to send it.
struct IMAPLargeMessage {
    let store: MailStore
    let mailbox: MailboxID
    let message: StoredMessage
    /// ENVELOPE and BODYSTRUCTURE strings in UTF-8.
    let utf8: Bool
    private var header: [UInt8]?
    private var root: MIMEEntity?

    init(store: MailStore, mailbox: MailboxID, message: StoredMessage, utf8: Bool) {
        self.store = store
        self.mailbox = mailbox
        self.message = message
        self.utf8 = utf8
    }

    /// Header fields of its parts made into fields at most, over all of them (hostile mail may have
    /// thousands of large part headers).
    static let structureHeaderBytes = 2 << 20

    /// What one item sends: a value, octets held, or a stretch of the message with what is done to it.
    private enum Answer {
        case item(IMAPFetchItem)
        case header(IMAPFetchAttribute)
        case literal(IMAPFetchLiteralItem, [UInt8])
        case section(IMAPFetchLiteralItem, range: Range<Int64>, partial: ClosedRange<UInt32>?, change: Change, binary: Bool)
        case binarySize(part: [Int], range: Range<Int64>, change: Change)
    }

    private enum Change: Equatable {
        case none
        case headerFields([String], keep: Bool)
        case decode(TransferDecoder.Encoding)
    }

    /// Writes the answer for the message, or returns the text of the NO that ends the command when an
    /// item cannot be given (a part that is not there, an unknown transfer encoding), before anything
    /// of this message is sent. Once a literal has begun, a failure can only end the connection (the
    /// client counts the octets it was promised).
    mutating func fetch(
        number: Int, flags: Set<String>, announceFlags: Bool, response: IMAPFetchResponse, connection: IMAPSession.Connection
    ) async throws -> IMAPFetchRefusal? {
        var answers: [Answer] = []
        for item in response.items {
            switch try await self.answer(item, number: number, flags: flags, response: response) {
            case .success(let answer): answers.append(answer)
            case .failure(let refusal): return refusal
            }
        }
        var output = ByteBuffer()
        var writer = IMAPFetchWriter(utf8: self.utf8)
        writer.begin(number, into: &output)
        for answer in answers {
            switch answer {
            case .item(let item):
                writer.write(item, into: &output)
            case .header(let item):
                _ = IMAPFetchResponse.writeFromHeader(item, header: try await self.headerSection(), writer: &writer, into: &output)
            case .literal(let item, let data):
                data.withUnsafeBytes { writer.writeLiteral(item, $0, into: &output) }
            case .binarySize(let part, let range, let change):
                writer.write(.binarySize(part: part, size: try await self.measure(range, change, window: 0..<0).size), into: &output)
            case .section(let item, let range, let partial, let change, let binary):
                // A stretch sent as stored has its stored size; BINARY must also know whether it holds NUL.
                var size = Int64(range.count)
                var hasNUL = false
                if binary || change != .none {
                    let wanted = partial.map { Int64($0.lowerBound)..<(Int64($0.upperBound) + 1) } ?? 0..<Int64.max
                    (size, hasNUL) = try await self.measure(range, change, window: wanted)
                }
                // RFC 9051 §6.4.5: octets counted from the section's start; a start beyond the end gives empty data.
                let start = partial.map { min(Int64($0.lowerBound), size) } ?? 0
                let end = partial.map { max(start, min(Int64($0.upperBound) + 1, size)) } ?? size
                writer.writeLiteralHeader(item, count: Int(end - start), literal8: binary && hasNUL, into: &output)
                try await connection.outbound.write(.sendPart(output))
                output = ByteBuffer()
                try await self.send(range, change, window: start..<end, exact: binary, connection: connection)
            }
        }
        if announceFlags, !response.items.contains(.flags) { writer.write(.flags(flags.sorted()), into: &output) }
        writer.end(into: &output)
        try await connection.outbound.write(.sendPart(output))
        return nil
    }

    private mutating func answer(_ item: IMAPFetchAttribute, number: Int, flags: Set<String>, response: IMAPFetchResponse) async throws
        -> Result<Answer, IMAPFetchRefusal>
    {
        if let listed = IMAPFetchResponse.listed(item, message: self.message, flags: flags) { return .success(.item(listed)) }
        // Items that take the message apart: its header section kept apart is not needed for them.
        switch item {
        case .body, .bodyStructure:
            let structure = IMAPMessageStructure(root: try await self.structure()).bodyStructure()
            return .success(.item(.body(structure, extensible: item == .bodyStructure)))
        case .bodySection(let spec, _, let partial) where !spec.part.isEmpty:
            return .success(try await self.section(spec, partial: partial))
        case .binary(let part, _, let partial):
            return try await self.binary(part, partial: partial, size: false, number: number)
        case .binarySize(let part):
            return try await self.binary(part, partial: nil, size: true, number: number)
        case .preview:
            // From the start of the chosen part only, however large the message.
            guard let part = MessagePreview.part(of: try await self.structure()) else { return .success(.item(.preview(""))) }
            var body: [UInt8] = []
            let start = Int64(part.body.lowerBound)
            let end = min(Int64(part.body.upperBound), start + Int64(MessagePreview.maximumSourceBytes))
            try await self.read(start..<end) { piece in
                body += piece
                return true
            }
            return .success(.item(.preview(MessagePreview.text(of: part, body: body))))
        default:
            break
        }
        if IMAPFetchResponse.answeredFromHeader(item) { return .success(.header(item)) }
        if let (literal, range) = IMAPFetchResponse.messageExtent(
            item, size: self.message.size, headerLength: Int64(try await self.headerSection().count))
        {
            return .success(.section(literal, range: range, partial: nil, change: .none, binary: false))
        }
        // What is left is a section of the message itself with no such thing in it (BODY[MIME]).
        guard case .bodySection(let spec, _, let partial) = item else { return .success(.literal(.rfc822, [])) }
        return .success(try await self.section(spec, partial: partial))
    }

    /// BINARY[part] (RFC 3516): a leaf part's body with its Content-Transfer-Encoding undone; a
    /// multipart or message/rfc822 part as it is; the message itself as it is.
    private mutating func binary(_ part: [Int], partial: ClosedRange<UInt32>?, size: Bool, number: Int) async throws
        -> Result<Answer, IMAPFetchRefusal>
    {
        let named = part.map(String.init).joined(separator: ".")
        var range = 0..<self.message.size
        var change = Change.none
        if !part.isEmpty {
            guard let entity = try await self.structure().part(part) else {
                return .failure(IMAPFetchRefusal(.noSuchPart, part: named, message: number))
            }
            let stretch = entity.enclosed.first.map { $0.header.lowerBound..<$0.body.upperBound } ?? entity.body
            range = Int64(stretch.lowerBound)..<Int64(stretch.upperBound)
            if entity.enclosed.isEmpty, !entity.isMultipart {
                guard let decoder = TransferDecoder(encoding: entity.field("content-transfer-encoding")) else {
                    return .failure(IMAPFetchRefusal(.unknownEncoding, part: named, message: number))
                }
                if decoder.encoding != .identity { change = .decode(decoder.encoding) }
            }
        }
        if size { return .success(.binarySize(part: part, range: range, change: change)) }
        return .success(.section(.binary(part: part, origin: partial?.lowerBound), range: range, partial: partial, change: change, binary: true))
    }

    /// A body section naming a part (those of the message itself were answered before): as
    /// `IMAPFetchResponse.section` gives it for a message held whole.
    private mutating func section(_ spec: IMAPSection, partial: ClosedRange<UInt32>?) async throws -> Answer {
        let name = IMAPFetchLiteralItem.body(spec, origin: partial?.lowerBound)
        guard !spec.part.isEmpty, let entity = try await self.structure().part(spec.part) else {
            // No such part: nothing (an empty line for a list of its fields).
            var empty: String {
                switch spec.text {
                case .headerFields?, .headerFieldsNot?: "\r\n"
                default: ""
                }
            }
            return .literal(name, IMAPFetchResponse.partial(Array(empty.utf8), partial))
        }
        // HEADER and TEXT refer to the message inside a message/rfc822 part.
        let inner = entity.enclosed.first
        let scope = inner.map { $0.header.lowerBound..<$0.body.upperBound } ?? entity.body
        func stretch(_ range: Range<Int>, _ change: Change = .none) -> Answer {
            .section(name, range: Int64(range.lowerBound)..<Int64(range.upperBound), partial: partial, change: change, binary: false)
        }
        switch spec.text {
        case nil: return stretch(inner == nil ? entity.body : scope)
        case .mime?: return stretch(entity.header)
        default: break
        }
        let headerEnd: Int
        if let inner {
            headerEnd = inner.header.upperBound
        } else {
            headerEnd = scope.lowerBound + (try await self.headerLength(of: scope))
        }
        switch spec.text {
        case .text?: return stretch(headerEnd..<scope.upperBound)
        case .headerFields(let fields)?: return stretch(scope.lowerBound..<headerEnd, .headerFields(fields, keep: true))
        case .headerFieldsNot(let fields)?: return stretch(scope.lowerBound..<headerEnd, .headerFields(fields, keep: false))
        default: return stretch(scope.lowerBound..<headerEnd)
        }
    }

    /// The message is no longer in its mailbox (expunged since it was listed).
    struct Gone: Error {}

    /// Which of `words` the message's text holds (SEARCH BODY and TEXT, as `MessageText` gives the text),
    /// read a part at a time; each word compared by `contains(text, word)`.
    mutating func textHolds(_ words: [String], contains: @escaping (String, String) -> Bool) async throws -> Set<String> {
        var finder = TextWordFinder(words)
        for step in MessageText.steps(of: try await self.structure()) {
            guard !finder.isDone else { break }
            switch step {
            case .text(let text):
                finder.feed(text, contains: contains)
            case .part(let range, let encoding, let charset):
                var decoder = TextPartDecoder(encoding: encoding, charset: charset)
                try await self.read(Int64(range.lowerBound)..<Int64(range.upperBound)) { piece in
                    finder.feed(decoder.decode(piece), contains: contains)
                    return !finder.isDone
                }
                finder.feed(decoder.finish() + "\n", contains: contains)
            }
        }
        return finder.found
    }

    /// The header section as delivered (added lines first), read once.
    mutating func headerSection() async throws -> [UInt8] {
        if let header { return header }
        let listed = try await self.store.messagesWithContent(in: self.mailbox, uids: self.message.uid...self.message.uid, content: .header)
        let section = Array(listed.first?.content ?? Data())
        self.header = section
        return section
    }

    /// The message's MIME structure, worked out in one pass over it.
    private mutating func structure() async throws -> MIMEEntity {
        if let root { return root }
        var scanner = MIMEStructureScanner(headerBytesInAll: Self.structureHeaderBytes)
        try await self.read(0..<self.message.size) { piece in
            piece.withUnsafeBytes { scanner.feed($0) }
            return true
        }
        let structure = scanner.finish()
        self.root = structure
        return structure
    }

    /// Where a header would end in `range` (a part that is not a message has none of its own, yet
    /// HEADER of it is answered as of one): read until its empty line.
    private func headerLength(of range: Range<Int>) async throws -> Int {
        var scanner = MIMEStructureScanner(headerBytesPerEntity: 0)
        var found: Int?
        try await self.read(Int64(range.lowerBound)..<Int64(range.upperBound)) { piece in
            piece.withUnsafeBytes { scanner.feed($0) }
            found = scanner.headerLength
            return found == nil
        }
        return found ?? scanner.finish().header.count
    }

    /// The octets of `range`, a piece at a time, to `each` (which returns false to stop early); a
    /// message removed or cut short meanwhile is an error.
    private func read(_ range: Range<Int64>, _ each: (Data) async throws -> Bool) async throws {
        guard !range.isEmpty else { return }
        guard var reader = try await self.store.contentReader(in: self.mailbox, uid: self.message.uid) else { throw Gone() }
        guard reader.size == self.message.size else { throw MailStoreError.unavailable("message \(self.message.uid) changed while it was read") }
        try await self.store.seek(&reader, to: range.lowerBound)
        var offset = range.lowerBound
        while offset < range.upperBound, let piece = try await self.store.nextPiece(&reader) {
            let end = min(offset + Int64(piece.count), range.upperBound)
            let taken = piece.prefix(Int(end - offset))
            offset = end
            guard try await each(taken) else { return }
        }
        guard offset >= range.upperBound else { throw MailStoreError.unavailable("message \(self.message.uid) ended early") }
    }

    /// What a stretch gives once changed, piece by piece, to `each` (with the offset of the piece in
    /// what it gives).
    private func changed(_ range: Range<Int64>, _ change: Change, _ each: (Int64, Data) async throws -> Void) async throws {
        switch change {
        case .none:
            var given: Int64 = 0
            try await self.read(range) { piece in
                try await each(given, piece)
                given += Int64(piece.count)
                return true
            }
        case .headerFields(let names, let keep): try await self.changed(range, IMAPHeaderFieldFilter(names: names, keep: keep), each)
        case .decode(let encoding): try await self.changed(range, TransferDecoder(encoding), each)
        }
    }

    private func changed(_ range: Range<Int64>, _ changer: some PieceChange, _ each: (Int64, Data) async throws -> Void) async throws {
        var changer = changer
        var given: Int64 = 0
        var buffer: [UInt8] = []
        try await self.read(range) { piece in
            buffer.removeAll(keepingCapacity: true)
            piece.withUnsafeBytes { changer.change($0, into: &buffer) }
            try await each(given, Data(buffer))
            given += Int64(buffer.count)
            return true
        }
        buffer.removeAll()
        changer.finish(into: &buffer)
        try await each(given, Data(buffer))
    }

    /// How many octets a stretch gives once changed, and whether those in `window` hold a NUL.
    private func measure(_ range: Range<Int64>, _ change: Change, window: Range<Int64>) async throws -> (size: Int64, hasNUL: Bool) {
        var size: Int64 = 0
        var hasNUL = false
        try await self.changed(range, change) { offset, piece in
            size = offset + Int64(piece.count)
            let start = max(offset, window.lowerBound), end = min(size, window.upperBound)
            if !hasNUL, start < end {
                hasNUL = piece.withUnsafeBytes { bytes in
                    bytes.baseAddress.map { memchr($0 + Int(start - offset), 0, Int(end - start)) != nil } ?? false
                }
            }
        }
        return (size, hasNUL)
    }

    /// Sends the octets of `window` of what a stretch gives, as they are read; NUL goes out as 0x80
    /// unless `exact` (a literal8), as `IMAPFetchWriter.writeLiteral` says.
    private func send(
        _ range: Range<Int64>, _ change: Change, window: Range<Int64>, exact: Bool, connection: IMAPSession.Connection
    ) async throws {
        guard !window.isEmpty else { return }
        var sent: Int64 = 0
        try await self.changed(range, change) { offset, piece in
            let start = max(offset, window.lowerBound), end = min(offset + Int64(piece.count), window.upperBound)
            guard start < end else { return }
            var part = ByteBuffer()
            piece.withUnsafeBytes { bytes in
                let slice = UnsafeRawBufferPointer(rebasing: bytes[Int(start - offset)..<Int(end - offset)])
                IMAPFetchWriter.writeLiteralOctets(slice, exact: exact, into: &part)
            }
            sent += end - start
            try await connection.outbound.write(.sendPart(part))
        }
        guard sent == window.count else { throw MailStoreError.unavailable("message \(self.message.uid) changed while it was sent") }
    }
}

/// What is done to a stretch of a message a piece at a time on its way out.
private protocol PieceChange {
    mutating func change(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8])
    /// What the last piece held back.
    mutating func finish(into output: inout [UInt8])
}

extension IMAPHeaderFieldFilter: PieceChange {
    mutating func change(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8]) { self.filter(piece, into: &output) }
}

extension TransferDecoder: PieceChange {
    mutating func change(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8]) { self.decode(piece, into: &output) }
}
