import Foundation
import Logging
import MailStore
import Testing
import TestSupport

/// The web console served by `estafeta serve`, used in Debian's headless Chromium through Selenium
/// (`Tests/Clients/console_browser.py`), with a scripted remote MX that defers a message once.
@Suite("web console in a real browser", .serialized)
struct ConsoleBrowserTests {
    static let token = "console-e2e-token-" + String(repeating: "c", count: 32)

    /// Where the run leaves its screenshots for a person to look at (build output, never committed).
    static let screenshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/console-screenshots")

    @Test("sign in (a wrong token first), add a domain (DNS check) and an account with markup as its name (shown as text), a new password and quota; find a deferred message with the remote reply on the queue page, retry it, bounce another, flush; read the audit log; page a long list; disable an account; sign out; a read-only token sees no write controls and a forced write is refused; CSP, contrast and no console errors; every page at 360 and 1280 px")
    func consoleInChromium() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-console-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let (peer, ports, _) = try await startScriptedMX(in: work)
        defer { peer.process.kill() }
        // Deferred messages wait an hour: only the console's Retry sends this one again.
        let server = try await startSuiteWithAlice(
            name: "console", hostname: "console.estafeta.test", token: Self.token,
            options: [
                "--relay-routes", "scripted.test=127.0.0.1:\(ports["scripted"] ?? 1),bounce.test=127.0.0.1:\(ports["scripted"] ?? 1)",
                // The DNS check asks a loopback port nobody answers on: nothing leaves the host.
                "--relay-dns-server", "127.0.0.1:9",
                "--relay-retry-initial-seconds", "3600", "--relay-retry-maximum-seconds", "3600",
            ])
        defer { server.removeDirectory() }
        let made = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"), ["token", "create", "--read-only", "--database-path", server.databasePath]
        ).finish()
        let readToken = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(made.status == 0 && !readToken.isEmpty, "\(made.errors)")
        let result = try await PythonClient.run(
            "console_browser.py",
            [String(server.ports["admin"] ?? 0), Self.token, readToken, String(server.ports["submission"] ?? 0), Self.screenshots.path],
            timeout: .seconds(300))
        #expect(result.status == 0 && result.output.contains("console: ok"), "\(result.output)")
        #expect(try await server.stop().status == 0)
        // Stopped on SIGTERM, the process said so for each of its services.
        let store = try MailStore.open(settings: MailStoreSettings(path: server.databasePath), logger: Logger(label: "console"))
        let processes = try await store.serviceProcesses()
        #expect(processes.map(\.service) == ["admin", "imap", "pop3", "relay", "smtp"] && processes.allSatisfy { $0.stoppedAt != nil }, "\(processes)")
    }
}
