import Crypto
import Foundation
import Logging
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key every TLS listener (STARTTLS and implicit TLS) of this process uses.
public struct TLSMaterial: Sendable {
    public let certificateChain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey
    /// Where the certificate came from, for the log and for tests that trust it.
    public let certificatePath: String

    public func serverConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: self.certificateChain.map { .certificate($0) }, privateKey: .privateKey(self.privateKey))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    public func makeServerContext() throws -> NIOSSLContext {
        try NIOSSLContext(configuration: self.serverConfiguration())
    }

    /// Loads the configured PEM files, or makes (once) and reuses a self-signed certificate for
    /// `hostname` in `tlsSelfSignedDirectory/self-signed/`. The pair is written into a private
    /// temporary directory that is then renamed into place in one step: processes that start together
    /// and race to make it all end up using the same pair.
    public static func load(settings: EstafetaSettings, logger: Logger) throws(TLSMaterialError) -> TLSMaterial {
        if !settings.tlsCertificatePath.isEmpty {
            return try Self.loadPEM(certificate: settings.tlsCertificatePath, key: settings.tlsKeyPath)
        }
        let directory = (settings.tlsSelfSignedDirectory as NSString).appendingPathComponent("self-signed")
        let certificatePath = (directory as NSString).appendingPathComponent("certificate.pem")
        let keyPath = (directory as NSString).appendingPathComponent("key.pem")
        if !FileManager.default.fileExists(atPath: certificatePath) {
            do {
                let (certificatePEM, keyPEM) = try Self.makeSelfSigned(hostname: settings.hostname)
                if try Self.publish(certificate: certificatePEM, key: keyPEM, in: directory) {
                    logger.notice(
                        "no TLS certificate configured: made a self-signed one", metadata: ["path": "\(certificatePath)"])
                }
            } catch let error as TLSMaterialError {
                throw error
            } catch {
                throw .cannotCreateSelfSigned("\(error)")
            }
        }
        return try Self.loadPEM(certificate: certificatePath, key: keyPath)
    }

    static func loadPEM(certificate: String, key: String) throws(TLSMaterialError) -> TLSMaterial {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate)
            guard !chain.isEmpty else { throw TLSMaterialError.unreadable(path: certificate, reason: "no certificate") }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            return TLSMaterial(certificateChain: chain, privateKey: privateKey, certificatePath: certificate)
        } catch let error as TLSMaterialError {
            throw error
        } catch {
            throw .unreadable(path: certificate, reason: "\(error)")
        }
    }

    /// A P-256 certificate valid for `hostname`, localhost and the loopback addresses, for ten years.
    static func makeSelfSigned(hostname: String) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Estafeta self-signed")
            CommonName(hostname)
        }
        let now = Date()
        var dnsNames = [hostname, "localhost"]
        if hostname == "localhost" { dnsNames = ["localhost"] }
        let alternativeNames =
            dnsNames.map { GeneralName.dnsName($0) } + [
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            ]
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 24 * 3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(alternativeNames)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    /// Returns false when another process published first (its pair is kept, ours discarded).
    private static func publish(certificate: String, key: String, in directory: String) throws -> Bool {
        let files = FileManager.default
        let parent = (directory as NSString).deletingLastPathComponent
        try files.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let temporary = (parent as NSString).appendingPathComponent(
            ".self-signed-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        try files.createDirectory(atPath: temporary, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? files.removeItem(atPath: temporary) }
        guard
            files.createFile(
                atPath: (temporary as NSString).appendingPathComponent("key.pem"), contents: Data(key.utf8),
                attributes: [.posixPermissions: 0o600]),
            files.createFile(
                atPath: (temporary as NSString).appendingPathComponent("certificate.pem"),
                contents: Data(certificate.utf8), attributes: [.posixPermissions: 0o644])
        else { throw TLSMaterialError.cannotCreateSelfSigned("cannot write into \(temporary)") }
        // rename(2) of a directory onto an existing non-empty directory fails: first one wins.
        if rename(temporary, directory) == 0 { return true }
        if errno == EEXIST || errno == ENOTEMPTY { return false }
        throw TLSMaterialError.cannotCreateSelfSigned("cannot publish \(directory): \(String(cString: strerror(errno)))")
    }
}

public enum TLSMaterialError: Error, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case cannotCreateSelfSigned(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read TLS certificate or key \(path): \(reason)"
        case .cannotCreateSelfSigned(let reason): "cannot create a self-signed certificate: \(reason)"
        }
    }
}
