import Foundation

/// The header section (through its empty line) of a message that arrives in pieces, kept apart up to a
/// limit while the rest goes elsewhere: what a server checks or indexes before the message is stored.
public struct HeaderSectionCollector: Sendable {
    public let maximumBytes: Int
    /// The section so far; through its empty line once `isComplete`.
    public private(set) var header = Data()
    public private(set) var isComplete = false
    /// The section is longer than `maximumBytes` (`header` is then dropped).
    public private(set) var isTooLarge = false

    public init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
    }

    /// Takes the next bytes of the message.
    public mutating func add(_ bytes: some Collection<UInt8>) {
        guard !self.isComplete, !self.isTooLarge else { return }
        if self.header.isEmpty {
            // Most messages come in one piece with the whole header in it: copy only the header.
            let length = MIMEParser.headerLength(of: bytes)
            if length < bytes.count || Self.endsWithEmptyLine(bytes) {
                self.header = Data(bytes.prefix(length))
                self.isComplete = true
                self.checkSize()
                return
            }
        }
        // Up to one octet more than the limit, which tells the section is too large.
        self.header.append(contentsOf: bytes.prefix(max(0, self.maximumBytes + 1 - self.header.count)))
        let length = MIMEParser.headerLength(of: self.header)
        if length < self.header.count || Self.endsWithEmptyLine(self.header) {
            self.header = Data(self.header.prefix(length))
            self.isComplete = true
        }
        self.checkSize()
    }

    /// The message has ended: without an empty line, all of it was header.
    public mutating func finish() {
        self.checkSize()
        self.isComplete = !self.isTooLarge
    }

    private mutating func checkSize() {
        if self.header.count > self.maximumBytes {
            self.isTooLarge = true
            self.header = Data()
        }
    }

    /// `headerLength` says "the end" both for a header that ends with its empty line exactly there and
    /// for one that has not ended yet; these are told apart by the last octets.
    private static func endsWithEmptyLine(_ bytes: some Collection<UInt8>) -> Bool {
        let tail = Array(bytes.suffix(3))
        if tail.suffix(2) == [10, 10] || tail == [10, 13, 10] { return true }
        return bytes.count == tail.count && (tail == [13, 10] || tail == [10])
    }
}
