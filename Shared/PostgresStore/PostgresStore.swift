import Logging
import MailStore
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL store is and how to log in: what `database.url` and the password settings say.
public struct PostgresStoreSettings: Sendable {
    public enum TLS: Sendable {
        /// No TLS: a Unix socket, or a network the operator trusts.
        case disable
        /// TLS, the server's certificate not checked.
        case require
        /// TLS, the certificate checked against the system's trust roots and the host name.
        case verifyFull
    }

    /// A host name or address, or the directory of the server's Unix socket (starting with `/`).
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLS
    /// How long one store operation may take before it is `unavailable` (while PostgreSQL is down).
    public var operationTimeout: Duration = .seconds(30)

    public init(host: String, port: Int, user: String, password: String?, database: String, tls: TLS) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// libpq's convention: the socket is `.s.PGSQL.PORT` in the directory named as the host.
    var unixSocketPath: String? { self.host.hasPrefix("/") ? self.host + "/.s.PGSQL.\(self.port)" : nil }

    /// TLS as the mode says; nil for none.
    var tlsConfiguration: TLSConfiguration? {
        switch self.tls {
        case .disable:
            return nil
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            return TLSConfiguration.makeClientConfiguration()
        }
    }

    /// The pool's configuration.
    var clientConfiguration: PostgresClient.Configuration {
        var configuration =
            if let path = self.unixSocketPath {
                PostgresClient.Configuration(unixSocketPath: path, username: self.user, password: self.password, database: self.database)
            } else {
                PostgresClient.Configuration(
                    host: self.host, port: self.port, username: self.user, password: self.password, database: self.database,
                    tls: self.tlsConfiguration.map { .require($0) } ?? .disable)
            }
        // No keep-alive queries on idle connections: the pool starts a timer task each time a connection
        // goes back idle, which is after every store operation; a connection that died while idle fails
        // its next operation, which is then `unavailable` like any other lost connection.
        configuration.options.keepAliveBehavior = nil
        return configuration
    }

    /// One connection's configuration, for the first connection that proves the settings work.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let path = self.unixSocketPath {
            return PostgresConnection.Configuration(unixSocketPath: path, username: self.user, password: self.password, database: self.database)
        }
        return PostgresConnection.Configuration(
            host: self.host, port: self.port, username: self.user, password: self.password, database: self.database,
            tls: try self.tlsConfiguration.map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable)
    }
}

public enum PostgresStoreError: Error, Sendable, CustomStringConvertible {
    /// The database could not be reached or refused the login.
    case cannotOpen(String)
    case failed(String)

    public var description: String {
        switch self {
        case .cannotOpen(let reason): "cannot open the PostgreSQL store: \(reason)"
        case .failed(let reason): "PostgreSQL: \(reason)"
        }
    }
}

/// A store's PostgreSQL database: a pool of connections (PostgresNIO's client, run for as long as the
/// store is open) and its schema, migrated when it is opened. Several processes on several hosts may
/// open it at the same moment: migrations run under an advisory lock, so one of them migrates and the
/// others find the work done.
public final class PostgresStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    let operationTimeout: Duration
    private let running: Task<Void, Never>

    private init(client: PostgresClient, logger: Logger, operationTimeout: Duration) {
        self.client = client
        self.logger = logger
        self.operationTimeout = operationTimeout
        self.running = Task { await client.run() }
    }

    /// Connects and migrates. A database that cannot be reached or refuses the login is an error once
    /// `timeout` has passed, not a wait for ever.
    public static func open(settings: PostgresStoreSettings, logger: Logger, timeout: Duration = .seconds(30))
        async throws(PostgresStoreError) -> PostgresStore
    {
        // One connection first: the pool retries a refused login for ever, where the operator needs the
        // server's reason (a wrong password, TLS it does not offer) at once.
        do {
            let configuration = try settings.connectionConfiguration()
            try await Self.withDeadline(timeout) {
                let probe = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                try await probe.close()
            }
        } catch {
            throw .cannotOpen(Self.reason(error))
        }
        let store = PostgresStore(
            client: PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: logger), logger: logger,
            operationTimeout: settings.operationTimeout)
        do {
            try await Self.withDeadline(timeout) { try await PostgresMigrator.migrate(store.client, logger: logger) }
        } catch {
            await store.close()
            throw .cannotOpen(Self.reason(error))
        }
        return store
    }

    /// The store the services use, on this database.
    public func mailStore() -> MailStore {
        let access = self.access
        return MailStore(
            directory: PostgresDirectory(access: access), mailboxes: PostgresMailboxes(access: access),
            contents: PostgresContents(access: access), queue: PostgresQueue(access: access),
            retention: PostgresRetention(access: access), schema: PostgresSchema(access: access),
            signals: PostgresSignals(store: self), copying: PostgresCopy(access: access), logger: self.logger)
    }

    var access: PostgresAccess { PostgresAccess(client: self.client, logger: self.logger, deadline: self.operationTimeout) }

    /// Ends the pool's connections.
    public func close() async {
        self.running.cancel()
        await self.running.value
    }

    /// The identifiers of the migrations applied, in order.
    public func appliedMigrations() async throws(PostgresStoreError) -> [String] {
        do {
            return try await PostgresSchema(access: self.access).appliedMigrations()
        } catch {
            throw .failed("\(error)")
        }
    }

    /// Runs `work`, or fails once `timeout` has passed (the pool keeps trying to connect to a database
    /// that is down; a caller must not wait on it for ever).
    private static func withDeadline<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw PostgresStoreError.cannotOpen("no answer within \(timeout)")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw PostgresStoreError.cannotOpen("no answer") }
            return first
        }
    }

    /// What the server said (PSQLError's message), or the error as it is.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
        return "\(error)"
    }
}
