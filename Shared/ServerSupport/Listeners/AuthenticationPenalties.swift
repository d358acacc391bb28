import NIOCore
import Synchronization

/// Failed logins per client network, shared by every listener of a process (SMTP AUTH, and POP3 and
/// IMAP logins once they exist), so that guessing passwords is slow and then stops (catalogue S21).
///
/// Each failure is answered only after a delay that doubles with the network's recent failures (from
/// `baseDelay` up to `maximumDelay`); after `lockoutFailures` failures within `window` the network is
/// refused outright until the oldest of them ages out. A network is one IPv4 address or one IPv6 /64
/// (a single IPv6 host usually owns a whole /64, so counting addresses would not slow it down).
/// Clients from other networks are not affected, and a correct password from a locked network is
/// refused too (otherwise the lockout would still answer the guessing question).
public final class AuthenticationPenalties: Sendable {
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
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])
    /// Networks remembered at once; the least recently failing are forgotten beyond it.
    private let maximumNetworks = 50_000

    public init(policy: Policy) {
        self.policy = policy
    }

    /// The key failures are counted under.
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

    /// When the network is locked out, how long until it may try again; nil when it may try now.
    public func lockedOut(_ address: SocketAddress?, now: ContinuousClock.Instant = .now) -> Duration? {
        let key = Self.network(of: address)
        return self.failures.withLock { failures in
            let recent = self.recent(failures[key] ?? [], now: now)
            failures[key] = recent.isEmpty ? nil : recent
            guard recent.count >= self.policy.lockoutFailures, let oldest = recent.first else { return nil }
            return self.policy.window - (now - oldest)
        }
    }

    /// Counts one failure and returns how long to wait before answering it.
    public func recordFailure(_ address: SocketAddress?, now: ContinuousClock.Instant = .now) -> Duration {
        let key = Self.network(of: address)
        return self.failures.withLock { failures in
            var recent = self.recent(failures[key] ?? [], now: now)
            recent.append(now)
            // Only as many instants as the lockout needs are kept: memory per network is bounded.
            if recent.count > self.policy.lockoutFailures { recent.removeFirst(recent.count - self.policy.lockoutFailures) }
            failures[key] = recent
            if failures.count > self.maximumNetworks,
                let stale = failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key
            {
                failures[stale] = nil
            }
            let doublings = min(recent.count - 1, 16)
            let delay = self.policy.baseDelay * (1 << doublings)
            return min(delay, self.policy.maximumDelay)
        }
    }

    private func recent(_ instants: [ContinuousClock.Instant], now: ContinuousClock.Instant) -> [ContinuousClock.Instant] {
        instants.filter { now - $0 < self.policy.window }
    }
}
