import Foundation
import Testing
import TestSupport

/// The IMAP gateway with clients nobody here wrote: Python's imaplib (STARTTLS and IMAPS) and curl, on
/// mail that arrived through SMTP and the delivery worker, beside POP3 on the same INBOX.
@Suite("IMAP gateway end to end", .serialized)
struct IMAPTests {
    static let token = "imap-e2e-token-" + String(repeating: "i", count: 32)

    @Test("imaplib over STARTTLS and IMAPS: LIST, CREATE, RENAME, DELETE, SELECT, FETCH, SEARCH, STORE, COPY, MOVE, EXPUNGE, APPEND, STATUS, IDLE; two sessions and POP3 see each other; bad input; curl imaps://")
    func clients() async throws {
        let server = try await startSuiteWithAlice(
            name: "imap", hostname: "imap.estafeta.test", token: Self.token, options: ["--imap-max-connections-per-user", "6"])
        defer { server.removeDirectory() }

        let checks = try await PythonClient.run(
            "imap_checks.py",
            [
                String(server.ports["smtp"] ?? 0), String(server.ports["imap"] ?? 0), String(server.ports["imaps"] ?? 0),
                String(server.ports["pop3s"] ?? 0), server.certificatePath,
            ])
        #expect(checks.status == 0 && checks.output.contains("all checks passed"), "\(checks.output)\n\(server.log)")

        // curl: the mailbox list over STARTTLS (required), then one message over implicit TLS.
        let credentials = ["--cacert", server.certificatePath, "-u", "alice@example.org:correct horse battery"]
        let listing = try await curl(credentials + ["--ssl-reqd", "imap://localhost:\(server.ports["imap"] ?? 0)/"])
        #expect(listing.body.contains("Drafts") && listing.body.contains("INBOX"), "\(listing)")
        let message = try await curl(credentials + ["imaps://localhost:\(server.ports["imaps"] ?? 0)/Old-Inbox;MAILINDEX=1"])
        #expect(message.body.contains("Subject: tricky"), "\(message.body)")
        #expect(try await server.stop().status == 0)
    }
}
