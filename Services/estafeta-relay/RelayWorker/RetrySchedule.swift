import Foundation

/// When to try a deferred recipient again, and when to give up (Postfix-like defaults: ~5 minutes,
/// doubling to an hour, five days in all).
struct RetrySchedule: Sendable {
    var initial: Duration
    var maximum: Duration
    var lifetime: Duration

    /// The wait after `attempts` failed attempts (1 for the first failure), with ±10 % jitter so that
    /// recipients deferred together do not all come back in the same second.
    func delay(afterAttempts attempts: Int, jitter: Double = Double.random(in: 0.9...1.1)) -> Duration {
        let doublings = min(max(0, attempts - 1), 20)
        let base = min(self.initial * (1 << doublings), self.maximum)
        return base * jitter
    }

    /// True when a recipient that arrived at `firstQueuedAt` has been in the queue for its lifetime.
    /// A clock that jumped back gives a negative age and expires nothing.
    func expired(firstQueuedAt: Date, now: Date) -> Bool {
        now.timeIntervalSince(firstQueuedAt) >= Double(self.lifetime.components.seconds)
    }
}
