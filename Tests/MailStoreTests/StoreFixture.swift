import Foundation
import Logging
import MailStore

/// A fresh database file in its own temporary directory, removed afterwards.
struct StoreFixture {
    let directory: URL
    var path: String { self.directory.appendingPathComponent("estafeta.sqlite").path }

    init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "estafeta-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    func open() throws -> MailStore {
        try MailStore.open(settings: MailStoreSettings(path: self.path), logger: Logger(label: "test.store"))
    }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Runs `body` with a fixture that is removed afterwards, even when `body` throws.
    static func with<T>(_ body: (StoreFixture) async throws -> T) async throws -> T {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        return try await body(fixture)
    }
}

/// Where `swift build` put the package's executables: next to the test bundle.
enum BuiltProducts {
    static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["ESTAFETA_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // swift-testing on Linux runs the test bundle itself (…/debug/estafetaPackageTests.xctest).
        while url.pathComponents.count > 1 && !FileManager.default.fileExists(
            atPath: url.appendingPathComponent("StoreTorture").path)
        {
            url = url.deletingLastPathComponent()
        }
        return url
    }

    static func executable(_ name: String) -> URL { self.directory.appendingPathComponent(name) }
}

/// A child process with captured output.
struct ChildProcess {
    let process: Process
    let output: Pipe
    let errors: Pipe

    static func start(_ executable: URL, _ arguments: [String]) throws -> ChildProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return ChildProcess(process: process, output: output, errors: errors)
    }

    /// Waits for exit (polling, bounded) and returns status, stdout, stderr.
    func finish(timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String, errors: String) {
        let deadline = ContinuousClock.now + timeout
        while self.process.isRunning {
            if ContinuousClock.now > deadline {
                self.process.terminate()
                throw ChildProcessError.timedOut
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let output = String(decoding: self.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: self.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (self.process.terminationStatus, output, errors)
    }
}

enum ChildProcessError: Error { case timedOut }
