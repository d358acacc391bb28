import Foundation
import Logging
import MailStore
import PostgresStore
import Synchronization

/// Which database a store test runs on: each store test that is not about SQLite itself runs on both.
public enum StoreBackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { self.rawValue }
}

/// A fresh store for one test, removed afterwards: a database file in its own temporary directory, or
/// a private PostgreSQL cluster (`PostgresServer`).
public struct StoreFixture: Sendable {
    public let directory: URL
    public var path: String { self.directory.appendingPathComponent("estafeta.sqlite").path }
    public let backend: StoreBackendKind
    /// The cluster of a PostgreSQL fixture.
    public let postgres: PostgresServer?
    private let opened = OpenedStores()

    public init() throws {
        try self.init(backend: .sqlite, postgres: nil)
    }

    private init(backend: StoreBackendKind, postgres: PostgresServer?) throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "estafeta-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.backend = backend
        self.postgres = postgres
    }

    /// How another process (`StoreTorture`) names this store: the SQLite file's path, or the cluster's
    /// URL with the password in `childEnvironment`.
    public var location: String {
        guard let postgres else { return self.path }
        return "postgres://\(postgres.user)@127.0.0.1:\(postgres.port)/\(postgres.database)"
    }

    /// The environment for a process given `location`.
    public var childEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let postgres { environment["ESTAFETA_DATABASE_PASSWORD"] = postgres.password }
        return environment
    }

    /// The SQLite file's store (SQLite only: for tests of what only SQLite has).
    public func open() throws -> MailStore {
        try MailStore.open(settings: MailStoreSettings(path: self.path), logger: Self.logger)
    }

    /// A store on the fixture's backend; each call opens another (as another process would).
    /// `operationTimeout`: PostgreSQL's deadline per operation, when a test needs it shorter.
    public func openStore(operationTimeout: Duration? = nil) async throws -> MailStore {
        guard let postgres else { return try self.open() }
        var settings = postgres.storeSettings
        if let operationTimeout { settings.operationTimeout = operationTimeout }
        let store = try await PostgresStore.open(settings: settings, logger: Self.logger)
        self.opened.stores.withLock { $0.append(store) }
        return store.mailStore()
    }

    /// Warnings and errors only: each PostgreSQL store opened logs a notice per migration, output the
    /// test process writes through a pipe it can wait on when the machine is busy.
    static var logger: Logger {
        var logger = Logger(label: "test.store")
        logger.logLevel = .warning
        return logger
    }

    public func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Runs `body` with a SQLite fixture that is removed afterwards, even when `body` throws.
    public static func with<T>(_ body: (StoreFixture) async throws -> T) async throws -> T {
        try await Self.with(.sqlite, body)
    }

    /// Runs `body` with a fixture on `backend`, removed (its PostgreSQL stopped) afterwards, even when
    /// `body` throws.
    public static func with<T>(_ backend: StoreBackendKind, _ body: (StoreFixture) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite:
            let fixture = try StoreFixture()
            defer { fixture.remove() }
            return try await body(fixture)
        case .postgres:
            return try await PostgresServer.with { server in
                let fixture = try StoreFixture(backend: .postgres, postgres: server)
                defer { fixture.remove() }
                do {
                    let result = try await body(fixture)
                    await fixture.opened.closeAll()
                    return result
                } catch {
                    await fixture.opened.closeAll()
                    throw error
                }
            }
        }
    }
}

/// The PostgreSQL stores a fixture opened, closed at its end.
private final class OpenedStores: Sendable {
    let stores = Mutex<[PostgresStore]>([])

    func closeAll() async {
        let stores = self.stores.withLock { stores in
            defer { stores.removeAll() }
            return stores
        }
        for store in stores { await store.close() }
    }
}

extension PostgresServer {
    /// How the store logs in to this cluster: over TCP on loopback with the role's password.
    public var storeSettings: PostgresStoreSettings {
        PostgresStoreSettings(
            host: "127.0.0.1", port: self.port, user: self.user, password: self.password, database: self.database, tls: .disable)
    }
}
