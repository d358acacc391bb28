import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// One Estafeta executable started as a child process on loopback with every port 0, its own
/// database directory, and its log in a file (a pipe nobody reads would block it).
final class RunningServer: @unchecked Sendable {
    let process: Process
    let directory: URL
    let readyFile: URL
    let logFile: URL
    private(set) var ports: [String: Int] = [:]

    var databasePath: String { self.directory.appendingPathComponent("data/estafeta.sqlite").path }
    var certificatePath: String { self.directory.appendingPathComponent("data/tls/self-signed/certificate.pem").path }

    /// Flags that move every listener to 127.0.0.1 and port 0.
    /// Every listener on loopback, and no mail-authentication look-ups at the MX: those would go to the
    /// machine's DNS servers (the tests of those checks turn them on, with a DNS server on loopback).
    static let loopbackListeners: [String] = [
        "smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "admin", "ops",
    ].flatMap { ["--\($0)-host", "127.0.0.1", "--\($0)-port", "0"] } + ["--smtp-verify-inbound", "false"]

    /// The container image's entrypoint (`deploy/entrypoint.sh`), which picks the executable by its first argument.
    static let imageEntrypoint = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/entrypoint.sh")

    /// - Parameter entrypointCommand: start through `imageEntrypoint` with this first argument (`imap`, `serve`…),
    ///   the built executables first on PATH, as a container of the image runs; nil starts `executable` itself.
    /// - Parameter networkNamespace: run it in this network namespace (`ip netns exec`, as root): another host.
    init(
        _ executable: String, arguments: [String], environment: [String: String] = [:], directory: URL? = nil,
        name: String = "server", entrypointCommand: String? = nil, networkNamespace: String? = nil
    ) throws {
        let directory =
            directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.readyFile = directory.appendingPathComponent("\(name).ready.json")
        self.logFile = directory.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: self.logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: self.logFile)
        self.process = Process()
        self.process.executableURL = entrypointCommand == nil ? BuiltProducts.executable(executable) : Self.imageEntrypoint
        // Tests stay on loopback: unless a test routes the relay itself, remote mail goes to a closed
        // loopback port (deferred) instead of to DNS and the Internet.
        let relayConfigured = arguments.contains { ["--relay-smarthost", "--relay-dns-server", "--relay-routes"].contains($0) }
        self.process.arguments = (entrypointCommand.map { [$0] } ?? []) + arguments + ["--ready-file", self.readyFile.path]
            + (relayConfigured ? [] : ["--relay-smarthost", "127.0.0.1:1"])
        if let networkNamespace, let program = self.process.executableURL {
            // `ip netns exec` enters the namespace and execs the server: the process is still the server.
            self.process.arguments = ["netns", "exec", networkNamespace, program.path] + (self.process.arguments ?? [])
            self.process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        }
        var processEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ESTAFETA_") }
        if entrypointCommand != nil {
            processEnvironment["PATH"] = BuiltProducts.directory.path + ":" + (processEnvironment["PATH"] ?? "/usr/bin:/bin")
        }
        if environment["ESTAFETA_DATABASE_URL"] == nil {
            processEnvironment["ESTAFETA_DATABASE_PATH"] = directory.appendingPathComponent("data/estafeta.sqlite").path
        }
        for (key, value) in environment { processEnvironment[key] = value }
        self.process.environment = processEnvironment
        self.process.currentDirectoryURL = directory
        self.process.standardOutput = log
        self.process.standardError = log
        // The server has its own copy of the descriptor; the test's would stay open for good.
        defer { try? log.close() }
        try self.process.run()
    }

    /// Waits (bounded) for the ready file and reads the ports from it.
    /// How long a start may take before it counts as hung. Not a speed check: when the whole suite
    /// starts, forty-odd servers, browsers and database clusters start at once on two cores, and the
    /// test process itself waits behind its own output (its stderr is a pipe that `swift test` drains
    /// when it gets the CPU): a server ready in three seconds has been seen only two minutes later.
    static let startBound: Duration = .seconds(240)

    func waitUntilReady(timeout: Duration = RunningServer.startBound) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: self.readyFile.path),
                let ports = try? JSONSerialization.jsonObject(with: data) as? [String: Int]
            {
                self.ports = ports
                return
            }
            guard self.process.isRunning else { throw RunningServerError.exited(self.log) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RunningServerError.notReady(self.log)
    }

    /// Sends `signal` and waits (bounded) for the exit; returns the exit status and how long it took.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(15)) async throws -> (status: Int32, seconds: Double) {
        let start = ContinuousClock.now
        kill(self.process.processIdentifier, signal)
        while self.process.isRunning {
            // An exit Foundation has not noticed yet is waited for (bounded), not taken for a hang.
            let waited = ContinuousClock.now - start
            if waited > timeout && (waited > timeout + .seconds(60) || !self.process.hasEnded) {
                kill(self.process.processIdentifier, SIGKILL)
                throw RunningServerError.didNotStop(self.log)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (self.process.terminationStatus, seconds)
    }

    var log: String { (try? String(contentsOf: self.logFile, encoding: .utf8)) ?? "" }

    func removeDirectory() {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: self.directory)
    }
}

enum RunningServerError: Error, CustomStringConvertible {
    case exited(String)
    case notReady(String)
    case didNotStop(String)

    var description: String {
        switch self {
        case .exited(let log): "the server exited before it was ready; log:\n\(log)"
        case .notReady(let log): "the server did not become ready in time; log:\n\(log)"
        case .didNotStop(let log): "the server did not stop in time; log:\n\(log)"
        }
    }
}

/// Runs one of the Python clients in Tests/Clients.
enum PythonClient {
    static let clientsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Clients")

    /// `timeout` bounds a script that hangs; it is no speed check (speed is the benchmarks' job): scripts
    /// that take 25–35 s alone overran 60 s while the whole suite ran on a slow day, so the bound is 180 s.
    static func run(_ script: String, _ arguments: [String], timeout: Duration = .seconds(180)) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", self.clientsDirectory.appendingPathComponent(script).path] + arguments)
        let result = try await child.finish(timeout: timeout)
        return (result.status, result.output + result.errors)
    }
}

/// `curl`, the HTTP client nobody here wrote: returns the status code and the body.
func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
    let result = try await ChildProcess.start(
        URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "-w", "\n%{http_code}", "--max-time", "20"] + arguments
    ).finish(timeout: .seconds(30))
    let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}
