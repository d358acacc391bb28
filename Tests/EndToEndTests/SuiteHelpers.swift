import Foundation
import MailFormat
import MailStore
import Testing
import TestSupport

/// The admin API of a running suite, through curl.
func admin(_ server: RunningServer, token: String, _ method: String, _ path: String, _ json: String? = nil)
    async throws -> (status: Int, body: String)
{
    var arguments = ["-X", method, "-H", "Authorization: Bearer \(token)"]
    if let json { arguments += ["-H", "Content-Type: application/json", "-d", json] }
    return try await curl(arguments + ["http://127.0.0.1:\(server.ports["admin"] ?? 0)\(path)"])
}

/// Polls (bounded) until `condition` holds; records an issue when it never does.
func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out waiting until \(what)")
}

/// Every message in an account's INBOX, read through the store of a running suite's database file.
func inboxContents(_ store: MailStore, _ address: String) async throws -> [String] {
    let account = try await store.account(try EmailAddress(parsing: address))
    let inbox = try await store.mailbox(named: "INBOX", of: account.id)
    var contents: [String] = []
    for message in try await store.messages(in: inbox.id) {
        if let content = try await store.messageContent(in: inbox.id, uid: message.uid) {
            contents.append(String(decoding: content, as: UTF8.self))
        }
    }
    return contents
}

/// `estafeta serve` on loopback with the domain example.org and the account alice@example.org
/// ("correct horse battery"), for the POP3 and IMAP end-to-end tests.
func startSuiteWithAlice(name: String, hostname: String, token: String, options: [String] = []) async throws -> RunningServer {
    let server = try RunningServer(
        "estafeta",
        arguments: ["serve", "--hostname", hostname, "--relay-poll-interval-ms", "100", "--smtp-auth-failure-delay-ms", "20"]
            + options + RunningServer.loopbackListeners,
        environment: ["ESTAFETA_ADMIN_TOKEN": token], name: name)
    try await server.waitUntilReady()
    #expect(try await admin(server, token: token, "POST", "/api/v1/domains", #"{"name":"example.org"}"#).status == 201)
    let account = try await admin(
        server, token: token, "POST", "/api/v1/accounts", #"{"address":"alice@example.org","password":"correct horse battery"}"#)
    #expect(account.status == 201, "\(account.body)")
    return server
}

/// aiosmtpd with scripted answers (`Tests/Clients/scripted_mx.py`) as a remote MX on loopback, keeping
/// what it accepts in `directory/mail`: the child (terminate it when done) and its listeners' ports.
func startScriptedMX(in directory: URL, listen: String = "127.0.0.1") async throws -> (peer: ChildProcess, ports: [String: Int], maildir: URL) {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let portFile = directory.appendingPathComponent("ports.json")
    let maildir = directory.appendingPathComponent("mail")
    let peer = try ChildProcess.start(
        URL(fileURLWithPath: "/usr/bin/env"),
        ["python3", PythonClient.clientsDirectory.appendingPathComponent("scripted_mx.py").path, portFile.path, maildir.path, listen])
    var ports: [String: Int] = [:]
    try await eventually("the scripted MX listens", timeout: RunningServer.startBound) {
        ports = (try? JSONSerialization.jsonObject(with: Data(contentsOf: portFile)) as? [String: Int]) ?? [:]
        return ports.count == 6
    }
    return (peer, ports, maildir)
}
