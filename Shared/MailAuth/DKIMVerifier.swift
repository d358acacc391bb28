import Crypto
import Foundation
import MailDNS
import Synchronization
import _CryptoExtras

/// One signature's outcome, as RFC 8601 §2.7.1 reports it in `Authentication-Results`.
public struct DKIMVerdict: Sendable, Equatable {
    public enum Result: String, Sendable {
        case pass, fail, neutral, policy, temperror, permerror
    }
    public let result: Result
    /// `d=` and `s=`, when the field could be read that far.
    public let domain: String?
    public let selector: String?
    /// `i=`, for `header.i`.
    public let identity: String?
    public let algorithm: String?
    /// The first octets of `b=` (RFC 6008 `header.b`): which of several signatures this is.
    public let signaturePrefix: String?
    /// Why it did not pass (and "testing" for a key published with `t=y`).
    public let reason: String?
}

/// Verifies the DKIM signatures of a message that arrives in pieces (RFC 6376 §6): the header is read
/// once it is complete, the body is hashed as it passes (once per canonicalisation and length limit
/// in use), and the keys are looked up when it has ended. At most `maximumSignatures` are checked,
/// so a message carrying fifty costs no more than one carrying a few.
public struct DKIMVerifier: Sendable {
    private struct BodyKey: Hashable, Sendable {
        let canonicalization: DKIMCanonicalization
        let limit: Int?
    }

    private let fields: [DKIMHeaderField]
    /// Each signature field checked: its index in `fields` and what parsing it gave.
    private let signatures: [(field: Int, parsed: Result<DKIMSignature, DKIMSignature.Unusable>)]
    private var bodyHashers: [BodyKey: DKIMBodyHasher] = [:]

    public static let defaultMaximumSignatures = 5

    public init(header: some Collection<UInt8>, maximumSignatures: Int = Self.defaultMaximumSignatures) {
        let fields = DKIMHeaderField.fields(of: header)
        self.fields = fields
        var signatures: [(Int, Result<DKIMSignature, DKIMSignature.Unusable>)] = []
        for (index, field) in fields.enumerated() where field.name.lowercased() == "dkim-signature" {
            guard signatures.count < maximumSignatures else { break }
            let value = String(decoding: field.raw.drop { $0 != UInt8(ascii: ":") }.dropFirst(), as: UTF8.self)
            do throws(DKIMSignature.Unusable) {
                signatures.append((index, .success(try DKIMSignature(parsing: value))))
            } catch {
                signatures.append((index, .failure(error)))
            }
        }
        self.signatures = signatures
        for case (_, .success(let signature)) in signatures {
            let key = BodyKey(canonicalization: signature.bodyCanonicalization, limit: signature.bodyLength)
            if self.bodyHashers[key] == nil {
                self.bodyHashers[key] = DKIMBodyHasher(canonicalization: key.canonicalization, limit: key.limit)
            }
        }
    }

    /// Whether the message has any signature to check (if not, the body need not be hashed).
    public var hasSignatures: Bool { !self.signatures.isEmpty }

    public mutating func add(body bytes: some Collection<UInt8>) {
        for key in self.bodyHashers.keys { self.bodyHashers[key]?.add(bytes) }
    }

    /// The verdicts, in the order of the signatures in the header; keys are looked up through `dns`.
    public mutating func finish(dns: any DNSLookup, now: Date = Date()) async -> [DKIMVerdict] {
        var bodies: [BodyKey: (hash: Data, length: Int)] = [:]
        for (key, var hasher) in self.bodyHashers {
            let hash = hasher.finish()
            bodies[key] = (hash, hasher.canonicalLength)
        }
        self.bodyHashers = [:]
        // Each key once, all at the same time.
        var names = Set<String>()
        for case (_, .success(let signature)) in self.signatures { names.insert("\(signature.selector)._domainkey.\(signature.domain)") }
        let records = await withTaskGroup(of: (String, DNSAnswer<String>).self) { group in
            for name in names { group.addTask { (name, await dns.txt(name)) } }
            var records: [String: DNSAnswer<String>] = [:]
            for await (name, answer) in group { records[name] = answer }
            return records
        }
        var verdicts: [DKIMVerdict] = []
        for (index, parsed) in self.signatures {
            switch parsed {
            case .failure(let unusable):
                verdicts.append(
                    DKIMVerdict(
                        result: .permerror, domain: unusable.domain, selector: unusable.selector, identity: nil, algorithm: nil,
                        signaturePrefix: nil, reason: unusable.reason))
            case .success(let signature):
                let body = bodies[BodyKey(canonicalization: signature.bodyCanonicalization, limit: signature.bodyLength)]
                let answer = records["\(signature.selector)._domainkey.\(signature.domain)"] ?? .temporaryFailure("not asked")
                let (result, reason) = self.check(signature, field: index, body: body, key: answer, now: now)
                verdicts.append(
                    DKIMVerdict(
                        result: result, domain: signature.domain, selector: signature.selector, identity: signature.identity,
                        algorithm: signature.algorithm.rawValue,
                        signaturePrefix: String(signature.signature.base64EncodedString().prefix(8)), reason: reason))
            }
        }
        return verdicts
    }

    private func check(
        _ signature: DKIMSignature, field: Int, body: (hash: Data, length: Int)?, key answer: DNSAnswer<String>, now: Date
    ) -> (DKIMVerdict.Result, String?) {
        if let expiration = signature.expiration, Int64(now.timeIntervalSince1970) > expiration {
            return (.fail, "signature expired")
        }
        guard let body else { return (.permerror, "body not hashed") }
        if let limit = signature.bodyLength, limit > body.length { return (.fail, "l= is longer than the body") }
        guard body.hash == signature.bodyHash else { return (.fail, "body hash did not verify") }
        let record: DKIMKeyRecord
        switch answer {
        case .temporaryFailure:
            return (.temperror, "key look-up failed")
        case .nameDoesNotExist, .noData:
            return (.permerror, "no key for signature")
        case .records(let texts):
            var parsed: DKIMKeyRecord?
            var problem = "malformed key record"
            for text in texts.prefix(5) {
                do throws(DKIMKeyRecord.Problem) {
                    parsed = try DKIMKeyRecord(parsing: text)
                    break
                } catch {
                    if case .malformed(let detail) = error { problem = detail }
                }
            }
            guard let parsed else { return (.permerror, problem) }
            record = parsed
        }
        guard !record.publicKey.isEmpty else { return (.permerror, "key revoked") }
        guard record.keyType == signature.algorithm.keyType else { return (.permerror, "key type does not match a=") }
        if let hashes = record.hashAlgorithms, !hashes.contains("sha256") { return (.permerror, "key does not allow sha256") }
        if record.strictIdentity {
            let identityDomain = signature.identity.split(separator: "@").last.map { $0.lowercased() } ?? ""
            guard identityDomain == signature.domain else { return (.permerror, "key requires i= in d= itself") }
        }
        var data = DKIMSigner.headerData(self.fields, names: signature.signedHeaders, canonicalization: signature.headerCanonicalization)
        data += Self.withoutSignatureValue(self.fields[field], signature.headerCanonicalization)
        let digest = SHA256.hash(data: data)
        let verified: Bool
        switch signature.algorithm {
        case .rsaSHA256:
            guard let key = RSAKeyCache.shared.key(record.publicKey) else {
                return (.permerror, "key is not an RSA public key")
            }
            // RFC 8301 §3.2: keys of 1024 to 4096 bits; anything outside is not worth the work.
            guard (1024...4096).contains(key.keySizeInBits) else { return (.permerror, "key size \(key.keySizeInBits) bits not accepted") }
            verified = key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature.signature), for: digest, padding: .insecurePKCS1v1_5)
        case .ed25519SHA256:
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: record.publicKey) else {
                return (.permerror, "key is not an Ed25519 public key")
            }
            verified = key.isValidSignature(signature.signature, for: Data(digest))
        }
        guard verified else { return (.fail, "signature did not verify") }
        return (.pass, record.testing ? "testing" : nil)
    }

    /// The signature field as its own signature covers it (§3.7): `b=`'s value emptied, canonicalised,
    /// without the final CRLF.
    static func withoutSignatureValue(_ field: DKIMHeaderField, _ canonicalization: DKIMCanonicalization) -> [UInt8] {
        var raw = field.raw[...]
        while let last = raw.last, last == 0x0A || last == 0x0D { raw = raw.dropLast() }
        guard var index = raw.firstIndex(of: UInt8(ascii: ":")) else { return Array(raw) }
        index += 1
        var output = Array(raw[..<index])
        // Walk the tag specs; the one named exactly "b" loses everything after its "=".
        while index < raw.endIndex {
            let end = raw[index...].firstIndex(of: UInt8(ascii: ";")) ?? raw.endIndex
            let spec = raw[index..<end]
            if let equals = spec.firstIndex(of: UInt8(ascii: "=")),
                spec[..<equals].filter({ $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }) == [UInt8(ascii: "b")]
            {
                output += raw[index...equals]
            } else {
                output += spec
            }
            if end < raw.endIndex { output.append(UInt8(ascii: ";")) }
            index = end < raw.endIndex ? end + 1 : end
        }
        switch canonicalization {
        case .simple: return output
        case .relaxed: return DKIMHeaderField.relaxed(output)
        }
    }
}

/// RSA public keys made once per distinct key: the same few keys sign most of the mail that arrives,
/// and making the key object (reading its DER form, setting up its modulus arithmetic) costs more than
/// checking a signature with it. Bounded: when full, it starts again empty.
final class RSAKeyCache: Sendable {
    static let shared = RSAKeyCache(capacity: 1_000)

    private let keys = Mutex<[Data: _RSA.Signing.PublicKey]>([:])
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The key of a DER SubjectPublicKeyInfo (or PKCS #1 RSAPublicKey), or nil when it is not one.
    func key(_ der: Data) -> _RSA.Signing.PublicKey? {
        if let known = self.keys.withLock({ $0[der] }) { return known }
        guard let key = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: der) else { return nil }
        self.keys.withLock { keys in
            if keys.count >= self.capacity { keys.removeAll(keepingCapacity: true) }
            keys[der] = key
        }
        return key
    }
}
