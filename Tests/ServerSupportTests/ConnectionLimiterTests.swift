import NIOCore
import ServerSupport
import Testing

@Suite("Connection limits: open connections and new ones per minute, per client network")
struct ConnectionLimiterTests {
    @Test("open connections are limited in total and per network; an IPv6 /64 is one network")
    func concurrency() throws {
        let limiter = ConnectionLimiter(maximumTotal: 3, maximumPerAddress: 2)
        let one = ConnectionLimiter.network(of: try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1))
        let sameNetwork = ConnectionLimiter.network(of: try SocketAddress(ipAddress: "2001:db8:1:2::ffff", port: 1))
        #expect(limiter.admit(one) == .admitted && limiter.admit(sameNetwork) == .admitted)
        #expect(limiter.admit(sameNetwork) == .tooManyOpen)
        #expect(limiter.admit("192.0.2.1") == .admitted)
        #expect(limiter.admit("192.0.2.2") == .tooManyOpen, "the total")
        limiter.release(one)
        #expect(limiter.admit(sameNetwork) == .admitted && limiter.openConnections == 3)
    }

    @Test("new connections per network and minute: a burst of the limit, then one per 60/limit seconds; refusals take nothing")
    func rate() {
        let limiter = ConnectionLimiter(maximumTotal: 1000, maximumPerAddress: 1000, maximumNewPerMinute: 6)
        let start = ContinuousClock.now
        for _ in 0..<6 { #expect(limiter.admit("192.0.2.1", now: start) == .admitted) }
        #expect(limiter.admit("192.0.2.1", now: start) == .tooFrequent)
        #expect(limiter.admit("192.0.2.1", now: start + .seconds(9)) == .tooFrequent)
        #expect(limiter.admit("192.0.2.9", now: start) == .admitted, "another network has its own")
        // One token every 10 s; the refused attempts above did not spend any.
        #expect(limiter.admit("192.0.2.1", now: start + .seconds(10)) == .admitted)
        #expect(limiter.admit("192.0.2.1", now: start + .seconds(10)) == .tooFrequent)
        // Closing connections gives no new ones back: the rate is about arrivals.
        for _ in 0..<7 { limiter.release("192.0.2.1") }
        #expect(limiter.admit("192.0.2.1", now: start + .seconds(11)) == .tooFrequent)
        #expect(ConnectionLimiter(maximumTotal: 10, maximumPerAddress: 10).admit("192.0.2.1") == .admitted, "0: no rate limit")
    }
}
