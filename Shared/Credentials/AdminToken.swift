import Crypto
import Foundation

/// A bearer token of the admin API: `est_<id>_<secret>`.
///
/// The id is public (it names the token in the audit log and lets the store find it); the secret is
/// 32 random bytes. Only SHA-256 of the secret is stored: the secret has full entropy, so a slow
/// password hash would add nothing but latency, and the comparison is constant-time.
public struct AdminToken: Sendable, CustomStringConvertible {
    public let id: String
    public let secret: String

    /// The id given to the token taken from `ESTAFETA_ADMIN_TOKEN` on first start.
    public static let bootstrapID = "bootstrap"

    /// A new random token.
    public static func generate() -> AdminToken {
        var generator = SystemRandomNumberGenerator()
        let idBytes = (0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secretBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return AdminToken(
            id: idBytes.map { String(format: "%02x", $0) }.joined(),
            secret: Data(secretBytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))
    }

    /// Reads a presented bearer value. Anything not in `est_<id>_<secret>` form is taken as the
    /// bootstrap token, whose whole text is the secret.
    public init(presented value: String) {
        let parts = value.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, parts[0] == "est", parts[1].count == 12,
            parts[1].allSatisfy({ $0.isHexDigit }), !parts[2].isEmpty
        {
            self.init(id: String(parts[1]), secret: String(parts[2]))
        } else {
            self.init(id: Self.bootstrapID, secret: value)
        }
    }

    public init(id: String, secret: String) {
        self.id = id
        self.secret = secret
    }

    /// What the operator copies: shown once, at creation.
    public var presentable: String { self.id == Self.bootstrapID ? self.secret : "est_\(self.id)_\(self.secret)" }

    public var secretHash: Data { Data(SHA256.hash(data: Data(self.secret.utf8))) }

    /// True when this token's secret hashes to `storedHash`, compared in constant time.
    public func matches(storedHash: Data) -> Bool {
        PasswordHasher.constantTimeEquals(Array(self.secretHash), Array(storedHash))
    }

    public var description: String { "AdminToken(\(self.id), secret redacted)" }
}
