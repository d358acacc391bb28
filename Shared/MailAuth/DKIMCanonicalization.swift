import Crypto
import Foundation

/// The two canonicalisation algorithms of RFC 6376 §3.4, for header fields and for the body.
public enum DKIMCanonicalization: String, Sendable, Equatable {
    case simple
    case relaxed
}

/// One header field as it appears in the message: its name and the whole field, folding and final
/// CRLF included, since `simple` signs it exactly as sent.
public struct DKIMHeaderField: Sendable, Equatable {
    public let name: String
    public let raw: [UInt8]

    /// The fields of a header section in order; the section may or may not include its empty line.
    /// A line that cannot start a field (no colon) is kept with the field before it, which is how a
    /// verifier that signs what it sees would read it.
    public static func fields(of header: some Collection<UInt8>) -> [DKIMHeaderField] {
        let bytes = Array(header)
        var fields: [DKIMHeaderField] = []
        var fieldStart = 0
        func finish(at end: Int) {
            guard end > fieldStart else { return }
            let raw = Array(bytes[fieldStart..<end])
            var nameEnd = raw.firstIndex(of: UInt8(ascii: ":")) ?? raw.endIndex
            while nameEnd > 0, raw[nameEnd - 1] == 0x20 || raw[nameEnd - 1] == 0x09 { nameEnd -= 1 }
            fields.append(DKIMHeaderField(name: String(decoding: raw[..<nameEnd], as: UTF8.self), raw: raw))
        }
        var index = 0
        while index < bytes.count {
            let lineStart = index
            // A line that starts with a blank continues the field before it (RFC 5322 §2.2.3).
            let continues = bytes[index] == 0x20 || bytes[index] == 0x09
            let isEmptyLine = bytes[index] == 0x0A || (bytes[index] == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A)
            if isEmptyLine { break }
            if !continues {
                finish(at: lineStart)
                fieldStart = lineStart
            }
            while index < bytes.count && bytes[index] != 0x0A { index += 1 }
            index = min(bytes.count, index + 1)
        }
        finish(at: index)
        return fields
    }

    /// The field as `canonicalization` signs it, with its CRLF.
    public func canonicalized(_ canonicalization: DKIMCanonicalization) -> [UInt8] {
        switch canonicalization {
        case .simple:
            return self.raw
        case .relaxed:
            return Self.relaxed(self.raw) + [0x0D, 0x0A]
        }
    }

    /// RFC 6376 §3.4.2: lower-case name, unfolded, runs of blanks as one space, none at the end or
    /// around the colon. Without the final CRLF (the signature field itself is signed without it).
    public static func relaxed(_ raw: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var inName = true
        var valueStarted = false
        var pendingSpace = false
        for byte in raw {
            if byte == 0x0D || byte == 0x0A { continue }
            if inName {
                if byte == UInt8(ascii: ":") {
                    while let last = output.last, last == 0x20 || last == 0x09 { output.removeLast() }
                    output.append(byte)
                    inName = false
                } else {
                    output.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                }
                continue
            }
            if byte == 0x20 || byte == 0x09 {
                pendingSpace = true
                continue
            }
            // Blanks right after the name's colon are dropped; elsewhere a run becomes one space.
            if pendingSpace && valueStarted { output.append(0x20) }
            pendingSpace = false
            valueStarted = true
            output.append(byte)
        }
        return output
    }
}

/// The body as a canonicalisation algorithm reads it, hashed as it arrives (RFC 6376 §3.4.3, §3.4.4):
/// a message of any size is hashed holding no more than a count of the empty lines seen last.
///
/// A body hash may cover only the first `limit` canonical octets (the `l=` tag); `canonicalLength`
/// counts all of them, which a verifier compares with `l=`.
public struct DKIMBodyHasher: Sendable {
    public let canonicalization: DKIMCanonicalization
    public let limit: Int?
    private var hash = SHA256()
    public private(set) var canonicalLength = 0
    /// Canonical octets written and not hashed yet: hashing a piece at a time rather than per octet.
    private var output: [UInt8] = []
    private var hashedLength = 0
    /// Line ends seen at the end of what came so far, not yet hashed: trailing empty lines are not
    /// part of the canonical body.
    private var heldLineEnds = 0
    /// Relaxed: blanks seen within the current line, not yet hashed (dropped at a line's end, one
    /// space before more content).
    private var heldBlank = false
    private var lineHasContent = false
    private var pendingCR = false

    public init(canonicalization: DKIMCanonicalization, limit: Int? = nil) {
        self.canonicalization = canonicalization
        self.limit = limit
    }

    public mutating func add(_ bytes: some Sequence<UInt8>) {
        // Through the contiguous storage when there is one: a generic iterator per octet costs more.
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in self.add(buffer: buffer) }
        if done == nil {
            for byte in bytes { self.add(byte) }
        }
    }

    /// Runs of octets that are content as they stand (no CR, and for relaxed no blank) while nothing is
    /// held back are written at once; everything else goes octet by octet through the rules.
    private mutating func add(buffer: UnsafeBufferPointer<UInt8>) {
        let relaxed = self.canonicalization == .relaxed
        var index = 0
        while index < buffer.count {
            if !self.pendingCR, self.heldLineEnds == 0, !self.heldBlank, Self.isPlain(buffer[index], relaxed: relaxed) {
                var end = index + 1
                while end < buffer.count, Self.isPlain(buffer[end], relaxed: relaxed) { end += 1 }
                self.lineHasContent = true
                self.emit(UnsafeBufferPointer(rebasing: buffer[index..<end]))
                index = end
            } else {
                self.add(buffer[index])
                index += 1
            }
        }
    }

    private static func isPlain(_ byte: UInt8, relaxed: Bool) -> Bool {
        byte != 0x0D && !(relaxed && (byte == 0x20 || byte == 0x09))
    }

    private mutating func add(_ byte: UInt8) {
        if self.pendingCR {
            self.pendingCR = false
            if byte == 0x0A {
                self.endLine()
                return
            }
            // A CR alone is content like any other octet.
            self.content(0x0D)
        }
        switch byte {
        case 0x0D:
            self.pendingCR = true
        case 0x20 where self.canonicalization == .relaxed, 0x09 where self.canonicalization == .relaxed:
            self.heldBlank = true
        default:
            self.content(byte)
        }
    }

    private mutating func content(_ byte: UInt8) {
        while self.heldLineEnds > 0 {
            self.emit([0x0D, 0x0A])
            self.heldLineEnds -= 1
        }
        if self.heldBlank {
            self.emit(0x20)
            self.heldBlank = false
        }
        self.lineHasContent = true
        self.emit(byte)
    }

    private mutating func endLine() {
        self.heldBlank = false
        self.heldLineEnds += 1
        self.lineHasContent = false
    }

    private mutating func emit(_ byte: UInt8) {
        self.canonicalLength += 1
        self.output.append(byte)
        if self.output.count >= 16384 { self.hashOutput() }
    }

    private mutating func emit(_ bytes: some Collection<UInt8>) {
        self.canonicalLength += bytes.count
        self.output.append(contentsOf: bytes)
        if self.output.count >= 16384 { self.hashOutput() }
    }

    /// Hashes what was written since the last time, up to the limit.
    private mutating func hashOutput() {
        var piece = self.output[...]
        if let limit = self.limit { piece = piece.prefix(max(0, limit - self.hashedLength)) }
        self.hash.update(data: piece)
        self.hashedLength += piece.count
        self.output.removeAll(keepingCapacity: true)
    }

    /// The body hash once the whole body is in.
    public mutating func finish() -> Data {
        if self.pendingCR {
            self.pendingCR = false
            self.content(0x0D)
        }
        self.heldBlank = false
        if self.lineHasContent || (self.heldLineEnds > 0 && self.canonicalLength > 0) {
            // The last line keeps (or, not ended, gets: RFC 6376 §3.4.4) its CRLF; empty lines after
            // it are dropped.
            self.emit([0x0D, 0x0A])
        } else if self.canonicalLength == 0 && self.canonicalization == .simple {
            // §3.4.3: an empty body is one CRLF under simple; relaxed leaves it empty.
            self.emit([0x0D, 0x0A])
        }
        self.heldLineEnds = 0
        self.lineHasContent = false
        self.hashOutput()
        return Data(self.hash.finalize())
    }
}
