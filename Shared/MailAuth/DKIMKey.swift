import Crypto
import _CryptoExtras
import Foundation

/// The signing algorithms this suite makes and checks: RSA with SHA-256 (RFC 6376, keys of 2048 bits
/// and more as RFC 8301 asks of signers) and Ed25519 over SHA-256 (RFC 8463). `rsa-sha1` is verified
/// by no one any more (RFC 8301 §3.1) and is not offered.
public enum DKIMAlgorithm: String, Sendable, CaseIterable, Codable {
    case rsaSHA256 = "rsa-sha256"
    case ed25519SHA256 = "ed25519-sha256"

    /// The key type of the DNS record (`k=`).
    public var keyType: String {
        switch self {
        case .rsaSHA256: "rsa"
        case .ed25519SHA256: "ed25519"
        }
    }
}

/// A key pair as the store keeps it: the private key (PKCS #8 DER for RSA, the 32-octet seed for
/// Ed25519) and the public key as the DNS record's `p=` carries it (SubjectPublicKeyInfo DER for RSA,
/// the raw 32 octets for Ed25519, RFC 8463 §4.2).
public struct DKIMKeyPair: Sendable {
    public let algorithm: DKIMAlgorithm
    public let privateKey: Data
    public let publicKey: Data

    public enum KeyError: Error, Sendable, Equatable {
        case unusablePrivateKey
        case generationFailed
    }

    public init(algorithm: DKIMAlgorithm, privateKey: Data, publicKey: Data) {
        self.algorithm = algorithm
        self.privateKey = privateKey
        self.publicKey = publicKey
    }

    /// A new key: RSA of `rsaBits` (2048 by default) or Ed25519.
    public static func generate(_ algorithm: DKIMAlgorithm, rsaBits: Int = 2048) throws(KeyError) -> DKIMKeyPair {
        switch algorithm {
        case .rsaSHA256:
            do {
                let key = try _RSA.Signing.PrivateKey(keySize: .init(bitCount: rsaBits))
                return DKIMKeyPair(
                    algorithm: algorithm, privateKey: key.pkcs8DERRepresentation, publicKey: key.publicKey.derRepresentation)
            } catch {
                throw .generationFailed
            }
        case .ed25519SHA256:
            let key = Curve25519.Signing.PrivateKey()
            return DKIMKeyPair(algorithm: algorithm, privateKey: key.rawRepresentation, publicKey: key.publicKey.rawRepresentation)
        }
    }

    /// The TXT record to publish at `selector._domainkey.domain` (RFC 6376 §3.6.1).
    public var dnsRecord: String {
        "v=DKIM1; k=\(self.algorithm.keyType); p=\(self.publicKey.base64EncodedString())"
    }

    /// The record as DNS character-strings of at most 255 octets each (RFC 1035 §3.3.14): an RSA-2048
    /// record is longer than one, and zone files and DNS consoles take it as several quoted strings.
    public var dnsRecordStrings: [String] {
        var strings: [String] = []
        var rest = Substring(self.dnsRecord)
        while !rest.isEmpty {
            strings.append(String(rest.prefix(255)))
            rest = rest.dropFirst(255)
        }
        return strings
    }

}

/// A private key read once, ready to sign: reading an RSA key (and the Montgomery and blinding set-up
/// of its first use) costs a sizeable part of a signature, so signers keep these.
public struct DKIMSigningKey: Sendable {
    enum Material: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }
    public let algorithm: DKIMAlgorithm
    let material: Material

    public init(_ pair: DKIMKeyPair) throws(DKIMKeyPair.KeyError) {
        self.algorithm = pair.algorithm
        do {
            switch pair.algorithm {
            case .rsaSHA256: self.material = .rsa(try _RSA.Signing.PrivateKey(derRepresentation: pair.privateKey))
            case .ed25519SHA256: self.material = .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: pair.privateKey))
            }
        } catch {
            throw .unusablePrivateKey
        }
    }

    /// Signs the SHA-256 digest of the canonical header data.
    func sign(digest: SHA256.Digest) throws(DKIMKeyPair.KeyError) -> Data {
        do {
            switch self.material {
            case .rsa(let key):
                return try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation
            case .ed25519(let key):
                // RFC 8463 §3: Ed25519 (PureEdDSA) signs the SHA-256 hash, not the data itself.
                return try key.signature(for: Data(digest))
            }
        } catch {
            throw .unusablePrivateKey
        }
    }
}
