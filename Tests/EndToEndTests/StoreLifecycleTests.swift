import Foundation
import Testing
import TestSupport

/// Retention in a running suite: what the store keeps only for a while goes, and clients never see a
/// wrong mailbox because of it.
@Suite("Store lifecycle end to end", .serialized)
struct StoreLifecycleTests {
    static let token = "lifecycle-e2e-token-" + String(repeating: "r", count: 32)

    @Test("a delivered message's queue entry is purged while IMAP still reads it; a session behind the pruned change feed gets BYE")
    func retention() async throws {
        let server = try await startSuiteWithAlice(
            name: "lifecycle", hostname: "lifecycle.estafeta.test", token: Self.token,
            options: [
                "--retention-queue-seconds", "1", "--retention-change-feed-seconds", "2", "--maintenance-interval-seconds", "1",
            ])
        defer { server.removeDirectory() }
        let checks = try await PythonClient.run(
            "retention_checks.py",
            [
                String(server.ports["smtp"] ?? 0), String(server.ports["imaps"] ?? 0), String(server.ports["admin"] ?? 0),
                Self.token, server.certificatePath,
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")
        #expect(server.log.contains("store purged"), "\(server.log)")
        #expect(try await server.stop().status == 0)
    }
}
