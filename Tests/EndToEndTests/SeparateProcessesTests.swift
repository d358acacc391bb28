import Foundation
import Testing
import TestSupport

@Suite("The five executables as separate processes on one database")
struct SeparateProcessesTests {
    @Test("smtp, relay, pop3, imap and admin start together on one file, answer, and stop with 0 on SIGTERM")
    func separateExecutables() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = ["estafeta-admin", "estafeta-smtp", "estafeta-relay", "estafeta-pop3", "estafeta-imap"]
        // Started together: they race to migrate the new file and to make the self-signed certificate.
        let servers = try names.map {
            try RunningServer($0, arguments: RunningServer.loopbackListeners, directory: directory, name: $0)
        }
        defer { for server in servers { server.removeDirectory() } }
        for server in servers { try await server.waitUntilReady() }

        let probes: [(String, String)] = [
            ("estafeta-admin", "admin"), ("estafeta-smtp", "smtp,ops"), ("estafeta-relay", "ops"),
            ("estafeta-pop3", "pop3,ops"), ("estafeta-imap", "imap,ops"),
        ]
        for (index, (name, services)) in probes.enumerated() {
            let probe = try await PythonClient.run(
                "probe_suite.py", [servers[index].readyFile.path, servers[index].certificatePath, services])
            #expect(probe.status == 0, "\(name): \(probe.output)\n\(servers[index].log)")
        }
        for server in servers {
            let stopped = try await server.stop()
            #expect(stopped.status == 0, "\(server.log)")
            #expect(stopped.seconds < 5)
        }
    }
}
