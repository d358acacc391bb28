import NIOCore
import Synchronization

/// Admits new connections against the configured limits: open connections in total and per client
/// network, and new connections per client network and minute. A network is one IPv4 address or one
/// IPv6 /64 (`AuthenticationPenalties.network`), since a single IPv6 host usually owns a whole /64 and
/// could otherwise open its limit once per address.
///
/// The rate is a token bucket per network: `maximumNewPerMinute` connections at once, then one more
/// each `60 / maximumNewPerMinute` seconds. Refused attempts take nothing, so a flood is refused
/// cheaply and the network gets its tokens back once it stops.
public final class ConnectionLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var refilledAt: ContinuousClock.Instant
    }
    private struct Counts {
        var total = 0
        var perNetwork: [String: Int] = [:]
        var buckets: [String: Bucket] = [:]
        var admissions = 0
    }

    public enum Admission: Sendable, Equatable {
        case admitted
        /// Too many open connections, in total or from the network.
        case tooManyOpen
        /// Too many new connections from the network in the last minute.
        case tooFrequent
    }

    private let counts = Mutex(Counts())
    public let maximumTotal: Int
    public let maximumPerAddress: Int
    /// 0: no rate limit.
    public let maximumNewPerMinute: Int

    public init(maximumTotal: Int, maximumPerAddress: Int, maximumNewPerMinute: Int = 0) {
        self.maximumTotal = maximumTotal
        self.maximumPerAddress = maximumPerAddress
        self.maximumNewPerMinute = maximumNewPerMinute
    }

    /// The key a client's connections are counted under.
    public static func network(of address: SocketAddress?) -> String { AuthenticationPenalties.network(of: address) }

    /// Takes a slot for a new connection from `network`; nothing is taken unless it is admitted.
    public func admit(_ network: String, now: ContinuousClock.Instant = .now) -> Admission {
        self.counts.withLock { counts in
            guard counts.total < self.maximumTotal, counts.perNetwork[network, default: 0] < self.maximumPerAddress else {
                return .tooManyOpen
            }
            if self.maximumNewPerMinute > 0 {
                let capacity = Double(self.maximumNewPerMinute)
                var bucket = counts.buckets[network] ?? Bucket(tokens: capacity, refilledAt: now)
                bucket.tokens = min(capacity, bucket.tokens + Self.seconds(now - bucket.refilledAt) * capacity / 60)
                bucket.refilledAt = now
                guard bucket.tokens >= 1 else {
                    counts.buckets[network] = bucket
                    return .tooFrequent
                }
                bucket.tokens -= 1
                counts.buckets[network] = bucket
                counts.admissions += 1
                if counts.admissions % 1024 == 0 { Self.forgetFullBuckets(&counts, now: now) }
            }
            counts.total += 1
            counts.perNetwork[network, default: 0] += 1
            return .admitted
        }
    }

    public func release(_ network: String) {
        self.counts.withLock { counts in
            counts.total -= 1
            let remaining = counts.perNetwork[network, default: 1] - 1
            counts.perNetwork[network] = remaining > 0 ? remaining : nil
        }
    }

    public var openConnections: Int { self.counts.withLock { $0.total } }

    /// A bucket a minute old is full again and can be forgotten: memory follows the networks of the
    /// last minute, not every network ever seen.
    private static func forgetFullBuckets(_ counts: inout Counts, now: ContinuousClock.Instant) {
        counts.buckets = counts.buckets.filter { now - $0.value.refilledAt < .seconds(60) }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
