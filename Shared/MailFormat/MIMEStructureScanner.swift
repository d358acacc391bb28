/// Works out the MIME structure of a message (RFC 2045, 2046) read a piece at a time, so that the
/// structure of a message of any size is known while holding one line's start and the entities'
/// header fields, never the message. Fed in one piece or many, it gives the same tree.
///
/// The rules, as `MIMEParser.parse` documents them: an entity's header ends at its first empty line;
/// a multipart's body is cut at `--boundary` lines (RFC 2046 §5.1.1), the line end before a delimiter
/// belonging to it, the preamble and epilogue dropped, and without a closing delimiter the last part
/// runs to the end of its parent; an enclosing part's delimiter ends whatever is open inside it, as
/// nested entities lie wholly within their part. Nesting deeper than `maximumDepth` and parts beyond
/// `maximumParts` are left unparsed (their bodies opaque).
public struct MIMEStructureScanner: Sendable {
    /// An entity still being read: the innermost may be in its header; the others are multiparts
    /// waiting for their delimiters or messages enclosing the next one.
    private struct Open: Sendable {
        var entity: MIMEEntity
        var inHeader = true
        var header: [UInt8] = []
        let depth: Int
        let defaultType: MIMEDefaultType
        /// Whether it is the message of its parent's message/rfc822 body (else one of its parts).
        let enclosed: Bool
        /// `--boundary` while the multipart's delimiters still cut its body.
        var delimiter: [UInt8]?
        /// Where its current part began; nil before its first delimiter and once parts are no longer read.
        var partStart: Int?
        /// Line ends before its body began, for the body's line count.
        var lineFeedsBeforeBody = 0
        var childDefault: MIMEDefaultType = .text
    }

    private let maximumDepth: Int
    private let headerBytesPerEntity: Int
    private var partsLeft: Int
    private var headerBytesLeft: Int
    private var stack: [Open]
    /// Octets read so far, and line ends among them.
    private var offset = 0
    private var lineFeeds = 0
    /// The line under way: where it began, its length so far (without its line feed), its first
    /// octets (as many as the longest delimiter could need), and whether all octets past those are blank.
    private var lineStart = 0
    private var lineLength = 0
    private var lineFirst: UInt8 = 0
    private var linePrefix: [UInt8] = []
    private var prefixLimit = 0
    private var restBlank = true
    private var lineFeedsBeforeLine = 0
    /// The three octets before the line under way (the last is its predecessor's line feed), and the
    /// last three read: what a part's end trimmed back over its line end ends with.
    private var beforeLine: (UInt8, UInt8, UInt8) = (0, 0, 0)
    private var lastThree: (UInt8, UInt8, UInt8) = (0, 0, 0)
    /// The header bytes the innermost entity had when the line under way began.
    private var headerMark = 0

    /// `headerBytesPerEntity` octets of each header are made into fields (`MessageHeader`'s own
    /// default); `headerBytesInAll` bounds them over all entities, so hostile mail with thousands of
    /// large part headers costs bounded memory.
    public init(
        maximumDepth: Int = 30, maximumParts: Int = 5_000, headerBytesPerEntity: Int = 1 << 20, headerBytesInAll: Int = .max
    ) {
        self.maximumDepth = maximumDepth
        self.partsLeft = maximumParts
        self.headerBytesPerEntity = headerBytesPerEntity
        self.headerBytesLeft = headerBytesInAll
        self.stack = [Self.open(at: 0, depth: 0, defaultType: .text, enclosed: false)]
    }

    private static func open(at start: Int, depth: Int, defaultType: MIMEDefaultType, enclosed: Bool) -> Open {
        Open(
            entity: MIMEEntity(
                header: start..<start, body: start..<start, fields: [], type: "", subtype: "", parameters: [], children: [],
                enclosed: []),
            depth: depth, defaultType: defaultType, enclosed: enclosed)
    }

    /// How long the message's own header is with the empty line after it, once that line has been
    /// read (a reader after the header section alone can stop there).
    public var headerLength: Int? {
        guard let root = self.stack.first, !root.inHeader else { return nil }
        return root.entity.header.count
    }

    /// Reads the next octets of the message.
    public mutating func feed(_ piece: UnsafeRawBufferPointer) {
        var index = 0
        while index < piece.count {
            let rest = UnsafeRawBufferPointer(rebasing: piece[index...])
            let lineFeed = rest.firstIndex(of: 10)
            let segment = UnsafeRawBufferPointer(rebasing: rest[..<(lineFeed ?? rest.count)])
            self.take(segment)
            guard lineFeed != nil else { break }
            let top = self.stack.count - 1
            if self.stack[top].inHeader, self.stack[top].header.count < self.headerBytesPerEntity, self.headerBytesLeft > 0 {
                self.stack[top].header.append(10)
                self.headerBytesLeft -= 1
            }
            self.offset += 1
            self.lineFeeds += 1
            self.lastThree = (self.lastThree.1, self.lastThree.2, 10)
            self.endLine(atEndOfInput: false)
            index += segment.count + 1
        }
    }

    public mutating func feed(_ piece: some Collection<UInt8>) {
        if piece.withContiguousStorageIfAvailable({ self.feed(UnsafeRawBufferPointer($0)) }) == nil {
            Array(piece).withUnsafeBytes { self.feed($0) }
        }
    }

    /// The structure, once every octet has been fed.
    public mutating func finish() -> MIMEEntity {
        if self.offset > self.lineStart { self.endLine(atEndOfInput: true) }
        // A message that is all header (it may still open an enclosed message, empty).
        if self.stack.count == 1, self.stack[0].inHeader { self.endHeader(at: self.offset) }
        self.close(downTo: 0, at: self.offset, lineFeedsBefore: self.lineFeeds, lastOctet: self.lastThree.2)
        var root = self.stack.removeLast()
        self.finishEntity(&root, at: self.offset, lineFeedsBefore: self.lineFeeds, lastOctet: self.lastThree.2)
        return root.entity
    }

    /// Octets of the line under way, without its line feed.
    private mutating func take(_ segment: UnsafeRawBufferPointer) {
        guard !segment.isEmpty else { return }
        if self.lineLength == 0 { self.lineFirst = segment[0] }
        let top = self.stack.count - 1
        if self.stack[top].inHeader {
            let room = min(self.headerBytesPerEntity - self.stack[top].header.count, self.headerBytesLeft)
            if room > 0 {
                let taken = min(room, segment.count)
                self.stack[top].header.append(contentsOf: segment[..<taken])
                self.headerBytesLeft -= taken
            }
        }
        if self.prefixLimit > 0 {
            let room = max(0, self.prefixLimit - self.linePrefix.count)
            self.linePrefix.append(contentsOf: segment.prefix(room))
            if self.restBlank, segment.count > room {
                self.restBlank = segment[room...].allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 }
            }
        }
        self.lineLength += segment.count
        self.offset += segment.count
        switch segment.count {
        case 1: self.lastThree = (self.lastThree.1, self.lastThree.2, segment[0])
        case 2: self.lastThree = (self.lastThree.2, segment[0], segment[1])
        default: self.lastThree = (segment[segment.count - 3], segment[segment.count - 2], segment[segment.count - 1])
        }
    }

    /// At a line's end (its line feed read, or the end of the message): a delimiter of an open
    /// multipart, the empty line that ends a header, or just a line.
    private mutating func endLine(atEndOfInput: Bool) {
        let next = self.offset
        if let level = self.delimiterLevel() {
            self.delimiter(at: level, nextLine: next)
        } else if let top = self.stack.indices.last, self.stack[top].inHeader, !atEndOfInput,
            self.lineLength == 0 || (self.lineLength == 1 && self.lineFirst == 13)
        {
            self.endHeader(at: next)
        }
        // The next line.
        self.lineStart = next
        self.lineLength = 0
        self.linePrefix.removeAll(keepingCapacity: true)
        self.restBlank = true
        self.lineFeedsBeforeLine = self.lineFeeds
        self.beforeLine = self.lastThree
        self.headerMark = self.stack[self.stack.count - 1].header.count
        self.prefixLimit = self.stack.reduce(0) { longest, open in max(longest, open.delimiter.map { $0.count + 2 } ?? 0) }
    }

    /// The outermost open multipart whose delimiter the line is (an enclosing part's delimiter wins).
    private func delimiterLevel() -> Int? {
        guard self.prefixLimit > 0 else { return nil }
        for level in self.stack.indices {
            guard let delimiter = self.stack[level].delimiter, self.lineLength >= delimiter.count,
                self.linePrefix.starts(with: delimiter)
            else { continue }
            var rest = self.linePrefix[delimiter.count...]
            if rest.starts(with: [45, 45]) { rest = rest.dropFirst(2) }
            if rest.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }), self.restBlank { return level }
        }
        return nil
    }

    /// A delimiter of the multipart at `level`: the part under way (and all within it) ends before the
    /// line end that precedes the delimiter; a closing delimiter ends the parts, another begins one.
    private mutating func delimiter(at level: Int, nextLine: Int) {
        // The delimiter line is no header line of an entity it ends.
        let top = self.stack.count - 1
        if self.stack[top].inHeader {
            self.headerBytesLeft += self.stack[top].header.count - self.headerMark
            self.stack[top].header.removeSubrange(self.headerMark...)
        }
        if let partStart = self.stack[level].partStart {
            var end = self.lineStart
            var lineFeedsBefore = self.lineFeedsBeforeLine
            var lastOctet = self.beforeLine.2
            if end > partStart, self.beforeLine.2 == 10 {
                end -= 1
                lineFeedsBefore -= 1
                lastOctet = self.beforeLine.1
                if end > partStart, self.beforeLine.1 == 13 {
                    end -= 1
                    lastOctet = self.beforeLine.0
                }
            }
            self.close(downTo: level, at: end, lineFeedsBefore: lineFeedsBefore, lastOctet: lastOctet)
            self.stack[level].partStart = nil
        }
        let closing = self.linePrefix.dropFirst(self.stack[level].delimiter?.count ?? 0).starts(with: [45, 45])
        if closing {
            self.stack[level].delimiter = nil
        } else if self.partsLeft > 0 {
            self.partsLeft -= 1
            self.stack[level].partStart = nextLine
            self.stack.append(
                Self.open(at: nextLine, depth: self.stack[level].depth + 1, defaultType: self.stack[level].childDefault, enclosed: false))
        } else {
            self.stack[level].delimiter = nil
        }
    }

    /// The innermost entity's header ends at `position`: its fields and type are known, and what its
    /// body holds begins (parts after a delimiter; an enclosed message at once).
    private mutating func endHeader(at position: Int) {
        let top = self.stack.count - 1
        var open = self.stack[top]
        open.inHeader = false
        // A header cut short by its part's end may have read past that end: it is cut back.
        let start = min(open.entity.header.lowerBound, position)
        open.entity.header = start..<position
        open.entity.body = position..<position
        open.lineFeedsBeforeBody = self.lineFeeds
        // The octets collected are the header's first ones: those past its end (the line end its
        // part's end trimmed) are not part of it.
        if open.header.count > position - start { open.header.removeSubrange((position - start)...) }
        open.entity.fields = open.header.withUnsafeBytes { MessageHeader(parsing: $0).fields }
        open.header = []
        var (type, subtype) = open.defaultType.names
        var parameters: [(name: String, value: String)] = []
        if let value = open.entity.field("Content-Type"), let parsed = MIMEParser.contentType(value) {
            (type, subtype, parameters) = parsed
        }
        if type == "text", parameters.isEmpty { parameters = [("charset", "us-ascii")] }
        open.entity.type = type
        open.entity.subtype = subtype
        open.entity.parameters = parameters
        var enclosed = false
        if open.depth < self.maximumDepth, self.partsLeft > 0 {
            if type == "multipart", let boundary = open.entity.parameter("boundary"), !boundary.isEmpty {
                open.delimiter = Array(("--" + boundary).utf8)
                open.childDefault = subtype == "digest" ? .message : .text
            } else if type == "message", subtype == "rfc822" || subtype == "global" {
                self.partsLeft -= 1
                enclosed = true
            }
        }
        self.stack[top] = open
        if enclosed { self.stack.append(Self.open(at: position, depth: open.depth + 1, defaultType: .text, enclosed: true)) }
    }

    /// Ends every entity above `level` at `end`, innermost first, each into its parent.
    private mutating func close(downTo level: Int, at end: Int, lineFeedsBefore: Int, lastOctet: UInt8) {
        while self.stack.count - 1 > level {
            if self.stack[self.stack.count - 1].inHeader {
                // A header cut short by its part's end: what it has is the header (and may open a message).
                let before = self.stack.count
                self.endHeader(at: end)
                if self.stack.count > before { continue }
            }
            var open = self.stack.removeLast()
            self.finishEntity(&open, at: end, lineFeedsBefore: lineFeedsBefore, lastOctet: lastOctet)
            let parent = self.stack.count - 1
            if open.enclosed {
                self.stack[parent].entity.enclosed = [open.entity]
            } else {
                self.stack[parent].entity.children.append(open.entity)
            }
        }
    }

    /// An entity's ranges end at `end` (a header that ended past it is cut back), and its body's
    /// lines are counted: line ends, and a last line without one.
    private func finishEntity(_ open: inout Open, at end: Int, lineFeedsBefore: Int, lastOctet: UInt8) {
        let header = open.entity.header
        open.entity.header = min(header.lowerBound, end)..<min(header.upperBound, end)
        let bodyStart = min(open.entity.body.lowerBound, end)
        open.entity.body = bodyStart..<end
        open.entity.bodyLines = bodyStart == end ? 0 : lineFeedsBefore - open.lineFeedsBeforeBody + (lastOctet == 10 ? 0 : 1)
    }
}

/// The type an entity without a (valid) Content-Type has: text/plain, or message/rfc822 in a
/// multipart/digest (RFC 2046 §5.1.5).
enum MIMEDefaultType: Sendable {
    case text, message

    var names: (String, String) { self == .text ? ("text", "plain") : ("message", "rfc822") }
}
