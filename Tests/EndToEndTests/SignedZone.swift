import Foundation
import Testing
import TestSupport

/// One DNSSEC-signed zone served on loopback: keys made and the zone signed with ldns (`ldns-keygen`,
/// `ldns-signzone`), served by NSD, an authoritative server nobody here wrote. The zone's DS record is
/// the trust anchor a validating resolver starts from. `tampered` records are added after signing, so
/// a validating resolver finds them bogus.
struct SignedZone {
    let server: ChildProcess
    let port: Int
    let trustAnchorFile: URL

    static func start(origin: String, records: [String], tampered: [String] = [], directory: URL) async throws -> SignedZone {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let zone = (["$ORIGIN \(origin).", "$TTL 300", "@ IN SOA ns.\(origin). admin.\(origin). 1 3600 600 86400 60",
                     "@ IN NS ns.\(origin).", "ns IN A 127.0.0.1"] + records).joined(separator: "\n") + "\n"
        try Data(zone.utf8).write(to: directory.appendingPathComponent("zone"))
        let signed = try await ChildProcess.start(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "cd \"$1\" && key=$(ldns-keygen -a ECDSAP256SHA256 -k \"$2\") && ldns-signzone zone \"$key\" && mv \"$key.ds\" anchor.ds",
             "sh", directory.path, origin]
        ).finish(timeout: .seconds(60))
        #expect(signed.status == 0, "\(signed.output)\(signed.errors)")
        if !tampered.isEmpty {
            let handle = try FileHandle(forWritingTo: directory.appendingPathComponent("zone.signed"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((tampered.map { "\($0)\n" }.joined()).utf8))
            try handle.close()
        }
        for _ in 0..<10 {
            let port = Int.random(in: 20_000...60_000)
            let log = directory.appendingPathComponent("nsd-\(port).log")
            let configuration = """
                server:
                  ip-address: 127.0.0.1
                  port: \(port)
                  username: ""
                  chroot: ""
                  zonesdir: "\(directory.path)"
                  pidfile: "\(directory.path)/nsd.pid"
                  database: ""
                  xfrdfile: "\(directory.path)/xfrd.state"
                  zonelistfile: "\(directory.path)/zone.list"
                  logfile: "\(log.path)"
                remote-control:
                  control-enable: no
                zone:
                  name: \(origin)
                  zonefile: zone.signed

                """
            let file = directory.appendingPathComponent("nsd.conf")
            try Data(configuration.utf8).write(to: file)
            let server = try ChildProcess.start(URL(fileURLWithPath: "/usr/sbin/nsd"), ["-d", "-c", file.path])
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline && server.process.isRunning {
                if let text = try? String(contentsOf: log, encoding: .utf8), text.contains("nsd started") {
                    return SignedZone(server: server, port: port, trustAnchorFile: directory.appendingPathComponent("anchor.ds"))
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            server.process.kill()  // the port was taken, or it never started: another port
        }
        throw ChildProcessError.timedOut
    }

    func stop() { self.server.process.kill() }
}
