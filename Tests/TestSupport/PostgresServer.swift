import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for one test: `initdb` in a temporary directory, `postgres` started on a
/// Unix socket in that directory and a free loopback port, with password (SCRAM) logins over TCP for the
/// role `estafeta`. PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to
/// the unprivileged `postgres` user (Debian's package makes it) and its commands run as that user.
public final class PostgresServer: @unchecked Sendable {
    // Immutable after start; the class is shared only to stop it.
    public let directory: URL
    /// Chosen before the server binds it, so another process may take it first: `start` then tries
    /// another (set only while starting).
    public private(set) var port: Int
    public let user = "estafeta"
    public let password: String
    public let database = "estafeta"
    private let binaries: URL
    /// Where it listens for TCP: loopback, or an address of `networkNamespace`.
    public let listenAddress: String
    /// The network namespace (`ip netns`) the server runs in; nil for the test's own.
    public let networkNamespace: String?
    /// The postmaster, a child of the test process (not daemonised by pg_ctl: Foundation's `Process`
    /// never sees a command end whose descendant keeps its inherited descriptors).
    private let postmaster = Mutex<Process?>(nil)

    public var socketDirectory: String { self.directory.path }

    private init(
        directory: URL, port: Int, password: String, binaries: URL, listenAddress: String, networkNamespace: String?
    ) {
        self.directory = directory
        self.port = port
        self.password = password
        self.binaries = binaries
        self.listenAddress = listenAddress
        self.networkNamespace = networkNamespace
    }

    /// The newest PostgreSQL installed where Debian puts it (`/usr/lib/postgresql/VERSION/bin`).
    static func binaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        guard let newest = versions.compactMap(Int.init).max() else { throw PostgresServerError.notInstalled }
        return root.appendingPathComponent("\(newest)/bin")
    }

    /// Starts a cluster (bounded: 60 s) and creates the role and database the store uses. In a network
    /// namespace (as root), it listens on `listenAddress` and takes password logins from `clientNetwork`
    /// (CIDR) too; its Unix socket stays in the temporary directory for the test's own commands.
    public static func start(
        listenAddress: String = "127.0.0.1", networkNamespace: String? = nil, clientNetwork: String? = nil
    ) async throws -> PostgresServer {
        let binaries = try Self.binaries()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let password = "pg-" + UUID().uuidString
        let server = PostgresServer(
            directory: directory, port: try Self.freePort(), password: password, binaries: binaries, listenAddress: listenAddress,
            networkNamespace: networkNamespace)
        if geteuid() == 0 {
            guard let owner = getpwnam("postgres") else { throw PostgresServerError.noUnprivilegedUser }
            chown(directory.path, owner.pointee.pw_uid, owner.pointee.pw_gid)
        }
        let passwordFile = directory.appendingPathComponent("superuser-password")
        try Data("unused\n".utf8).write(to: passwordFile)
        if geteuid() == 0, let owner = getpwnam("postgres") { chown(passwordFile.path, owner.pointee.pw_uid, owner.pointee.pw_gid) }
        try await server.run(
            "initdb", ["-D", directory.appendingPathComponent("data").path, "-U", "postgres", "--auth-local=trust",
                       "--auth-host=scram-sha-256", "--pwfile", passwordFile.path, "-E", "UTF8", "--no-sync"])
        if let clientNetwork {
            let rules = directory.appendingPathComponent("data/pg_hba.conf")
            let existing = try String(contentsOf: rules, encoding: .utf8)
            try (existing + "host all all \(clientNetwork) scram-sha-256\n").write(to: rules, atomically: false, encoding: .utf8)
        }
        // A free port can be taken between choosing it and the server binding it (tests start servers
        // in parallel): then another one, a few times.
        for attempt in 1...5 {
            do {
                try await server.startPostmaster()
                break
            } catch PostgresServerError.failed(let reason) where reason.contains("could not create any TCP/IP sockets") && attempt < 5 {
                server.port = try Self.freePort()
            }
        }
        do {
            // Apart: CREATE DATABASE cannot run in the transaction psql makes of several statements.
            try await server.sql("CREATE ROLE \(server.user) LOGIN PASSWORD '\(password)'")
            try await server.sql("CREATE DATABASE \(server.database) OWNER \(server.user)")
        } catch {
            try? await server.stop()
            throw error
        }
        return server
    }

    /// A cluster for the length of `body`, stopped afterwards whether it throws or not.
    public static func with<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
        // A few clusters at a time: tests run in parallel, and thirty clusters starting at once on two
        // cores made unrelated timing checks fail.
        await ClusterSlots.shared.acquire()
        defer { Task { await ClusterSlots.shared.release() } }
        let server = try await Self.start()
        do {
            let result = try await body(server)
            try await server.stop()
            return result
        } catch {
            try? await server.stop()
            throw error
        }
    }

    /// Runs SQL as the superuser over the Unix socket; its output (`psql -At`).
    @discardableResult
    public func sql(_ statements: String, database: String = "postgres") async throws -> String {
        try await self.run("psql", ["-h", self.socketDirectory, "-p", "\(self.port)", "-U", "postgres", "-d", database, "-At", "-v",
                                    "ON_ERROR_STOP=1", "-c", statements])
    }

    /// Stops the cluster (fast shutdown: sessions are ended) and removes its directory.
    public func stop() async throws {
        defer { try? FileManager.default.removeItem(at: self.directory) }
        try await self.stopPostmaster()
    }

    /// Stops it and starts it again on the same port (a database restart under the services).
    public func restart() async throws {
        try await self.stopPostmaster()
        try await self.startPostmaster()
    }

    /// Stops the server, keeping its data, until `start()` (PostgreSQL down under the services).
    public func shutDown() async throws {
        try await self.stopPostmaster()
    }

    /// Starts a server stopped by `shutDown()` again on the same port.
    public func start() async throws {
        try await self.startPostmaster()
    }

    /// Starts `postgres` on the socket directory and port, its log in `server.log`, and waits (bounded)
    /// until it accepts connections.
    private func startPostmaster() async throws {
        let process = Process()
        let postgres = self.binaries.appendingPathComponent("postgres").path
        let arguments = [
            "-D", self.directory.appendingPathComponent("data").path, "-k", self.directory.path, "-p", "\(self.port)",
            "-c", "listen_addresses=\(self.listenAddress)", "-c", "fsync=off",
        ]
        var command: [String]
        if geteuid() == 0 {
            command = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", postgres] + arguments
        } else {
            command = [postgres] + arguments
        }
        // `ip netns exec` enters the namespace and execs the rest: the process stays the postmaster.
        if let namespace = self.networkNamespace { command = ["/usr/sbin/ip", "netns", "exec", namespace] + command }
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let log = self.directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The postmaster has its own copy of the descriptor; the test's would stay open for good.
        try? handle.close()
        self.postmaster.withLock { $0 = process }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw PostgresServerError.failed("postgres exited: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            if (try? await self.run("pg_isready", ["-h", self.socketDirectory, "-p", "\(self.port)", "-q"])) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PostgresServerError.failed("postgres did not accept connections within 60 s")
    }

    /// SIGINT is PostgreSQL's fast shutdown; waits (bounded) for the postmaster to end.
    private func stopPostmaster() async throws {
        guard let process = self.postmaster.withLock({ $0.take() }) else { return }
        kill(process.processIdentifier, SIGINT)
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw PostgresServerError.failed("postgres did not stop within 60 s")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// A PostgreSQL command (bounded: 90 s), as the `postgres` user when running as root.
    @discardableResult
    private func run(_ command: String, _ arguments: [String]) async throws -> String {
        let executable = self.binaries.appendingPathComponent(command).path
        let child: ChildProcess
        if geteuid() == 0 {
            // setpriv (util-linux) becomes the user and execs the command: no PAM session, no process
            // of its own in between (runuser's stayed a zombie Foundation's Process never saw end).
            child = try ChildProcess.start(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", executable] + arguments,
                environment: ["HOME": "/tmp", "PATH": "/usr/bin:/bin"])
        } else {
            child = try ChildProcess.start(URL(fileURLWithPath: executable), arguments)
        }
        let result = try await child.finish(timeout: .seconds(90))
        guard result.status == 0 else {
            throw PostgresServerError.failed("\(command) \(arguments.joined(separator: " ")): \(result.output)\(result.errors)")
        }
        return result.output
    }

    /// A loopback port nothing listens on now.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw PostgresServerError.failed("socket: \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw PostgresServerError.failed("bind: \(errno)") }
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw PostgresServerError.failed("getsockname: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public enum PostgresServerError: Error, CustomStringConvertible {
    case notInstalled
    case noUnprivilegedUser
    case failed(String)

    public var description: String {
        switch self {
        case .notInstalled: "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        case .noUnprivilegedUser: "running as root, but there is no postgres user to run PostgreSQL as"
        case .failed(let what): what
        }
    }
}

/// How many clusters `PostgresServer.with` runs at once in one test process.
actor ClusterSlots {
    static let shared = ClusterSlots(3)
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { self.free = count }

    func acquire() async {
        if self.free > 0 {
            self.free -= 1
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    func release() {
        if self.waiting.isEmpty {
            self.free += 1
        } else {
            self.waiting.removeFirst().resume()
        }
    }
}
