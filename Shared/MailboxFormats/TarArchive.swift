/// The bytes of a POSIX tar archive (the pax interchange format of POSIX.1-2001, `ustar` headers with
/// a pax extended header where a path does not fit), written entry by entry so that an archive of any
/// size can be streamed with one message in memory: `header(…)`, the content, `padding(afterContentOf:)`,
/// and `end` after the last entry. GNU tar, bsdtar and Python's `tarfile` read it.
public enum TarArchive {
    public static let blockSize = 512

    public enum EntryType: UInt8, Sendable {
        case file = 0x30  // "0"
        case directory = 0x35  // "5"
    }

    /// The header block(s) of one entry. A path longer than the ustar fields hold (100 octets, or a
    /// 155-octet prefix and a 100-octet name split at a slash) goes in a pax `path` record before it.
    public static func header(path: String, type: EntryType, size: Int, modified seconds: Int64, mode: Int) -> [UInt8] {
        let fullPath = type == .directory && !path.hasSuffix("/") ? path + "/" : path
        let octets = Array(fullPath.utf8)
        var blocks: [UInt8] = []
        let fields: (name: ArraySlice<UInt8>, prefix: ArraySlice<UInt8>)
        if let split = Self.ustarSplit(octets) {
            fields = split
        } else {
            let record = Self.paxRecord(key: "path", value: octets)
            blocks += Self.ustarBlock(
                name: Array("PaxHeaders/entry".utf8)[...], prefix: [], type: 0x78 /* "x" */, size: record.count,
                modified: seconds, mode: 0o644)
            blocks += record
            blocks += Self.padding(afterContentOf: record.count)
            // The ustar name is a stand-in that readers without pax still can place.
            fields = (octets.suffix(100), [])
        }
        blocks += Self.ustarBlock(
            name: fields.name, prefix: fields.prefix, type: type.rawValue, size: size, modified: seconds, mode: mode)
        return blocks
    }

    /// Zeros that fill the last block of an entry's content.
    public static func padding(afterContentOf size: Int) -> [UInt8] {
        let remainder = size % Self.blockSize
        return remainder == 0 ? [] : [UInt8](repeating: 0, count: Self.blockSize - remainder)
    }

    /// Two zero blocks: the end of the archive.
    public static let end = [UInt8](repeating: 0, count: 2 * 512)

    /// The ustar name and prefix for a path, or nil when it needs a pax record (too long, or not
    /// splittable at a slash into a prefix of at most 155 and a name of at most 100 octets).
    static func ustarSplit(_ path: [UInt8]) -> (name: ArraySlice<UInt8>, prefix: ArraySlice<UInt8>)? {
        if path.count <= 100 { return (path[...], []) }
        guard path.count <= 256 else { return nil }
        // The last slash that leaves a name that fits and a prefix that fits.
        var index = path.count - 1
        while index > 0 {
            if path[index] == 0x2F, path.count - index - 1 <= 100, index <= 155, path.count - index - 1 > 0 {
                return (path[(index + 1)...], path[..<index])
            }
            index -= 1
        }
        return nil
    }

    /// One pax record: "<length> <key>=<value>\n", where the length counts its own digits too.
    static func paxRecord(key: String, value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [0x0A]
        var digits = String(body.count + 1).utf8.count
        while String(body.count + digits).utf8.count != digits { digits += 1 }
        let length = body.count + digits
        return Array(String(length).utf8) + body
    }

    static func ustarBlock(
        name: ArraySlice<UInt8>, prefix: ArraySlice<UInt8>, type: UInt8, size: Int, modified: Int64, mode: Int
    ) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: Self.blockSize)
        func put(_ bytes: some Collection<UInt8>, at offset: Int) {
            for (index, byte) in bytes.enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int64, width: Int) -> [UInt8] {
            // width - 1 digits and a NUL; a value that does not fit (not reachable for mail) is clamped.
            let digits = String(max(0, min(value, (1 << (3 * Int64(width - 1))) - 1)), radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(name, at: 0)
        put(octal(Int64(mode), width: 8), at: 100)
        put(octal(0, width: 8), at: 108)  // uid
        put(octal(0, width: 8), at: 116)  // gid
        put(octal(Int64(size), width: 12), at: 124)
        put(octal(modified, width: 12), at: 136)
        block[156] = type
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        put(prefix, at: 345)
        // The checksum is the sum of the header's octets with its own field counted as spaces.
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = block.reduce(0) { $0 + Int64($1) }
        put(octal(sum, width: 7) + [0x20], at: 148)
        return block
    }
}
