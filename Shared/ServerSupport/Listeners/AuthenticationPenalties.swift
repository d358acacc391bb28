import NIOCore

/// How failed logins are slowed down and then stopped: the rules alone. The failures
/// themselves are counted in the store (`PasswordLogin`), so that every process and every protocol of
/// an installation sees the same count and a restart does not forget it.
///
/// Each failure is answered only after a delay that doubles with the recent failures of the client's
/// network and of the account it tried (from `baseDelay` up to `maximumDelay`); after `lockoutFailures`
/// failures of one network within `window` that network is refused outright until the oldest of them
/// ages out. A network is one IPv4 address or one IPv6 /64 (a single IPv6 host usually owns a whole
/// /64, so counting addresses would not slow it down). An account is never locked, only slowed: a
/// guesser must not be able to lock its owner out.
public struct AuthenticationPenalties: Sendable {
    public struct Policy: Sendable {
        public var baseDelay: Duration
        public var maximumDelay: Duration
        public var lockoutFailures: Int
        public var window: Duration

        public init(baseDelay: Duration, maximumDelay: Duration, lockoutFailures: Int, window: Duration) {
            self.baseDelay = baseDelay
            self.maximumDelay = maximumDelay
            self.lockoutFailures = lockoutFailures
            self.window = window
        }
    }

    public let policy: Policy

    public init(policy: Policy) {
        self.policy = policy
    }

    /// The key a network's failures are counted under.
    public static func network(of address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        switch address {
        case .v4:
            return address.ipAddress ?? "unknown"
        case .v6(let v6):
            // sockaddr_in6 holds family and port (4 octets) and flow info (4) before the 16 address
            // octets, on Linux and the BSDs alike.
            let bytes = withUnsafeBytes(of: v6.address) { Array($0.dropFirst(8).prefix(16)) }
            guard bytes.count == 16 else { return address.ipAddress ?? "unknown" }
            // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 host.
            if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return bytes[12...].map(String.init).joined(separator: ".")
            }
            let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        case .unixDomainSocket:
            return "local"
        }
    }

    /// How long a network with these recent failures (their ages, oldest first) must wait before it
    /// may try again; nil when it may try now.
    public func lockout(failureAges: [Duration]) -> Duration? {
        let recent = failureAges.filter { $0 < self.policy.window }
        guard recent.count >= self.policy.lockoutFailures, let oldest = recent.max() else { return nil }
        return self.policy.window - oldest
    }

    /// The wait before answering a failure that makes `failures` recent ones (this one included).
    public func delay(failures: Int) -> Duration {
        let doublings = min(max(failures, 1) - 1, 16)
        return min(self.policy.baseDelay * (1 << doublings), self.policy.maximumDelay)
    }
}
