import Foundation
import Logging
import MailAuth
import MailFormat
import MailStore
import Synchronization

/// Signs outgoing mail with a local domain's active DKIM keys (RFC 6376 §5), one signature per active
/// key: an Ed25519 key beside the RSA one gives the second signature RFC 8463 suggests. Used by
/// submission (signing as the author's domain) and by the relay's delivery reports (as the reporting
/// host's domain).
public struct DKIMDomainSigner: Sendable {
    let store: MailStore
    let signer: DKIMSigner
    /// Keys as read for signing, by their stored private half: the store is asked which keys are active
    /// for every message (so a rotation takes effect at once), but each key is read only once.
    private let preparedKeys = PreparedKeys()

    public init(store: MailStore, signatureLifetime: Duration?) {
        self.store = store
        self.signer = DKIMSigner(lifetime: signatureLifetime)
    }

    /// The domain of the message's author (the first From address), for a signature that aligns with
    /// From as DMARC asks (RFC 7489 §3.1.1).
    public static func authorDomain(of header: Data) -> String? {
        DMARCChecker.fromDomains(of: header).first
    }

    /// The `DKIM-Signature` fields to put before a message whose body hash (relaxed) is known, empty
    /// when `domain` signs nothing. A store failure is thrown (mail is not sent unsigned by accident);
    /// a stored key that cannot sign is logged and skipped, as mail must still flow.
    public func signatureFields(header: Data, bodyHash: Data, domain: String, logger: Logger) async throws(MailStoreError)
        -> String
    {
        var fields = ""
        for record in try await self.store.dkimSigningKeys(domain: domain) {
            guard let algorithm = DKIMAlgorithm(rawValue: record.algorithm) else { continue }
            do {
                let signingKey = try self.preparedKeys.key(
                    DKIMKeyPair(algorithm: algorithm, privateKey: record.privateKey, publicKey: record.publicKey))
                let key = DKIMSigner.Key(domain: domain, selector: record.selector, signingKey: signingKey)
                fields += try self.signer.signatureField(header: header, bodyHash: bodyHash, key: key)
            } catch {
                logger.error(
                    "DKIM key cannot sign", metadata: ["domain": "\(domain)", "selector": "\(record.selector)", "error": "\(error)"])
            }
        }
        return fields
    }

    /// A whole message held in memory, signed as `hostname`'s nearest domain with active keys: the host
    /// name itself or a parent of it (a report from mx.example.org signed as example.org aligns with its
    /// From under relaxed alignment). Unchanged when none has keys.
    public func signedReport(_ message: Data, hostname: String, logger: Logger) async throws(MailStoreError) -> Data {
        let headerLength = MIMEParser.headerLength(of: message)
        let header = message.prefix(headerLength)
        var hasher = DKIMBodyHasher(canonicalization: .relaxed)
        hasher.add(message.dropFirst(headerLength))
        let bodyHash = hasher.finish()
        var labels = hostname.lowercased().split(separator: ".")
        while labels.count >= 2 {
            let fields = try await self.signatureFields(
                header: Data(header), bodyHash: bodyHash, domain: labels.joined(separator: "."), logger: logger)
            if !fields.isEmpty { return Data(fields.utf8) + message }
            labels.removeFirst()
        }
        return message
    }
}

/// Signing keys read from their stored form, at most a few hundred (more is a sign of churn: start over).
private final class PreparedKeys: Sendable {
    private let keys = Mutex<[Data: DKIMSigningKey]>([:])

    func key(_ pair: DKIMKeyPair) throws(DKIMKeyPair.KeyError) -> DKIMSigningKey {
        if let key = self.keys.withLock({ $0[pair.privateKey] }) { return key }
        let key = try DKIMSigningKey(pair)
        self.keys.withLock { keys in
            if keys.count >= 512 { keys.removeAll() }
            keys[pair.privateKey] = key
        }
        return key
    }
}
