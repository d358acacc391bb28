/// BODY[HEADER.FIELDS (…)] and BODY[HEADER.FIELDS.NOT (…)] (RFC 9051 §6.4.5) of a header read a piece
/// at a time: the fields named (or all others), each with its continuation lines, then an empty line.
/// A line is held only until its name is known.
struct IMAPHeaderFieldFilter {
    private let names: Set<String>
    private let keep: Bool
    /// The line under way while its name is not yet known (its colon not yet read).
    private var undecided: [UInt8] = []
    private var atLineStart = true
    /// Whether the line under way is written out; nil while that is not yet known.
    private var writing: Bool? = false
    /// Whether the last field was kept, so its continuation lines are too.
    private var including = false

    /// A name not known after this many octets is no name asked for (no client asks for one so long).
    static let nameLimit = 4096

    init(names: [String], keep: Bool) {
        self.names = Set(names.map { $0.lowercased() })
        self.keep = keep
    }

    mutating func filter(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in piece {
            if self.atLineStart {
                self.atLineStart = false
                if byte == 32 || byte == 9 {
                    // A continuation line goes with its field.
                    self.writing = self.including
                } else {
                    self.writing = nil
                }
            }
            switch self.writing {
            case true?: output.append(byte)
            case false?: break
            case nil:
                self.undecided.append(byte)
                if byte == UInt8(ascii: ":") {
                    self.decide(into: &output)
                } else if byte == 10 || self.undecided.count > Self.nameLimit {
                    // A line without a colon is no field.
                    self.including = false
                    self.writing = false
                    self.undecided.removeAll(keepingCapacity: true)
                }
            }
            if byte == 10 { self.atLineStart = true }
        }
    }

    /// The octets of the empty line that ends the answer.
    mutating func finish(into output: inout [UInt8]) {
        self.undecided.removeAll()
        output += [13, 10]
    }

    /// The line held has reached its colon: its name (trimmed, lower-cased bytewise, as field names
    /// are printable ASCII, RFC 5322 §2.2) says whether it is written.
    private mutating func decide(into output: inout [UInt8]) {
        var name = self.undecided.dropLast()
        while let first = name.first, first == 32 || first == 9 { name = name.dropFirst() }
        while let last = name.last, last == 32 || last == 9 { name = name.dropLast() }
        let text = String(decoding: name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        self.including = self.names.contains(text) == self.keep
        self.writing = self.including
        if self.including { output += self.undecided }
        self.undecided.removeAll(keepingCapacity: true)
    }
}
