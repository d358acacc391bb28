import ArgumentParser
import Foundation
import Logging
import MailStore
import NIOCore
import NIOPosix
import NIOSSL
import PostgresStore
import ServerSupport
import ServiceLifecycle

/// Flags every executable takes. Any other `--key value` flag sets a setting (`--smtp-port 0`).
public struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "JSON configuration file (default: $ESTAFETA_CONFIG, else built-in defaults).")
    public var config: String?

    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("Settings as flags, for example --smtp-port 2525 --database-path ./data/estafeta.sqlite."))
    public var settings: [String] = []

    public init() {}
}

/// Everything a service needs from its process: settings, logger, the one store, the TLS material.
public struct ServiceEnvironment: Sendable {
    public let settings: EstafetaSettings
    public let logger: Logger
    public let store: MailStore
    public let tls: TLSMaterial
    public let tlsContext: NIOSSLContext
    /// Shared by every listener of the process, so the limits hold per process.
    public let connectionLimiter: ConnectionLimiter
    /// The login every protocol uses, with failures counted in the store.
    public let passwordLogin: PasswordLogin
}

/// What one service contributes to a process: its long-running services and the listeners whose
/// ports go into the ready file.
public struct ServiceBundle {
    public var name: String
    public var services: [any Service]
    public var listeners: [AnnouncedListener]

    public init(name: String, services: [any Service], listeners: [AnnouncedListener]) {
        self.name = name
        self.services = services
        self.listeners = listeners
    }
}

extension ProtocolServer {
    /// The listener's entry for the ready file.
    public var announced: AnnouncedListener {
        AnnouncedListener(name: self.description.name) { try await self.boundAddress }
    }
}

/// The steps every executable's main takes, in order, with errors turned into one clear line on
/// standard error and a non-zero exit code instead of a crash trace.
public enum ServiceHost {
    /// Swift Concurrency's jobs run on NIO's event loops (NIO's executor take-over, as Vapor does) rather
    /// than on a separate thread pool. A session task resumed by a line from its connection then runs on
    /// that connection's event loop, and its reply is written there too: without this, every command
    /// crossed threads twice (a POP3 RETR spent more time waking threads than sending mail). Blocking
    /// work stays off the loops: crypt(3) and DNS run on their own threads, SQLite on GRDB's queues.
    /// Installed once per process (a static is initialised once); false where NIO cannot install it.
    static let concurrencyRunsOnEventLoops: Bool =
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

    /// Exit codes: 2 for configuration errors (like a usage error), 1 for anything else at start.
    public static let configurationExitCode: Int32 = 2

    public static func prepare(_ options: CommonOptions, label: String, defaultOpsPort: Int) async throws
        -> ServiceEnvironment
    {
        _ = Self.concurrencyRunsOnEventLoops
        let (settings, store) = await Self.openStore(options, label: label, defaultOpsPort: defaultOpsPort)
        let logger = Logger(label: label)
        let tls: TLSMaterial
        let context: NIOSSLContext
        do {
            tls = try TLSMaterial.load(settings: settings, logger: logger)
            context = try tls.makeServerContext()
        } catch {
            Self.fail("\(label): \(error)", exitCode: 1)
        }
        return ServiceEnvironment(
            settings: settings, logger: logger, store: store, tls: tls, tlsContext: context,
            connectionLimiter: ConnectionLimiter(
                maximumTotal: settings.maximumConnections, maximumPerAddress: settings.maximumConnectionsPerAddress,
                maximumNewPerMinute: settings.maximumNewConnectionsPerMinute),
            passwordLogin: PasswordLogin(
                store: store,
                penalties: AuthenticationPenalties(
                    policy: .init(
                        baseDelay: settings.smtpAuthFailureDelay, maximumDelay: settings.authMaximumDelay,
                        lockoutFailures: settings.authLockoutFailures, window: settings.authLockoutWindow))))
    }

    /// Settings, logging and the store, without TLS or listeners: for commands such as
    /// `estafeta token create` that work on the database and exit.
    /// `quickCheck` overrides `database.quickCheck` (`estafeta check-db` runs the full check itself).
    public static func openStore(_ options: CommonOptions, label: String, defaultOpsPort: Int = 9090, quickCheck: Bool? = nil) async
        -> (EstafetaSettings, MailStore)
    {
        let settings: EstafetaSettings
        do {
            settings = try await SettingsLoader.load(
                configFile: options.config, arguments: options.settings, defaultOpsPort: defaultOpsPort)
        } catch {
            Self.fail("\(label): \(error)", exitCode: Self.configurationExitCode)
        }
        Observability.bootstrap(format: settings.logFormat, level: settings.logLevel)
        do {
            let store = try await Self.openStore(
                settings.databaseLocation, settings: settings, quickCheck: quickCheck, logger: Logger(label: "\(label).store"))
            return (settings, store)
        } catch {
            Self.fail("\(label): \(error)", exitCode: 1)
        }
    }

    /// The store at `location` (the password, timeouts and checks from `settings`). A PostgreSQL store
    /// stays open for the life of the process: its pool's connections end with it.
    public static func openStore(
        _ location: DatabaseLocation, settings: EstafetaSettings, quickCheck: Bool? = nil, logger: Logger
    ) async throws -> MailStore {
        switch location {
        case .sqlite(let path):
            return try MailStore.open(
                settings: MailStoreSettings(
                    path: path, busyTimeout: settings.databaseBusyTimeout, minimumFreeBytes: settings.databaseMinimumFreeBytes,
                    quickCheckAtOpen: quickCheck ?? settings.databaseQuickCheck),
                logger: logger)
        case .postgres(let postgres):
            return try await PostgresStore.open(settings: Self.postgresSettings(postgres, settings), logger: logger).mailStore()
        }
    }

    /// How to reach the PostgreSQL database `database.url` names, with the password from the settings.
    static func postgresSettings(_ location: DatabaseLocation.Postgres, _ settings: EstafetaSettings) -> PostgresStoreSettings {
        let tls: PostgresStoreSettings.TLS =
            switch location.tls {
            case .disable: .disable
            case .require: .require
            case .verifyFull: .verifyFull
            }
        return PostgresStoreSettings(
            host: location.host, port: location.port, user: location.user,
            password: settings.databasePassword.isEmpty ? nil : settings.databasePassword, database: location.database, tls: tls)
    }

    /// Runs the bundles, an ops listener (unless `includeOps` is false) and the ready-file writer in
    /// one ServiceGroup until SIGTERM/SIGINT.
    public static func run(_ bundles: [ServiceBundle], environment: ServiceEnvironment, includeOps: Bool = true)
        async throws
    {
        var services: [any Service] = bundles.flatMap(\.services)
        var listeners = bundles.flatMap(\.listeners)
        if includeOps {
            let store = environment.store
            let ops = OpsHTTPServer(
                listener: environment.settings.ops, serviceNames: bundles.map(\.name), logger: environment.logger,
                ready: { await store.isReady() })
            services.append(ops.application)
            listeners.append(AnnouncedListener(name: "ops") { try await ops.boundAddress })
        }
        services.append(ServiceProcessReporter(store: environment.store, services: bundles.map(\.name), logger: environment.logger))
        services.append(
            ReadinessAnnouncer(path: environment.settings.readyFile, listeners: listeners, logger: environment.logger))
        do {
            try await ServiceRunner.run(services, settings: environment.settings, logger: environment.logger)
        } catch {
            Self.fail("\(environment.logger.label): \(error)", exitCode: 1)
        }
        environment.logger.notice("stopped")
    }

    public static func fail(_ message: String, exitCode: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(exitCode)
    }
}

extension ServiceEnvironment {
    /// A listener with the protocol's own framing handlers; `idleTimeout` overrides the setting (POP3
    /// and IMAP have RFC minimums).
    public func protocolServer<Inbound: Sendable, Outbound: Sendable>(
        name: String, on address: EstafetaSettings.Listener, implicitTLS: Bool, idleTimeout: Duration? = nil,
        idleTimeoutReply: String,
        framing: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void, overLimitMessage: Outbound,
        session: @escaping @Sendable (ProtocolConnection<Inbound, Outbound>) async throws -> Void
    ) -> ProtocolServer<Inbound, Outbound> {
        ProtocolServer(
            ListenerDescription(
                name: name, host: address.host, port: address.port, tls: implicitTLS ? self.tlsContext : nil,
                idleTimeout: idleTimeout ?? self.settings.idleTimeout, idleTimeoutReply: idleTimeoutReply,
                tlsHandshakeTimeout: self.settings.tlsHandshakeTimeout),
            limiter: self.connectionLimiter, logger: self.logger, framing: framing, overLimitMessage: overLimitMessage,
            session: session)
    }
}
