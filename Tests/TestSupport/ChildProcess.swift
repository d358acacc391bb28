import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where `swift build` put the package's executables: next to the test bundle.
public enum BuiltProducts {
    public static var directory: URL {
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

    public static func executable(_ name: String) -> URL { self.directory.appendingPathComponent(name) }
}

/// A child process with captured output.
///
/// The parent's ends of the pipes are closed once the output is read (or the value is gone): nothing
/// else closes them (Foundation keeps them for the life of the test process), and a test run that
/// starts a thousand children would otherwise hold two thousand descriptors. Past about 1,360 open
/// descriptors `Process.run` itself crashes: it copies every `/proc/self/fd` entry's whole 256-byte
/// name buffer, and the last entry of a full 32 KiB directory read ends within a few bytes of the
/// buffer's end.
public final class ChildProcess: @unchecked Sendable {
    // Process and Pipe are thread-safe Foundation classes that are not marked Sendable on Linux.
    public let process: Process
    public let output: Pipe
    public let errors: Pipe
    /// Set once `finish` hands the reading ends to `PipeReader`s, which close them when their reads end.
    private let readersOwnPipes = NSLock()
    private var readersStarted = false

    private init(process: Process, output: Pipe, errors: Pipe) {
        self.process = process
        self.output = output
        self.errors = errors
    }

    deinit { self.closePipes() }

    public static func start(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws
        -> ChildProcess
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return ChildProcess(process: process, output: output, errors: errors)
    }

    /// Waits for exit (polling, bounded) and returns status, stdout, stderr. Both pipes are read while the
    /// child runs: a child that writes more than a pipe holds (64 KiB) would otherwise wait for a reader
    /// that only comes after it exits.
    public func finish(timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String, errors: String) {
        self.readersOwnPipes.withLock { self.readersStarted = true }
        let output = PipeReader(self.output.fileHandleForReading)
        let errors = PipeReader(self.errors.fileHandleForReading)
        let deadline = ContinuousClock.now + timeout
        // Foundation learns of a child's exit on its one manager thread; on a loaded machine that lags by
        // seconds, so past the deadline a child that has already exited (a zombie waiting to be reaped) is
        // given a further bounded wait instead of being reported as hung.
        let reapDeadline = deadline + .seconds(60)
        while self.process.isRunning {
            let now = ContinuousClock.now
            if now > deadline && (now > reapDeadline || !self.process.hasEnded) {
                self.process.kill()
                // The readers end once the killed child's ends of the pipes close.
                _ = try? await output.text(within: .seconds(5))
                _ = try? await errors.text(within: .seconds(5))
                throw ChildProcessError.timedOut
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // A grandchild that kept the pipes open (a daemon) would hold the readers: bounded.
        return (self.process.terminationStatus, try await output.text(within: .seconds(30)), try await errors.text(within: .seconds(30)))
    }

    /// Closes the parent's (reading) ends; the child's ends were closed when it started. Not once
    /// `finish` has started readers: they close them when their reads end. Closing a descriptor a
    /// reader is blocked on would end the read with an error, which Foundation's reading turns into a
    /// crash of the whole test process (and the number might be reused by then); a pipe a daemon
    /// grandchild holds open stays open instead, one descriptor each.
    public func closePipes() {
        guard !self.readersOwnPipes.withLock({ self.readersStarted }) else { return }
        try? self.output.fileHandleForReading.close()
        try? self.errors.fileHandleForReading.close()
    }
}

public enum ChildProcessError: Error { case timedOut }

/// Reads a pipe to its end on a thread of its own (not one of the concurrency pool's few, which a
/// blocking read would take from every other test).
final class PipeReader: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?

    /// Reads with read(2), not `readDataToEndOfFile`, whose failures are fatal errors; closes the
    /// handle at the end of the pipe.
    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            let descriptor = handle.fileDescriptor
            var read = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    read.append(contentsOf: buffer[0..<count])
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            try? handle.close()
            self.lock.withLock { self.data = read }
        }
        thread.start()
    }

    /// What was read, once the pipe has ended; `timedOut` if it has not within `limit`.
    func text(within limit: Duration) async throws -> String {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let data = self.lock.withLock({ self.data }) { return String(decoding: data, as: UTF8.self) }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ChildProcessError.timedOut
    }
}

extension Process {
    /// Ends a test's helper process for sure. Children of the test process start with its threads' signal mask,
    /// where most signals are blocked (Foundation's Process does not reset it), so a SIGTERM stays pending
    /// forever in a Python peer; SIGKILL cannot be blocked.
    public func kill() {
        if self.isRunning { _ = Glibc.kill(self.processIdentifier, SIGKILL) }
    }

    /// Whether the process has ended as the kernel sees it: gone, or a zombie not reaped yet (state `Z` in
    /// `/proc/PID/stat`, the field after the parenthesised command name). `isRunning` turns false only once
    /// Foundation's manager thread has reaped the child, which lags by seconds on a loaded machine.
    public var hasEnded: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(self.processIdentifier)/stat", encoding: .utf8) else {
            return true
        }
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
