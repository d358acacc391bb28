import Foundation
import Testing
import TestSupport

/// The corners of IMAP that conformance suites and demanding clients probe (`Tests/Clients/imap_conformance.py`,
/// with imaplib and raw IMAPS): one server per check, so a failure names its check.
@Suite("IMAP conformance end to end")
struct IMAPConformanceTests {
    static let token = "imap-conformance-token-" + String(repeating: "c", count: 32)

    @Test(
        "IMAP conformance",
        arguments: [
            "keywords_announced", "envelope_addresses", "sent_dates", "address_search", "binary_sizes", "binary_sizes streamed", "envelope_addresses streamed", "id_limits", "atom_names", "lsub_parents", "condstore", "qresync", "sort", "thread", "unauthenticate", "recursive_match", "idle_keepalive --imap-idle-keepalive-seconds 1", "subscriptions_outlive_mailboxes", "attached_messages", "attached_messages streamed",
        ])
    func check(_ argument: String) async throws {
        try await Self.run("imap_conformance.py", argument)
    }

    /// Extensions (`Tests/Clients/imap_extensions.py`), one server per check.
    @Test(
        "IMAP extensions",
        arguments: ["compress", "compress_memory", "configured_mailboxes --accounts-mailboxes Brouillons=drafts,Envoyés=sent,Notes", "objectid",
            "objectid streamed", "savedate", "preview", "preview streamed", "multiappend", "partial", "metadata", "imapclient_sync", "catenate", "notify", "context_updates",
        ])
    func extensionCheck(_ argument: String) async throws {
        try await Self.run("imap_extensions.py", argument)
    }

    static func run(_ script: String, _ argument: String) async throws {
        // "name --option value": the check with the server so configured; "name streamed": again with
        // every message read a piece at a time (`IMAPLargeMessage`).
        let words = argument.split(separator: " ").map(String.init)
        let name = words[0]
        let options = words.dropFirst() == ["streamed"] ? ["--imap-streamed-message-bytes", "0"] : Array(words.dropFirst())
        let server = try await startSuiteWithAlice(
            name: "imap-\(name)", hostname: "imap.estafeta.test", token: Self.token, options: options)
        defer { server.removeDirectory() }
        var arguments = [String(server.ports["imaps"] ?? 0), server.certificatePath]
        if script == "imap_extensions.py" {
            arguments += [String(server.process.processIdentifier), String(server.ports["admin"] ?? 0), Self.token]
        }
        let result = try await PythonClient.run(script, arguments + [name])
        #expect(result.status == 0 && result.output.contains("ok \(name)"), "\(result.output)\n\(server.log)")
        #expect(try await server.stop().status == 0)
    }
}
