import Crypto
import Foundation

/// Makes `DKIM-Signature` fields (RFC 6376 §5) for a message whose body hash was worked out as it
/// arrived (`DKIMBodyHasher`, relaxed): relaxed/relaxed canonicalisation, SHA-256, `t=` and an optional
/// `x=`.
public struct DKIMSigner: Sendable {
    /// One key to sign with: the signing domain (`d=`) and selector (`s=`).
    public struct Key: Sendable {
        public let domain: String
        public let selector: String
        public let signingKey: DKIMSigningKey

        public init(domain: String, selector: String, signingKey: DKIMSigningKey) {
            self.domain = domain
            self.selector = selector
            self.signingKey = signingKey
        }
    }

    /// The fields signed when present (RFC 6376 §5.4.1's list with the message's identity and MIME
    /// fields). Those in `oversigned` are also listed once more than they occur, so that adding another
    /// one later breaks the signature (§5.4.2, §8.15): a second From or Subject cannot be slipped in.
    public static let signedFields = [
        "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc", "mime-version", "content-type",
        "content-transfer-encoding", "content-disposition", "in-reply-to", "references", "resent-date", "resent-from",
        "resent-sender", "resent-to", "resent-cc", "resent-message-id", "list-id", "list-help", "list-unsubscribe",
        "list-unsubscribe-post", "list-subscribe", "list-post", "list-owner", "list-archive",
    ]
    public static let oversigned: Set<String> = [
        "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc", "mime-version", "content-type",
        "content-transfer-encoding", "in-reply-to", "references",
    ]

    /// How long a signature is valid (`x=`), nil for no expiry.
    public let lifetime: Duration?

    public init(lifetime: Duration? = nil) {
        self.lifetime = lifetime
    }

    /// The names listed in `h=`: each signed field present as often as it occurs, oversigned ones once
    /// more. From is oversigned, so it is listed even in the odd message without one (§5.4 requires it).
    static func headerList(for fields: [DKIMHeaderField]) -> [String] {
        var counts: [String: Int] = [:]
        for field in fields { counts[field.name.lowercased(), default: 0] += 1 }
        var names: [String] = []
        for name in Self.signedFields {
            let count = counts[name] ?? 0
            let listed = count + (Self.oversigned.contains(name) ? 1 : 0)
            names.append(contentsOf: repeatElement(name, count: listed))
        }
        return names
    }

    /// The canonical header data of §3.7 for `names`: for each name the last field of that name not
    /// used yet (§5.4.2), none when all were used.
    static func headerData(
        _ fields: [DKIMHeaderField], names: [String], canonicalization: DKIMCanonicalization
    ) -> [UInt8] {
        var used: [String: Int] = [:]
        var data: [UInt8] = []
        for name in names {
            let lowered = name.lowercased()
            let skip = used[lowered, default: 0]
            used[lowered] = skip + 1
            let matching = fields.lazy.reversed().filter { $0.name.lowercased() == lowered }
            guard let field = matching.dropFirst(skip).first else { continue }
            data += field.canonicalized(canonicalization)
        }
        return data
    }

    /// The `DKIM-Signature:` field, folded, with its CRLF, to put before the message's header.
    public func signatureField(
        header: some Collection<UInt8>, bodyHash: Data, key: Key, now: Date = Date()
    ) throws(DKIMKeyPair.KeyError) -> String {
        let fields = DKIMHeaderField.fields(of: header)
        let names = Self.headerList(for: fields)
        let time = Int64(now.timeIntervalSince1970)
        var tags = [
            "v=1", "a=\(key.signingKey.algorithm.rawValue)", "c=relaxed/relaxed", "d=\(key.domain)", "s=\(key.selector)",
            "t=\(time)",
        ]
        if let lifetime = self.lifetime { tags.append("x=\(time + lifetime.components.seconds)") }
        tags.append("h=" + names.joined(separator: ":"))
        tags.append("bh=\(bodyHash.base64EncodedString())")
        let unsigned = Self.fold(tags, signature: "")
        var data = Self.headerData(fields, names: names, canonicalization: .relaxed)
        data += DKIMHeaderField.relaxed(Array(unsigned.utf8))
        let signature = try key.signingKey.sign(digest: SHA256.hash(data: data))
        return Self.fold(tags, signature: signature.base64EncodedString()) + "\r\n"
    }

    /// `DKIM-Signature: tag; tag; … b=…` folded before 77 columns (RFC 5322 §2.1.1), `b=` last. Folding
    /// white space may go after a colon of `h=` and anywhere inside base64 (RFC 6376 §3.5), so long
    /// values are split there. Without the final CRLF.
    static func fold(_ tags: [String], signature: String) -> String {
        var text = "DKIM-Signature:"
        var column = text.count
        func add(_ token: some StringProtocol, spaced: Bool) {
            let width = token.count + (spaced ? 1 : 0)
            if column + width > 76 && column > 1 {
                text += "\r\n " + token
                column = 1 + token.count
            } else {
                text += (spaced ? " " : "") + token
                column += width
            }
        }
        for tag in tags {
            if tag.hasPrefix("h=") {
                let names = tag.split(separator: ":")
                for (index, name) in names.enumerated() {
                    add(name + (index == names.count - 1 ? ";" : ":"), spaced: index == 0)
                }
            } else {
                add(tag + ";", spaced: true)
            }
        }
        add("b=", spaced: true)
        var rest = Substring(signature)
        while !rest.isEmpty {
            add(rest.prefix(64), spaced: false)
            rest = rest.dropFirst(64)
        }
        return text
    }
}
