import Foundation
import TestSupport

/// Hosts for one test, as network namespaces (`ip netns`, root only) joined by veth pairs to a bridge
/// in the test's own namespace: every connection between them crosses a network interface, and each
/// reaches the others only by address. The test's namespace is the gateway (the bridge's address), where
/// the test's clients and a remote MX run.
final class HostNetwork: @unchecked Sendable {
    // Immutable after `make`.
    let bridge: String
    /// The first three octets of every address.
    let prefix: String
    let subnet: String
    let gateway: String
    private(set) var namespaces: [String: String] = [:]
    private(set) var addresses: [String: String] = [:]

    /// Whether this machine lets the test make hosts (root and iproute2).
    static var available: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    private init(tag: String, octet: Int) {
        self.bridge = "estbr\(tag)"
        self.prefix = "10.77.\(octet)"
        self.subnet = self.prefix + ".0/24"
        self.gateway = self.prefix + ".1"
    }

    /// One namespace per name, at 10.77.N.10, .11, … in that order.
    static func make(hosts: [String]) async throws -> HostNetwork {
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let network = HostNetwork(tag: tag, octet: Int.random(in: 1...254))
        do {
            try await run(["link", "add", network.bridge, "type", "bridge"])
            try await run(["addr", "add", network.gateway + "/24", "dev", network.bridge])
            try await run(["link", "set", network.bridge, "up"])
            for (index, host) in hosts.enumerated() {
                let namespace = "est\(tag)\(index)"
                let address = network.prefix + ".\(10 + index)"
                let outside = "ve\(tag)\(index)"
                try await run(["netns", "add", namespace])
                network.namespaces[host] = namespace
                try await run(["link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace])
                try await run(["link", "set", outside, "master", network.bridge])
                try await run(["link", "set", outside, "up"])
                try await run(["netns", "exec", namespace, "ip", "addr", "add", address + "/24", "dev", "eth0"])
                try await run(["netns", "exec", namespace, "ip", "link", "set", "eth0", "up"])
                try await run(["netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
                try await run(["netns", "exec", namespace, "ip", "route", "add", "default", "via", network.gateway])
                network.addresses[host] = address
            }
        } catch {
            await network.remove()
            throw error
        }
        return network
    }

    func namespace(_ host: String) -> String { self.namespaces[host] ?? "" }
    func address(_ host: String) -> String { self.addresses[host] ?? "" }

    /// Removes the namespaces (their ends of the veth pairs go with them) and the bridge.
    func remove() async {
        for namespace in self.namespaces.values { _ = try? await Self.run(["netns", "del", namespace]) }
        _ = try? await Self.run(["link", "del", self.bridge])
    }

    @discardableResult
    static func run(_ arguments: [String]) async throws -> String {
        let child = try ChildProcess.start(URL(fileURLWithPath: "/usr/sbin/ip"), arguments)
        let result = try await child.finish(timeout: .seconds(30))
        guard result.status == 0 else { throw HostNetworkError.failed("ip \(arguments.joined(separator: " ")): \(result.errors)") }
        return result.output
    }
}

enum HostNetworkError: Error {
    case failed(String)
}
