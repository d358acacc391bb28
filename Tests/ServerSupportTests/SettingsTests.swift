import Configuration
import ServerSupport
import Synchronization
import Testing

@Suite("Settings")
struct SettingsTests {
    @Test("defaults run unprivileged on a laptop")
    func defaults() async throws {
        let settings = try await SettingsLoader.load(configFile: nil, arguments: [], environment: [:], defaultOpsPort: 9090)
        #expect(settings.smtp.port == 2525 && settings.submission.port == 2587 && settings.submissions.port == 2465)
        #expect(settings.pop3.port == 1110 && settings.pop3s.port == 1995)
        #expect(settings.imap.port == 1143 && settings.imaps.port == 1993)
        #expect(settings.admin.port == 8080 && settings.admin.host == "127.0.0.1")
        #expect(settings.databasePath == "./data/estafeta.sqlite")
        #expect(settings.tlsCertificatePath.isEmpty && settings.tlsSelfSignedDirectory == "./data/tls")
        #expect(settings.logFormat == .text && settings.listing.contains("log.level = info"))
        #expect(settings.ops.port == 9090)
    }

    /// Every key the configuration is asked for, as the reader reports it.
    final class KeyCollector: AccessReporter, Sendable {
        let keys = Mutex<Set<String>>([])
        func report(_ event: AccessEvent) {
            let key = event.metadata.key.components.joined(separator: ".")
            self.keys.withLock { _ = $0.insert(key) }
        }
    }

    @Test("the settings read are exactly the known keys, and the listing shows each of them once")
    func oneListOfKeys() throws {
        let collector = KeyCollector()
        let settings = try EstafetaSettings.load(
            from: ConfigReader(provider: InMemoryProvider(values: [:]), accessReporter: collector),
            problems: SettingsProblemRecorder(), defaultOpsPort: 9090)
        #expect(collector.keys.withLock { $0 } == EstafetaSettings.knownKeys)
        let listed = settings.listing.map { String($0.split(separator: " ", maxSplits: 1)[0]) }
        #expect(listed.count == EstafetaSettings.knownKeys.count && Set(listed) == EstafetaSettings.knownKeys)
    }

    @Test("ESTAFETA_ environment variables, and flags above them")
    func environmentAndFlags() async throws {
        let settings = try await SettingsLoader.load(
            configFile: nil, arguments: ["--smtp-port", "4025", "--database-busy-timeout-ms=2500"],
            environment: [
                "ESTAFETA_SMTP_PORT": "3025", "ESTAFETA_IMAP_HOST": "127.0.0.2", "ESTAFETA_LOG_FORMAT": "json",
                "ESTAFETA_LIMITS_MAX_LINE_LENGTH": "1000", "SMTP_PORT": "9999",
            ],
            defaultOpsPort: 9091)
        #expect(settings.smtp.port == 4025)
        #expect(settings.imap.host == "127.0.0.2")
        #expect(settings.logFormat == .json)
        #expect(settings.maximumLineLength == 1000)
        #expect(settings.databaseBusyTimeout == .milliseconds(2500))
        #expect(settings.ops.port == 9091)
    }

    @Test("a word that is neither a flag nor a flag's value is refused, not dropped")
    func strayWords() async throws {
        for arguments in [["imap"], ["--smtp-port", "25", "26"], ["--smtp-port=25", "26"], ["--smtp-port", "25", "x", "--imap-port", "143"]] {
            do {
                _ = try await SettingsLoader.load(configFile: nil, arguments: arguments, environment: [:], defaultOpsPort: 9090)
                Issue.record("expected a SettingsError for \(arguments)")
            } catch {
                #expect(error.problems.count == 1 && error.problems.first?.message.contains("is not a setting") == true, "\(error)")
            }
        }
        let settings = try await SettingsLoader.load(
            configFile: nil, arguments: ["--smtp-port", "25", "--imap-port=143", "--pop3-port", "110"], environment: [:],
            defaultOpsPort: 9090)
        #expect(settings.smtp.port == 25 && settings.imap.port == 143 && settings.pop3.port == 110)
    }

    @Test("every problem is reported at once, each naming its key")
    func problems() async throws {
        do {
            _ = try await SettingsLoader.load(
                configFile: nil, arguments: [],
                environment: [
                    "ESTAFETA_SMTP_PORT": "-1", "ESTAFETA_LOG_LEVEL": "loud", "ESTAFETA_LIMITS_MAX_CONNECTIONS": "0",
                    "ESTAFETA_TLS_CERTIFICATE": "/etc/cert.pem",
                ],
                defaultOpsPort: 9090)
            Issue.record("expected a SettingsError")
        } catch {
            #expect(
                Set(error.problems.map(\.key)) == ["smtp.port", "log.level", "limits.maxConnections", "tls.key"],
                "\(error)")
        }
    }

    @Test("accounts.mailboxes: Name or Name=use with a real folder's special use, each name once, INBOX not among them")
    func accountMailboxes() async throws {
        let settings = try await SettingsLoader.load(
            configFile: nil, arguments: ["--accounts-mailboxes", "Brouillons=drafts, Envoyés = Sent ,Notes"], environment: [:],
            defaultOpsPort: 9090)
        #expect(
            settings.accountMailboxes == [
                .init(name: "Brouillons", specialUse: "drafts"), .init(name: "Envoyés", specialUse: "sent"), .init(name: "Notes"),
            ])
        #expect(settings.listing.contains("accounts.mailboxes = Brouillons=drafts,Envoyés=sent,Notes"))
        let standard = try await SettingsLoader.load(configFile: nil, arguments: [], environment: [:], defaultOpsPort: 9090)
        #expect(standard.accountMailboxes.map(\.specialUse) == ["drafts", "sent", "trash", "junk", "archive"])
        for wrong in ["Junk=flagged", "INBOX", "Old/Sent=sent", "Sent=sent,sent", "=drafts", "A=b=c"] {
            do {
                _ = try await SettingsLoader.load(
                    configFile: nil, arguments: ["--accounts-mailboxes", wrong], environment: [:], defaultOpsPort: 9090)
                Issue.record("\(wrong) was accepted")
            } catch {
                #expect(error.problems.map(\.key) == ["accounts.mailboxes"], "\(wrong): \(error)")
            }
        }
    }

    @Test("database.url: an SQLite file or a PostgreSQL database, read as libpq reads its URLs; what is wrong is said")
    func databaseURL() throws {
        #expect(try DatabaseLocation(url: "sqlite:///var/lib/estafeta/mail.sqlite") == .sqlite(path: "/var/lib/estafeta/mail.sqlite"))
        #expect(try DatabaseLocation(url: "sqlite://./data/estafeta.sqlite") == .sqlite(path: "./data/estafeta.sqlite"))
        let remote = try DatabaseLocation(url: "postgres://estafeta@db.example.net:6432/mail?sslmode=require")
        #expect(remote == .postgres(.init(user: "estafeta", host: "db.example.net", port: 6432, database: "mail", tls: .require)))
        let socket = try DatabaseLocation(url: "postgresql://mail%40host@%2Fvar%2Frun%2Fpostgresql/estafeta")
        #expect(socket == .postgres(.init(user: "mail@host", host: "/var/run/postgresql", port: 5432, database: "estafeta", tls: .disable)))
        // TLS with the certificate checked unless the URL says otherwise.
        #expect(try DatabaseLocation(url: "postgres://u@db/mail") == .postgres(.init(user: "u", host: "db", port: 5432, database: "mail", tls: .verifyFull)))
        for location in [remote, socket, .sqlite(path: "/srv/mail db.sqlite")] {
            #expect(try DatabaseLocation(url: location.description) == location, "\(location)")
        }
        let refused = [
            "postgres://u:secret@db/mail": "password does not go in the URL", "mysql://u@db/mail": "not mysql:",
            "postgres://db/mail": "name the database user", "postgres://u@db": "name one database", "postgres://u@db/a/b": "name one database",
            "postgres://u@db/mail?sslmode=prefer": "sslmode must be one of", "postgres://u@db/mail?ssl=1": "unknown parameter ssl",
            "sqlite://": "names its file", "/var/lib/x.sqlite": "must be sqlite:///path",
        ]
        for (url, message) in refused {
            do {
                _ = try DatabaseLocation(url: url)
                Issue.record("\(url) was taken")
            } catch {
                #expect(error.message.contains(message), "\(url): \(error.message)")
            }
        }
    }

    @Test("database.url and database.path name one database; a PostgreSQL URL with its password from the environment; the password is never listed")
    func databaseSettings() async throws {
        let chosen = try await SettingsLoader.load(
            configFile: nil, arguments: ["--database-url", "sqlite:///srv/estafeta/mail.sqlite"], environment: [:], defaultOpsPort: 9090)
        #expect(chosen.databasePath == "/srv/estafeta/mail.sqlite" && chosen.listing.contains("database.url = sqlite:///srv/estafeta/mail.sqlite"))
        let both = try await SettingsLoader.load(
            configFile: nil, arguments: ["--database-url", "sqlite://x.sqlite", "--database-path", "x.sqlite"], environment: [:],
            defaultOpsPort: 9090)
        #expect(both.databasePath == "x.sqlite")
        let cases: [([String], [String: String], String)] = [
            (["--database-url", "sqlite://a.sqlite", "--database-path", "b.sqlite"], [:], "names another database than database.path"),
            (["--database-password-file", "/nonexistent/password"], [:], "cannot be read"),
        ]
        for (arguments, environment, message) in cases {
            do {
                _ = try await SettingsLoader.load(configFile: nil, arguments: arguments, environment: environment, defaultOpsPort: 9090)
                Issue.record("expected a SettingsError for \(arguments)")
            } catch {
                #expect(error.problems.contains { $0.message.contains(message) }, "\(error)")
                #expect(!"\(error)".contains("hunter2"))
            }
        }
        let postgres = try await SettingsLoader.load(
            configFile: nil, arguments: ["--database-url", "postgres://estafeta@db:6432/mail?sslmode=require"],
            environment: ["ESTAFETA_DATABASE_PASSWORD": "hunter2"], defaultOpsPort: 9090)
        #expect(
            postgres.databaseLocation
                == .postgres(.init(user: "estafeta", host: "db", port: 6432, database: "mail", tls: .require)))
        #expect(postgres.databasePassword == "hunter2" && !postgres.listing.joined().contains("hunter2"))
        let secret = try await SettingsLoader.load(
            configFile: nil, arguments: [], environment: ["ESTAFETA_DATABASE_PASSWORD": "hunter2"], defaultOpsPort: 9090)
        #expect(secret.databasePassword == "hunter2" && secret.listing.contains("database.password = (set, not shown)"))
        #expect(!secret.listing.joined().contains("hunter2"))
    }
}
