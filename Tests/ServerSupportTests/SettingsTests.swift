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
}
