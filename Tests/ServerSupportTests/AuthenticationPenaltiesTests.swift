import NIOCore
import ServerSupport
import Testing

@Suite("Failed logins per client network (catalogue S21)")
struct AuthenticationPenaltiesTests {
    let policy = AuthenticationPenalties.Policy(
        baseDelay: .milliseconds(500), maximumDelay: .seconds(3), lockoutFailures: 5, window: .seconds(60))

    @Test("IPv4 addresses count alone; IPv6 counts per /64; IPv4-mapped IPv6 is the IPv4 host")
    func networks() throws {
        #expect(AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "192.0.2.7", port: 1)) == "192.0.2.7")
        let one = AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1))
        let other = AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 1))
        let elsewhere = AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1))
        #expect(one == "2001:db8:1:2::/64" && one == other && one != elsewhere)
        #expect(AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)) == "192.0.2.7")
    }

    @Test("delays double up to the cap, then the network is locked out until its failures age out")
    func growingDelaysAndLockout() throws {
        let penalties = AuthenticationPenalties(policy: self.policy)
        let guesser = try SocketAddress(ipAddress: "192.0.2.7", port: 1)
        let bystander = try SocketAddress(ipAddress: "192.0.2.8", port: 1)
        let start = ContinuousClock.now
        var delays: [Duration] = []
        for second in 0..<5 {
            #expect(penalties.lockedOut(guesser, now: start + .seconds(second)) == nil)
            delays.append(penalties.recordFailure(guesser, now: start + .seconds(second)))
        }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(3)])
        // Locked out until the first failure is a window old; another address is not affected.
        #expect(penalties.lockedOut(guesser, now: start + .seconds(5)) == .seconds(55))
        #expect(penalties.lockedOut(bystander, now: start + .seconds(5)) == nil)
        #expect(penalties.lockedOut(guesser, now: start + .seconds(60)) == nil)
        // After the window the count starts again from the failures still inside it.
        #expect(penalties.recordFailure(guesser, now: start + .seconds(200)) == .milliseconds(500))
    }
}
