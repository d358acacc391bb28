import NIOCore
import Synchronization

/// Counts open connections, in total and per client address, against the configured limits.
public final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perAddress: [String: Int] = [:]
    }
    private let counts = Mutex(Counts())
    public let maximumTotal: Int
    public let maximumPerAddress: Int

    public init(maximumTotal: Int, maximumPerAddress: Int) {
        self.maximumTotal = maximumTotal
        self.maximumPerAddress = maximumPerAddress
    }

    /// Takes a slot for `address`; false when a limit is reached (nothing is taken then).
    public func admit(_ address: String) -> Bool {
        self.counts.withLock { counts in
            guard counts.total < self.maximumTotal, counts.perAddress[address, default: 0] < self.maximumPerAddress
            else { return false }
            counts.total += 1
            counts.perAddress[address, default: 0] += 1
            return true
        }
    }

    public func release(_ address: String) {
        self.counts.withLock { counts in
            counts.total -= 1
            let remaining = counts.perAddress[address, default: 1] - 1
            counts.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    public var openConnections: Int { self.counts.withLock { $0.total } }
}
