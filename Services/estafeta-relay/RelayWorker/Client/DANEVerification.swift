import Crypto
import Foundation
import MailDNS
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// What DNSSEC-validated TLSA records ask of the TLS session with an MX host (RFC 7672 §2.2).
enum DANERequirement: Sendable, Equatable {
    /// Usable records: TLS is mandatory and the server's certificate chain must match one of them.
    case authenticated([TLSARecord])
    /// Records exist but none is usable for SMTP: TLS is still mandatory, without authentication.
    case encrypted

    /// RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not used for SMTP; of DANE-TA(2) and DANE-EE(3),
    /// only known selectors and matching types (with data of the length they give) count.
    init(records: [TLSARecord]) {
        let usable = records.filter { record in
            guard record.usage == 2 || record.usage == 3, record.selector <= 1 else { return false }
            switch record.matchingType {
            case 0: return !record.data.isEmpty
            case 1: return record.data.count == 32
            case 2: return record.data.count == 64
            default: return false
            }
        }
        self = usable.isEmpty ? .encrypted : .authenticated(usable)
    }
}

/// Checks a server's certificate chain against TLSA records (RFC 6698 §2.1, RFC 7671, RFC 7672 §3.1):
/// a DANE-EE record matches the server's own certificate (names and dates do not matter); a DANE-TA
/// record matches a certificate of the chain the server sent, which must then issue the server's
/// certificate, valid now and for the MX host's name.
enum DANEVerification {
    static func verify(chain: [NIOSSLCertificate], records: [TLSARecord], hostname: String) async -> Result<Void, DANEFailure> {
        guard let leaf = chain.first else { return .failure(DANEFailure(reason: "the server sent no certificate")) }
        var reasons: [String] = []
        for record in records where record.usage == 3 {
            if Self.matches(leaf, record) { return .success(()) }
        }
        if records.contains(where: { $0.usage == 3 }) { reasons.append("no DANE-EE record matches the server's certificate") }
        let anchors = records.filter { $0.usage == 2 }
        if !anchors.isEmpty {
            let issuers = chain.dropFirst().filter { certificate in anchors.contains { Self.matches(certificate, $0) } }
            if issuers.isEmpty {
                reasons.append("no DANE-TA record matches a certificate the server sent")
            } else {
                switch await Self.chains(leaf: leaf, to: issuers, intermediates: Array(chain.dropFirst()), hostname: hostname) {
                case .success: return .success(())
                case .failure(let failure): reasons.append(failure.reason)
                }
            }
        }
        return .failure(DANEFailure(reason: reasons.joined(separator: "; ")))
    }

    static func matches(_ certificate: NIOSSLCertificate, _ record: TLSARecord) -> Bool {
        guard let selected = try? (record.selector == 0 ? certificate.toDERBytes() : certificate.extractPublicKey().toSPKIBytes())
        else { return false }
        switch record.matchingType {
        case 0: return selected == record.data
        case 1: return Array(SHA256.hash(data: selected)) == record.data
        case 2: return Array(SHA512.hash(data: selected)) == record.data
        default: return false
        }
    }

    /// The leaf chains to one of `anchors` through the certificates sent, as RFC 5280 checks it, and
    /// names `hostname`.
    private static func chains(
        leaf: NIOSSLCertificate, to anchors: [NIOSSLCertificate], intermediates: [NIOSSLCertificate], hostname: String
    ) async -> Result<Void, DANEFailure> {
        do {
            let x509 = { (certificate: NIOSSLCertificate) in try Certificate(derEncoded: certificate.toDERBytes()) }
            var verifier = Verifier(rootCertificates: CertificateStore(try anchors.map(x509))) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: hostname, serverIP: nil)
            }
            let result = await verifier.validate(leaf: try x509(leaf), intermediates: CertificateStore(try intermediates.map(x509)))
            switch result {
            case .validCertificate: return .success(())
            case .couldNotValidate(let failures):
                let why = failures.first.map { "\($0.policyFailureReason)" } ?? "no chain"
                return .failure(DANEFailure(reason: "the server's certificate does not chain to its DANE-TA certificate for \(hostname): \(why)"))
            }
        } catch {
            return .failure(DANEFailure(reason: "a certificate the server sent cannot be read: \(error)"))
        }
    }
}

struct DANEFailure: Error, CustomStringConvertible {
    let reason: String
    var description: String { self.reason }
}
