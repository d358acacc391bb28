/// An RFC 5321 mailbox address, `local-part@domain`, as used in envelopes and account names.
///
/// The domain is kept in lower case, because domain names compare case-insensitively (RFC 5321 §2.4).
/// The local part keeps its case: RFC 5321 §2.4 lets the receiving host decide, and Estafeta's store
/// matches local parts without regard to ASCII case, like most mail systems. UTF-8 local parts and
/// domains are accepted for SMTPUTF8 (RFC 6531); the SMTP ingress decides whether a session may use them.
public struct EmailAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let localPart: String
    public let domain: String

    /// RFC 5321 §4.5.3.1: local part at most 64 octets, domain at most 255, path at most 256.
    public static let maximumLocalPartLength = 64
    public static let maximumDomainLength = 255

    public init(localPart: String, domain: String) throws(EmailAddressError) {
        try Self.validateLocalPart(localPart)
        let domain = try Self.normalisedDomain(domain)
        self.localPart = localPart
        self.domain = domain
    }

    /// Parses `local@domain`. The local part may be a quoted string (`"john smith"@example.org`);
    /// dot-atom local parts are checked against RFC 5321's `Dot-string`.
    public init(parsing text: String) throws(EmailAddressError) {
        guard let at = text.lastIndex(of: "@") else { throw .missingAt }
        try self.init(localPart: String(text[..<at]), domain: String(text[text.index(after: at)...]))
    }

    public var description: String { "\(self.localPart)@\(self.domain)" }

    /// True when the address needs SMTPUTF8 (RFC 6531) to be sent over SMTP.
    public var requiresSMTPUTF8: Bool {
        !self.localPart.utf8.allSatisfy { $0 < 0x80 } || !self.domain.utf8.allSatisfy { $0 < 0x80 }
    }

    public static func < (lhs: EmailAddress, rhs: EmailAddress) -> Bool {
        (lhs.domain, lhs.localPart.lowercased()) < (rhs.domain, rhs.localPart.lowercased())
    }

    static func validateLocalPart(_ localPart: String) throws(EmailAddressError) {
        let bytes = Array(localPart.utf8)
        guard !bytes.isEmpty else { throw .emptyLocalPart }
        guard bytes.count <= Self.maximumLocalPartLength else { throw .localPartTooLong }
        if bytes.first == UInt8(ascii: "\""), bytes.count >= 2, bytes.last == UInt8(ascii: "\"") {
            // Quoted-string: printable ASCII or UTF-8, with backslash escapes; no CR, LF or NUL.
            var escaped = false
            for byte in bytes.dropFirst().dropLast() {
                if escaped { escaped = false; continue }
                if byte == UInt8(ascii: "\\") { escaped = true; continue }
                guard byte >= 0x20, byte != 0x7F, byte != UInt8(ascii: "\"") else { throw .invalidLocalPart }
            }
            guard !escaped else { throw .invalidLocalPart }
            return
        }
        // Dot-string = Atom *("." Atom): no leading, trailing or doubled dots.
        guard bytes.first != UInt8(ascii: "."), bytes.last != UInt8(ascii: "."),
            !zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") })
        else { throw .invalidLocalPart }
        for byte in bytes where !(Self.isAtext(byte) || byte == UInt8(ascii: ".")) {
            throw .invalidLocalPart
        }
    }

    /// RFC 5322 `atext`, widened to any non-ASCII byte for RFC 6531 UTF-8 local parts.
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case 0x80...0xFF:
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    /// Lower-cases and checks a domain name: dot-separated labels of letters, digits and hyphens
    /// (or UTF-8 for internationalised names), each 1–63 octets, no leading or trailing hyphen.
    /// Address literals (`[192.0.2.1]`) are not account domains and are refused here.
    public static func normalisedDomain(_ domain: String) throws(EmailAddressError) -> String {
        var name = domain.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty else { throw .emptyDomain }
        guard name.utf8.count <= Self.maximumDomainLength else { throw .domainTooLong }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count <= 63 else { throw .invalidDomain }
            guard bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { throw .invalidDomain }
            for byte in bytes {
                let allowed =
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte >= 0x80
                guard allowed else { throw .invalidDomain }
            }
        }
        return name
    }
}

public enum EmailAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingAt
    case emptyLocalPart
    case localPartTooLong
    case invalidLocalPart
    case emptyDomain
    case domainTooLong
    case invalidDomain

    public var description: String {
        switch self {
        case .missingAt: "the address has no @"
        case .emptyLocalPart: "the local part is empty"
        case .localPartTooLong: "the local part is longer than 64 octets"
        case .invalidLocalPart: "the local part has characters that are not allowed"
        case .emptyDomain: "the domain is empty"
        case .domainTooLong: "the domain is longer than 255 octets"
        case .invalidDomain: "the domain is not a valid domain name"
        }
    }
}
