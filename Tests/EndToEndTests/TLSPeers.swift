import Foundation
import TestSupport

/// `Tests/Clients/mta_sts_peers.py` in a directory of its own: a test CA, an HTTPS server for MTA-STS
/// policies and TLS reports, and an SMTP MX with STARTTLS, each choosing its certificate by the name
/// the client asks for (`setup` is the script's peers.json).
struct TLSPeers {
    let process: ChildProcess
    let directory: URL
    let ports: [String: Int]

    static func start(in directory: URL, setup: [String: Any]) async throws -> TLSPeers {
        try JSONSerialization.data(withJSONObject: setup).write(to: directory.appendingPathComponent("peers.json"))
        let process = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", PythonClient.clientsDirectory.appendingPathComponent("mta_sts_peers.py").path, directory.path])
        var ports: [String: Int] = [:]
        try await eventually("the TLS peers listen", timeout: RunningServer.startBound) {
            ports = (try? JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("ports.json"))) as? [String: Int]) ?? [:]
            return ports.count == 2
        }
        return TLSPeers(process: process, directory: directory, ports: ports)
    }

    var maildir: URL { self.directory.appendingPathComponent("mail") }

    /// The messages the MX accepted, oldest first, each after its X-Envelope-To and X-TLS lines.
    func received() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: self.maildir.path)) ?? []
        return files.sorted { (Int($0.split(separator: ".")[0]) ?? 0) < (Int($1.split(separator: ".")[0]) ?? 0) }
            .compactMap { try? String(contentsOf: self.maildir.appendingPathComponent($0), encoding: .utf8) }
    }

    func stop() { self.process.process.kill() }
}
