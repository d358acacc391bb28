/// The escapes of Dovecot's listescape plugin in folder directory names (and in the `subscriptions`
/// file): a character a folder name may hold but a directory name may not — the dot that separates
/// Maildir++ levels, a `~` at the start (a home directory to a shell), `/` — is written as the escape
/// character and the byte's two hex digits, so the IMAP folder `v1.2` is the directory `.v1\2e2`, and the
/// escape character itself as `\5c`. Without the plugin Dovecot refuses such names, so these escapes are
/// only found where it was loaded.
public enum DovecotListEscape {
    /// The plugin's default escape character.
    public static let defaultCharacter: UInt8 = 0x5C

    /// A directory name's level with each escape followed by two hex digits made its byte again; an
    /// escape character followed by anything else stays as it is (the plugin never writes one).
    public static func decode(_ level: String, escape: UInt8 = Self.defaultCharacter) -> String {
        let bytes = Array(level.utf8)
        guard bytes.contains(escape) else { return level }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == escape, index + 2 < bytes.count, let high = Self.hexValue(bytes[index + 1]),
                let low = Self.hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A folder name's level (already in modified UTF-7, so ASCII) as a directory name's level, as the
    /// plugin writes it: dots escaped where they separate levels, a leading `~`, `/`, and the escape
    /// character itself (the plugin reads a bare one back as a different name). A level needing none of
    /// these is unchanged, so a Dovecot without the plugin reads it too.
    public static func encode(_ level: String, dotSeparatesLevels: Bool, escape: UInt8 = Self.defaultCharacter) -> String {
        let bytes = Array(level.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() {
            let escaped: Bool
            switch byte {
            case UInt8(ascii: "."): escaped = dotSeparatesLevels
            case UInt8(ascii: "~"): escaped = index == 0
            case UInt8(ascii: "/"): escaped = true
            case escape: escaped = true
            default: escaped = false
            }
            if escaped {
                out.append(escape)
                out.append(Self.hexDigits[Int(byte >> 4)])
                out.append(Self.hexDigits[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `encode` changes the level: a Dovecot reading it needs the plugin.
    public static func needsPlugin(_ level: String, dotSeparatesLevels: Bool, escape: UInt8 = Self.defaultCharacter) -> Bool {
        Self.encode(level, dotSeparatesLevels: dotSeparatesLevels, escape: escape) != level
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
