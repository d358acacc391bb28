import Foundation
import Logging
import MailAuth
import MailFormat
import MailStore

/// Signs mail that authenticated users submit with their domain's active DKIM keys (RFC 6376 §5): one
/// signature per active key, so an Ed25519 key beside the RSA one gives the second signature RFC 8463
/// suggests. The signing domain is the author's (the From domain, which the session has checked the
/// user may use), so that the signature aligns with From for DMARC (RFC 7489 §3.1.1).
struct SubmissionSigner: Sendable {
    let store: MailStore
    let signer: DKIMSigner

    /// The `DKIM-Signature` fields to put before the message, empty when the domain signs nothing.
    /// A store failure is thrown (the message is not accepted unsigned by accident); a key the store
    /// holds but that cannot sign is logged and skipped, as mail must still flow.
    func signatureFields(
        header: Data, bodyHash: Data, account: EmailAddress, logger: Logger
    ) async throws(MailStoreError) -> String {
        let parsed = MessageHeader(parsing: header)
        let author = parsed.values("From").lazy.flatMap(AddressListParser.addresses(in:)).compactMap {
            try? EmailAddress(parsing: $0)
        }.first
        let domain = (author ?? account).domain.lowercased()
        var fields = ""
        for record in try await self.store.dkimSigningKeys(domain: domain) {
            guard let algorithm = DKIMAlgorithm(rawValue: record.algorithm) else { continue }
            let key = DKIMSigner.Key(
                domain: domain, selector: record.selector,
                pair: DKIMKeyPair(algorithm: algorithm, privateKey: record.privateKey, publicKey: record.publicKey))
            do {
                fields += try self.signer.signatureField(header: header, bodyHash: bodyHash, key: key)
            } catch {
                logger.error(
                    "DKIM key cannot sign", metadata: ["domain": "\(domain)", "selector": "\(record.selector)", "error": "\(error)"])
            }
        }
        return fields
    }
}
