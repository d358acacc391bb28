/// What a DNS question got.
public enum DNSAnswer<Record: Sendable>: Sendable {
    case records([Record])
    /// The name exists but has no records of this type.
    case noData
    /// NXDOMAIN: the name does not exist (a permanent answer).
    case nameDoesNotExist
    /// SERVFAIL, a timeout, no server: try again later.
    case temporaryFailure(String)

    /// The records, none for NODATA and NXDOMAIN (which mail authentication treats alike, RFC 7208 §5).
    public var recordsOrNone: [Record]? {
        switch self {
        case .records(let records): records
        case .noData, .nameDoesNotExist: []
        case .temporaryFailure: nil
        }
    }
}

public struct MXRecord: Sendable, Equatable {
    public var preference: UInt16
    /// Without the trailing dot; "" for the null MX "." (RFC 7505).
    public var exchange: String

    public init(preference: UInt16, exchange: String) {
        self.preference = preference
        self.exchange = exchange
    }
}

/// A TLSA record (RFC 6698 §2.1): how a TLS server's certificate is to be matched.
public struct TLSARecord: Sendable, Equatable {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218's names).
    public var usage: UInt8
    /// 0: the whole certificate; 1: its SubjectPublicKeyInfo.
    public var selector: UInt8
    /// 0: the selected bytes themselves; 1: their SHA-256; 2: their SHA-512.
    public var matchingType: UInt8
    public var data: [UInt8]

    public init(usage: UInt8, selector: UInt8, matchingType: UInt8, data: [UInt8]) {
        self.usage = usage
        self.selector = selector
        self.matchingType = matchingType
        self.data = data
    }
}

/// The look-ups mail authentication makes (SPF, DKIM, DMARC): the resolver in production, the same
/// resolver pointed at a DNS server on loopback in tests.
public protocol DNSLookup: Sendable {
    /// TXT records, each one's character-strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    func txt(_ name: String) async -> DNSAnswer<String>
    /// IPv4 addresses, 4 octets each.
    func ipv4(_ name: String) async -> DNSAnswer<[UInt8]>
    /// IPv6 addresses, 16 octets each.
    func ipv6(_ name: String) async -> DNSAnswer<[UInt8]>
    func mx(_ name: String) async -> DNSAnswer<MXRecord>
    /// Names of a reverse-mapping name (`4.3.2.1.in-addr.arpa`).
    func ptr(_ name: String) async -> DNSAnswer<String>
}
