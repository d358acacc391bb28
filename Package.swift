// swift-tools-version:6.1
import PackageDescription

// Swift 6 language mode is the default for tools 6.x; these upcoming features add the checks the
// model codebases use (Hummingbird's Package.swift does the same).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let nio: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")

let package = Package(
    name: "estafeta",
    // Linux is the target. macOS 15 is named only because Synchronization.Mutex needs it there.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "estafeta", targets: ["EstafetaMain"]),
        .executable(name: "estafeta-smtp", targets: ["SMTPIngressMain"]),
        .executable(name: "estafeta-relay", targets: ["RelayWorkerMain"]),
        .executable(name: "estafeta-pop3", targets: ["POP3GatewayMain"]),
        .executable(name: "estafeta-imap", targets: ["IMAPGatewayMain"]),
        .executable(name: "estafeta-admin", targets: ["AdminAPIMain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(
            url: "https://github.com/apple/swift-configuration.git", from: "1.4.0",
            traits: ["JSON", "CommandLineArguments"]),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // HTTPS fetches of MTA-STS policies (RFC 8461 §3.3).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Raw DEFLATE streams over zlib for IMAP COMPRESS=DEFLATE (RFC 4978).
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // MARK: Shared modules

        // RFC 5322 / MIME / address values. Pure: no NIO, no I/O.
        .target(name: "MailFormat", path: "Shared/MailFormat", swiftSettings: strict),

        // SMTP codec: commands, replies, DATA framing. Pure: NIOCore only, no sockets, no store.
        .target(
            name: "SMTPProtocol", dependencies: ["MailFormat", nio], path: "Shared/SMTPProtocol",
            swiftSettings: strict),
        // POP3 commands and responses (RFC 1939, 2449, 2595, 5034), pure.
        .target(name: "POP3Protocol", dependencies: ["MailFormat"], path: "Shared/POP3Protocol", swiftSettings: strict),
        // IMAP command framing (literals), parsing and mailbox-name encoding (RFC 9051, 3501, 7888), pure.
        .target(name: "IMAPProtocol", dependencies: ["MailFormat", nio], path: "Shared/IMAPProtocol", swiftSettings: strict),

        // Other servers' mailbox files, pure: Dovecot's Maildir (uidlist, keywords, file names, subscriptions)
        // and mbox, read and written for import and export.
        .target(name: "MailboxFormats", path: "Shared/MailboxFormats", swiftSettings: strict),

        // Imports from other servers' mailboxes (Dovecot Maildir and users, mbox) keeping their numbering, and exports back.
        .target(
            name: "MailMigration", dependencies: ["MailStore", "MailboxFormats", "MailFormat", "IMAPProtocol", "Credentials"],
            path: "Shared/MailMigration", swiftSettings: strict),

        // DNS look-ups through libunbound (MX, addresses, TXT, PTR), each bounded in time.
        .target(
            name: "MailDNS",
            dependencies: ["CUnbound", .product(name: "NIOPosix", package: "swift-nio")],
            path: "Shared/MailDNS", swiftSettings: strict),

        // Mail authentication: DKIM signing and verification (RFC 6376, 8463), pure: bytes and keys in,
        // fields and results out; DNS answers come from the caller.
        .target(
            name: "MailAuth",
            dependencies: [
                "MailFormat", "MailDNS",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Shared/MailAuth", exclude: ["Data"], swiftSettings: strict),

        // libxcrypt's crypt(3), for Dovecot-compatible password hashes.
        .systemLibrary(name: "CXCrypt", path: "Shared/CXCrypt"),
        .systemLibrary(name: "CUnbound", path: "Shared/CUnbound"),
        .target(
            name: "Credentials",
            dependencies: ["CXCrypt", .product(name: "Crypto", package: "swift-crypto")],
            path: "Shared/Credentials", swiftSettings: strict),

        // The only module that imports GRDB: all SQL lives here.
        .target(
            name: "MailStore",
            dependencies: [
                "MailFormat", "Credentials",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/MailStore", swiftSettings: strict),

        // The store on PostgreSQL (several hosts on one database): the only module that imports PostgresNIO.
        .target(
            name: "PostgresStore",
            dependencies: [
                "MailStore", "MailFormat", "Credentials", nio,
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/PostgresStore", swiftSettings: strict),

        // Listeners, TLS, settings, logging/metrics bootstrap and the ops HTTP endpoint.
        .target(
            name: "ServerSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Shared/ServerSupport", swiftSettings: strict),

        // What every executable does before its services run: parse the common flags, read settings,
        // bootstrap logging and metrics, open the store, load TLS material.
        .target(
            name: "ServiceHost",
            dependencies: [
                "ServerSupport", "MailStore", "PostgresStore", "MailFormat", "MailAuth", "MailDNS", "Credentials", nio,
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Shared/ServiceHost", swiftSettings: strict),

        // MARK: Service libraries (one per executable; `estafeta serve` links all five)

        .target(
            name: "SMTPIngress",
            dependencies: [
                "SMTPProtocol", "MailFormat", "MailAuth", "MailDNS", "MailStore", "ServerSupport", "ServiceHost", "Credentials", nio,
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/estafeta-smtp/SMTPIngress", swiftSettings: strict),
        .target(
            name: "RelayWorker",
            dependencies: [
                "MailStore", "ServerSupport", "ServiceHost", "MailFormat", "MailAuth", "MailDNS", "SMTPProtocol", nio,
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/estafeta-relay/RelayWorker", swiftSettings: strict),
        .target(
            name: "POP3Gateway",
            dependencies: [
                "POP3Protocol", "MailStore", "MailFormat", "ServerSupport", "ServiceHost", "Credentials", nio,
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/estafeta-pop3/POP3Gateway", swiftSettings: strict),
        .target(
            name: "IMAPGateway",
            dependencies: [
                "IMAPProtocol", "MailStore", "MailFormat", "ServerSupport", "ServiceHost", "Credentials", nio,
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/estafeta-imap/IMAPGateway", swiftSettings: strict),
        .target(
            name: "AdminAPI",
            dependencies: [
                "MailStore", "MailFormat", "MailAuth", "MailDNS", "ServerSupport", "ServiceHost", "Credentials",
                "MailMigration", "MailboxFormats", nio,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Services/estafeta-admin/AdminAPI",
            // The OpenAPI document is compiled into the binary: a copied resource bundle would have to sit beside
            // each installed executable, and Bundle.module stops the process when it does not.
            // So is the web console (`Console/`): plain HTML, CSS and JavaScript modules, no build step.
            resources: [.embedInCode("openapi.json")]
                + ["index.html", "console.css", "icon.svg", "app.js", "api.js", "dom.js", "overview.js", "domains.js", "accounts.js",
                   "aliases.js", "queue.js", "audit.js"].map { .embedInCode("Console/\($0)") },
            swiftSettings: strict),

        // MARK: Executables (thin: settings, store, ServiceGroup)

        .executableTarget(
            name: "EstafetaMain",
            dependencies: [
                "SMTPIngress", "RelayWorker", "POP3Gateway", "IMAPGateway", "AdminAPI", "ServerSupport",
                "ServiceHost", "MailStore", "Credentials", "MailMigration", "MailFormat",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/estafeta/Main", swiftSettings: strict),
        .executableTarget(
            name: "SMTPIngressMain",
            dependencies: [
                "SMTPIngress", "ServiceHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/estafeta-smtp/Main", swiftSettings: strict),
        .executableTarget(
            name: "RelayWorkerMain",
            dependencies: [
                "RelayWorker", "ServiceHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/estafeta-relay/Main", swiftSettings: strict),
        .executableTarget(
            name: "POP3GatewayMain",
            dependencies: [
                "POP3Gateway", "ServiceHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/estafeta-pop3/Main", swiftSettings: strict),
        .executableTarget(
            name: "IMAPGatewayMain",
            dependencies: [
                "IMAPGateway", "ServiceHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/estafeta-imap/Main", swiftSettings: strict),
        .executableTarget(
            name: "AdminAPIMain",
            dependencies: [
                "AdminAPI", "ServiceHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/estafeta-admin/Main", swiftSettings: strict),

        // MARK: Tests

        // A second OS process for the store tests: concurrent writers, racing migrations, kill -9.
        .executableTarget(
            name: "StoreTorture", dependencies: ["MailStore", "PostgresStore", "MailFormat"], path: "Tests/StoreTorture",
            swiftSettings: strict),
        // Fuzzing: the harnesses (every parser that reads what a peer sends), `estafeta-fuzz` (a libFuzzer
        // binary when built by Tests/Fuzz/run.sh, a corpus replayer otherwise) and the corpus replay test.
        .target(
            name: "FuzzHarnesses",
            dependencies: ["SMTPProtocol", "IMAPProtocol", "POP3Protocol", "MailFormat", "MailAuth", "MailboxFormats", "Credentials", nio],
            path: "Tests/Fuzz/Harnesses", swiftSettings: strict),
        .executableTarget(name: "estafeta-fuzz", dependencies: ["FuzzHarnesses"], path: "Tests/Fuzz/Main", swiftSettings: strict),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzHarnesses"], path: "Tests/Fuzz/CorpusTests", swiftSettings: strict),
        // Helpers shared by the test targets: child processes, built-product paths, temporary stores.
        .target(
            name: "TestSupport",
            dependencies: ["MailStore", "PostgresStore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "MailFormatTests", dependencies: ["MailFormat"], swiftSettings: strict),
        .testTarget(name: "MailboxFormatsTests", dependencies: ["MailboxFormats", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "MailMigrationTests", dependencies: ["MailMigration", "MailStore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "MailAuthTests",
            dependencies: ["MailAuth", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")],
            swiftSettings: strict),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: [
                "PostgresStore", "MailStore", "MailFormat", "Credentials", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SMTPProtocolTests", dependencies: ["SMTPProtocol", "MailFormat", nio], swiftSettings: strict),
        .testTarget(name: "POP3ProtocolTests", dependencies: ["POP3Protocol", "MailFormat"], swiftSettings: strict),
        .testTarget(name: "IMAPProtocolTests", dependencies: ["IMAPProtocol", "MailFormat", nio], swiftSettings: strict),
        .testTarget(name: "CredentialsTests", dependencies: ["Credentials"], swiftSettings: strict),
        .testTarget(
            name: "MailStoreTests", dependencies: ["MailStore", "MailFormat", "Credentials", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ServerSupportTests",
            dependencies: [
                "ServerSupport",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "AdminAPITests",
            dependencies: [
                "AdminAPI", "MailStore", "MailFormat", "Credentials", "ServerSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // Spawns the built executables and talks to them with clients nobody here wrote (Python's
        // smtplib, poplib, imaplib, urllib).
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TestSupport", "MailStore", "MailFormat", "Credentials", "PostgresStore", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "RelayWorkerTests",
            dependencies: [
                "RelayWorker", "ServiceHost", "MailStore", "MailFormat", "Credentials", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
    ]
)
