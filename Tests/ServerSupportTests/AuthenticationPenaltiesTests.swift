import NIOCore
import ServerSupport
import Testing

@Suite("Failed logins per client network")
struct AuthenticationPenaltiesTests {
    let penalties = AuthenticationPenalties(
        policy: .init(baseDelay: .milliseconds(500), maximumDelay: .seconds(3), lockoutFailures: 5, window: .seconds(60)))

    @Test("IPv4 addresses count alone; IPv6 counts per /64; IPv4-mapped IPv6 is the IPv4 host")
    func networks() throws {
        #expect(AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "192.0.2.7", port: 1)) == "192.0.2.7")
        let one = AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1))
        let other = AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 1))
        let elsewhere = AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1))
        #expect(one == "2001:db8:1:2::/64" && one == other && one != elsewhere)
        #expect(AuthenticationPenalties.network(of: try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)) == "192.0.2.7")
    }

    @Test("delays double up to the cap")
    func growingDelays() {
        #expect((1...6).map { self.penalties.delay(failures: $0) }
            == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(3), .seconds(3)])
        #expect(self.penalties.delay(failures: 10_000) == .seconds(3))
    }

    @Test("locked out once the window holds enough failures, until the oldest of them ages out")
    func lockout() {
        #expect(self.penalties.lockout(failureAges: [.seconds(4), .seconds(3), .seconds(2), .seconds(1)]) == nil)
        #expect(self.penalties.lockout(failureAges: [.seconds(5), .seconds(4), .seconds(3), .seconds(2), .seconds(1)]) == .seconds(55))
        // Failures older than the window do not count.
        #expect(self.penalties.lockout(failureAges: [.seconds(70), .seconds(4), .seconds(3), .seconds(2), .seconds(1)]) == nil)
    }
}
