import Foundation

/// SASL PLAIN (RFC 4616) and the LOGIN exchange as used by SMTP, POP3 and IMAP: pure decoding, with
/// bounds on every part. Nothing here logs or keeps a password.
public enum SASL {
    /// Longest decoded response accepted (authzid, authcid and password together): what the 12,288
    /// base64 octets RFC 4954 §4 makes servers accept decode to.
    public static let maximumResponseBytes = 9216

    public struct PlainCredentials: Sendable, Equatable, CustomStringConvertible {
        /// Who to act as; empty means the same as `authenticationID` (RFC 4616 §2).
        public let authorizationID: String
        public let authenticationID: String
        public let password: String
        public var description: String { "PlainCredentials(\(self.authenticationID), password redacted)" }

        /// The user whose password to check. Acting as someone else is not supported, so when the
        /// authorization identity names another user (RFC 4616 §2 leaves the rule to the server) the
        /// name is empty, and the login fails as a wrong password does.
        public var loginUser: String {
            self.authorizationID.isEmpty || self.authorizationID.lowercased() == self.authenticationID.lowercased()
                ? self.authenticationID : ""
        }

        public init(authorizationID: String, authenticationID: String, password: String) {
            self.authorizationID = authorizationID
            self.authenticationID = authenticationID
            self.password = password
        }
    }

    public enum DecodingError: Error, Sendable, Equatable {
        /// Not valid base64 (SMTP `501 5.5.2`).
        case invalidBase64
        /// Decoded, but not `[authzid] NUL authcid NUL passwd` with non-empty, bounded parts and UTF-8.
        case malformed
    }

    /// Decodes a client response; `=` stands for an empty response (RFC 4954 §4).
    public static func decodeBase64(_ text: String) throws(DecodingError) -> [UInt8] {
        if text == "=" { return [] }
        guard text.utf8.count <= (Self.maximumResponseBytes * 4) / 3 + 4,
            let data = Data(base64Encoded: text)
        else { throw .invalidBase64 }
        return Array(data)
    }

    public static func plain(_ response: [UInt8]) throws(DecodingError) -> PlainCredentials {
        guard response.count <= Self.maximumResponseBytes else { throw .malformed }
        let parts = response.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3,
            let authorizationID = String(validating: parts[0], as: UTF8.self),
            let authenticationID = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self),
            !authenticationID.isEmpty, !password.isEmpty
        else { throw .malformed }
        return PlainCredentials(authorizationID: authorizationID, authenticationID: authenticationID, password: password)
    }

    /// A base64 PLAIN response as IMAP AUTHENTICATE, POP3 AUTH and SMTP AUTH receive it.
    public static func plain(base64 text: String) throws(DecodingError) -> PlainCredentials {
        try Self.plain(try Self.decodeBase64(text))
    }

    /// One LOGIN step (user name or password): non-empty UTF-8 without NUL.
    public static func loginField(_ response: [UInt8]) throws(DecodingError) -> String {
        guard !response.isEmpty, response.count <= Self.maximumResponseBytes, !response.contains(0),
            let text = String(validating: response, as: UTF8.self)
        else { throw .malformed }
        return text
    }
}
