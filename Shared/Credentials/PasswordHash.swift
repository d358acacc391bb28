import CXCrypt
import Dispatch

/// A password hash in one of the crypt(3) formats libxcrypt understands.
///
/// New hashes are yescrypt (`$y$`), the default of current Debian and Dovecot 2.3+. Existing hashes in
/// SHA512-CRYPT (`$6$`), SHA256-CRYPT (`$5$`) and bcrypt (`$2b$`, `$2y$`) verify too, so a Dovecot
/// `passwd-file` can be imported as is. The plain password is never stored; the hash itself is not secret
/// but is still kept out of `description` so that it does not end up in logs.
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible {
    /// The crypt(3) string, for example `$y$j9T$…`.
    public let encoded: String

    /// The algorithm family, read from the hash prefix.
    public var scheme: PasswordHashScheme { PasswordHashScheme(prefixOf: self.encoded) }

    /// Wraps a stored crypt(3) string. Returns nil when the string is not a format we can verify.
    public init?(encoded: String) {
        guard PasswordHashScheme(prefixOf: encoded) != .unsupported,
            encoded.utf8.count < Int(CRYPT_OUTPUT_SIZE),
            !encoded.utf8.contains(0), !encoded.utf8.contains(UInt8(ascii: ":"))
        else { return nil }
        self.encoded = encoded
    }

    /// Reads a hash as written in a Dovecot `passwd-file` or `doveadm pw` output, which may carry a
    /// `{SCHEME}` prefix such as `{SHA512-CRYPT}` or `{BLF-CRYPT}` in front of the crypt(3) string.
    public init?(importing value: String) {
        var text = Substring(value)
        if text.hasPrefix("{"), let close = text.firstIndex(of: "}") {
            let scheme = text[text.index(after: text.startIndex)..<close].uppercased()
            let cryptSchemes: Set<String> = ["CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "YESCRYPT"]
            guard cryptSchemes.contains(scheme) else { return nil }
            text = text[text.index(after: close)...]
        }
        self.init(encoded: String(text))
    }

    public var description: String { "PasswordHash(\(self.scheme), redacted)" }
}

/// The crypt(3) families Estafeta accepts.
public enum PasswordHashScheme: String, Sendable, CaseIterable {
    case yescrypt
    case sha512Crypt
    case sha256Crypt
    case bcrypt
    case unsupported

    init(prefixOf encoded: String) {
        if encoded.hasPrefix("$y$") {
            self = .yescrypt
        } else if encoded.hasPrefix("$6$") {
            self = .sha512Crypt
        } else if encoded.hasPrefix("$5$") {
            self = .sha256Crypt
        } else if encoded.hasPrefix("$2b$") || encoded.hasPrefix("$2y$") || encoded.hasPrefix("$2a$") {
            self = .bcrypt
        } else {
            self = .unsupported
        }
    }

    /// The setting prefix passed to `crypt_gensalt_rn`.
    var saltPrefix: String? {
        switch self {
        case .yescrypt: "$y$"
        case .sha512Crypt: "$6$"
        case .sha256Crypt: "$5$"
        case .bcrypt: "$2b$"
        case .unsupported: nil
        }
    }
}

public enum PasswordHashError: Error, Sendable, Equatable {
    /// libxcrypt could not make a salt for this scheme (for example an unsupported cost).
    case saltGenerationFailed(PasswordHashScheme)
    /// libxcrypt refused to hash (invalid setting, or a password containing NUL).
    case hashingFailed
    case unsupportedScheme
}

/// Hashes and verifies passwords with libxcrypt.
///
/// Hashing is deliberately slow (tens of milliseconds for yescrypt), so both operations run on a
/// Dispatch worker thread: never on a NIO event loop, and not on one of the few threads of Swift's
/// cooperative pool that every session shares (this machine class has two cores).
public enum PasswordHasher {
    /// Hashes `password` with a fresh random salt. `cost` is the scheme's cost parameter; 0 picks
    /// libxcrypt's default for the scheme.
    public static func hash(
        _ password: String, scheme: PasswordHashScheme = .yescrypt, cost: Int = 0
    ) async throws(PasswordHashError) -> PasswordHash {
        guard let prefix = scheme.saltPrefix else { throw .unsupportedScheme }
        let result: Result<PasswordHash, PasswordHashError> = await offloaded {
            guard let setting = makeSetting(prefix: prefix, cost: cost) else {
                return .failure(.saltGenerationFailed(scheme))
            }
            guard let encoded = runCrypt(password: password, setting: setting),
                let hash = PasswordHash(encoded: encoded)
            else { return .failure(.hashingFailed) }
            return .success(hash)
        }
        return try result.get()
    }

    /// Checks `password` against `hash`, comparing the results in constant time.
    public static func verify(_ password: String, against hash: PasswordHash) async -> Bool {
        await offloaded {
            guard let computed = runCrypt(password: password, setting: hash.encoded) else { return false }
            return constantTimeEquals(Array(computed.utf8), Array(hash.encoded.utf8))
        }
    }

    private static func offloaded<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: work()) }
        }
    }

    private static func makeSetting(prefix: String, cost: Int) -> String? {
        var output = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        // A nil random buffer asks libxcrypt to read the salt from the OS's random source.
        let made = output.withUnsafeMutableBufferPointer { buffer in
            crypt_gensalt_rn(prefix, UInt(max(0, cost)), nil, 0, buffer.baseAddress, Int32(buffer.count))
        }
        guard made != nil else { return nil }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func runCrypt(password: String, setting: String) -> String? {
        // crypt(3) takes a C string: a password with NUL would be silently truncated, so refuse it.
        guard !password.utf8.contains(0) else { return nil }
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer {
            // The work area holds key material: wipe it before giving the memory back.
            UnsafeMutableRawPointer(data).initializeMemory(
                as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        UnsafeMutableRawPointer(data).initializeMemory(
            as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
        guard let result = crypt_rn(password, setting, data, Int32(MemoryLayout<crypt_data>.size)) else {
            return nil
        }
        let encoded = String(cString: result)
        // libxcrypt signals failure with a string starting with "*" in some configurations.
        guard !encoded.hasPrefix("*") else { return nil }
        return encoded
    }

    /// Compares two byte strings in time that depends only on their lengths.
    public static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
