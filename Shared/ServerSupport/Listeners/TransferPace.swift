import NIOCore

/// A peer sending a command or its data must keep it coming: once `grace` has passed since the piece
/// began, at least `minimumRate` octets per second on average. A client that trickles a byte now and
/// then (slowloris) never trips an idle timeout, yet holds its connection and buffers for ever.
public struct TransferPace: Sendable {
    public let grace: TimeAmount
    public let minimumRate: Int
    private var started: NIODeadline?
    private var bytes = 0

    public init(grace: Duration, minimumRate: Int) {
        self.grace = TimeAmount(grace)
        self.minimumRate = max(1, minimumRate)
    }

    /// `arrived` more octets of the piece under way (the first ones start it); true when the piece is
    /// now behind the pace.
    public mutating func record(_ arrived: Int, now: NIODeadline = .now()) -> Bool {
        let started = self.started ?? now
        self.started = started
        self.bytes += arrived
        let allowed = self.grace + .nanoseconds(Int64(self.bytes) * 1_000_000_000 / Int64(self.minimumRate))
        return now - started > allowed
    }

    /// The piece is complete: the next one is timed from its own start.
    public mutating func finish() {
        self.started = nil
        self.bytes = 0
    }
}
