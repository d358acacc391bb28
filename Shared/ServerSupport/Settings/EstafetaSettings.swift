import Configuration
import Foundation
import Logging

/// Every setting of the suite, read once at start from (highest priority first) command-line flags,
/// `ESTAFETA_…` environment variables, the JSON config file, and the defaults written here.
///
/// Keys are dotted and camelCased in the file (`smtp.port`, `database.busyTimeoutMs`); the environment
/// spells them `ESTAFETA_SMTP_PORT`, `ESTAFETA_DATABASE_BUSY_TIMEOUT_MS`; flags `--smtp-port`,
/// `--database-busy-timeout-ms`. The defaults run unprivileged on a laptop.
public struct EstafetaSettings: Sendable, Equatable {
    public struct Listener: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public enum LogFormat: String, Sendable, CaseIterable { case text, json }

    /// A mailbox every new account gets beside INBOX (`accounts.mailboxes`, each `Name` or `Name=use`).
    public struct NewAccountMailbox: Sendable, Equatable {
        /// The special uses a mailbox can hold (RFC 6154), as written after `=`: the attribute's name,
        /// lower-case and without the backslash. `\All` and `\Flagged` would be views of other
        /// mailboxes, which the store has not.
        public static let specialUses = ["drafts", "sent", "trash", "junk", "archive"]

        public var name: String
        public var specialUse: String?

        public init(name: String, specialUse: String? = nil) {
            self.name = name
            self.specialUse = specialUse
        }

        /// `Name` or `Name=use`; nil, with the reason in `problems`, when it is not one.
        static func parse(_ text: String, problems: inout [SettingsProblem]) -> NewAccountMailbox? {
            let parts = text.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            let use = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces).lowercased() : nil
            func problem(_ message: String) -> NewAccountMailbox? {
                problems.append(SettingsProblem(key: "accounts.mailboxes", message: "\(text): \(message)"))
                return nil
            }
            if parts.count > 2 { return problem("write Name or Name=use") }
            if name.isEmpty || name.contains("/") || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                return problem("a mailbox name must be a top-level name (no /, no control characters)")
            }
            if name.uppercased() == "INBOX" { return problem("INBOX is every account's already") }
            if let use, !Self.specialUses.contains(use) {
                return problem("the special use must be one of \(Self.specialUses.joined(separator: ", "))")
            }
            return NewAccountMailbox(name: name, specialUse: use)
        }

        var description: String { self.specialUse.map { "\(self.name)=\($0)" } ?? self.name }
    }

    /// The default `accounts.mailboxes`: RFC 6154's set of real folders.
    public static let defaultNewAccountMailboxes = ["Drafts=drafts", "Sent=sent", "Trash=trash", "Junk=junk", "Archive=archive"]

    /// The name this server gives itself in greetings, EHLO and Received: headers.
    public var hostname: String
    /// The store (`database.url`, or `database.path` for an SQLite file).
    public var databaseLocation: DatabaseLocation
    /// The SQLite file: what `databaseLocation` names (the default file's path for another backend,
    /// where it only places what defaults to sitting next to it).
    public var databasePath: String
    /// The database password, from `database.password` or the file `database.passwordFile` (PostgreSQL).
    public var databasePassword: String
    public var databasePasswordFile: String
    public var databaseBusyTimeout: Duration
    /// Below this much free space on the database's filesystem new mail is refused (temporarily) and
    /// `/readyz` says not ready; 0 turns the check off.
    public var databaseMinimumFreeBytes: Int64
    /// `PRAGMA quick_check` at start: a damaged database is refused with a clear message.
    public var databaseQuickCheck: Bool

    public var smtp: Listener
    public var submission: Listener
    public var submissions: Listener
    public var pop3: Listener
    public var pop3s: Listener
    public var imap: Listener
    public var imaps: Listener
    public var admin: Listener
    /// `/healthz` and `/metrics` of a protocol executable (the admin service serves them on its own port).
    public var ops: Listener

    /// PEM files; when both are empty a self-signed certificate is made on first start and reused.
    public var tlsCertificatePath: String
    public var tlsKeyPath: String
    public var tlsSelfSignedDirectory: String

    public var logFormat: LogFormat
    public var logLevel: Logger.Level

    public var maximumLineLength: Int
    public var idleTimeout: Duration
    public var maximumConnections: Int
    public var maximumConnectionsPerAddress: Int
    /// New connections per client network (IPv4 address, IPv6 /64) and minute; 0: no limit.
    public var maximumNewConnectionsPerMinute: Int
    /// Time an implicit-TLS client has to complete its handshake.
    public var tlsHandshakeTimeout: Duration
    /// Command lines (and IMAP literals) must arrive at this average rate (octets/s) once `idleTimeout`
    /// has passed since the command began (`smtpMinimumDataRate` for SMTP content).
    public var minimumDataRate: Int
    /// How long SIGTERM waits for sessions before cancelling them.
    public var shutdownGracePeriod: Duration
    /// The largest message SMTP accepts (advertised as SIZE, RFC 1870).
    public var smtpMaximumMessageBytes: Int
    /// The largest header section (through its empty line) SMTP accepts: it is what the server keeps
    /// in memory to check a message while the rest streams to the store.
    public var smtpMaximumHeaderBytes: Int
    /// Recipients per message (RFC 5321 §4.5.3.1.8: at least 100).
    public var smtpMaximumRecipients: Int
    /// Failed commands before the session is cut off.
    public var smtpMaximumErrors: Int
    /// AUTH without TLS on submission (off: RFC 8314 wants TLS for passwords).
    public var smtpAllowPlaintextAuth: Bool
    /// Failed AUTH exchanges on one connection before it is closed with 421.
    public var smtpMaximumAuthFailures: Int
    /// POP3: USER/PASS and AUTH PLAIN before TLS only when allowed; failed logins per connection
    /// before it is closed; how long a session's maildrop lock lasts without renewal.
    public var pop3AllowPlaintextAuth: Bool
    public var pop3MaximumAuthFailures: Int
    public var pop3MaximumErrors: Int
    public var pop3LockDuration: Duration
    /// POP3's autologout timer (RFC 1939 §3: at least 10 minutes), apart from `idleTimeout`.
    public var pop3IdleTimeout: Duration
    /// IMAP: LOGIN and AUTHENTICATE before TLS only when allowed (`[PRIVACYREQUIRED]` otherwise, RFC
    /// 9051 §6.2.3); failed logins per connection before it is closed; the largest APPEND literal
    /// (advertised as APPENDLIMIT, RFC 7889).
    public var imapAllowPlaintextAuth: Bool
    public var imapMaximumAuthFailures: Int
    public var imapAppendLimit: Int
    /// Messages stored larger than this are answered a piece at a time by FETCH (held whole below it,
    /// which is quicker for the many small messages); 0 streams every message.
    public var imapStreamedMessageBytes: Int
    /// IMAP connections one user may have logged in at once, per process.
    public var imapMaximumConnectionsPerUser: Int
    /// IMAP's autologout timer (RFC 9051 §5.4: at least 30 minutes), apart from `idleTimeout`.
    public var imapIdleTimeout: Duration
    /// How often a session in IDLE says `* OK Still here`, so that NAT gateways and firewalls that drop
    /// quiet connections keep an idling client's.
    public var imapIdleKeepalive: Duration
    /// Wait after the first failed AUTH from a network; it doubles with each further failure.
    public var smtpAuthFailureDelay: Duration
    /// Failed logins from one network (IPv4 address, IPv6 /64) within `authLockoutWindow` before it
    /// is refused, and the cap on the growing per-failure delay.
    public var authLockoutFailures: Int
    public var authLockoutWindow: Duration
    public var authMaximumDelay: Duration
    /// DATA/BDAT content must arrive at this average rate (octets/s) once `idleTimeout` has passed,
    /// or the session is closed (Postfix's smtpd_min_data_rate).
    public var smtpMinimumDataRate: Int
    /// Wait this long before the 220 greeting on the MX listener and refuse clients that talk first
    /// (postscreen's pregreet test); 0 greets at once.
    public var smtpGreetingDelay: Duration
    /// MX: check the DKIM signatures (and SPF, DMARC) of arriving mail and add Authentication-Results.
    public var smtpVerifyInbound: Bool
    /// Refuse mail whose MAIL FROM domain's SPF record says `fail` (RFC 7208 §8.4), whatever DMARC says.
    public var spfRejectFail: Bool
    /// Local domains whose users get mail that DMARC says to reject in their Junk mailbox instead.
    public var dmarcQuarantineInsteadOfReject: [String]
    /// How long a DKIM signature made here is valid (`x=`, RFC 6376 §3.5); nil: no expiry.
    public var dkimSignatureLifetime: Duration?
    /// The delivery worker: how often an idle worker looks at the queue, how many recipients it leases
    /// at once and for how long, and how many it delivers at the same time.
    public var relayPollInterval: Duration
    public var relayBatchSize: Int
    public var relayLeaseDuration: Duration
    public var relayConcurrency: Int
    /// Local deliveries at once (database work only; they share commits).
    public var relayLocalConcurrency: Int
    /// Retry schedule: the first retry after `relayRetryInitial`, doubling (with jitter) up to
    /// `relayRetryMaximum`; a recipient still undelivered `relayQueueLifetime` after arrival bounces.
    public var relayRetryInitial: Duration
    public var relayRetryMaximum: Duration
    public var relayQueueLifetime: Duration
    /// A "delayed" DSN to the sender once a message has waited this long (RFC 3464); nil: never.
    public var relayDelayWarning: Duration?
    /// Relay routing: `domain=host:port` overrides, a smarthost for everything else, the DNS server
    /// (`host:port`; empty: /etc/resolv.conf) and the port of MX hosts.
    public var relayRoutes: [String]
    public var relaySmarthost: String
    /// A login at the smarthost (AUTH PLAIN or LOGIN, only over TLS); empty user: no login.
    public var relaySmarthostUser: String
    public var relaySmarthostPassword: String
    public var relayDNSServer: String
    public var relayMXPort: Int
    public var relayConnectTimeout: Duration
    public var relayCommandTimeout: Duration
    /// Refuse to relay in plaintext (otherwise STARTTLS is opportunistic, RFC 7435).
    public var relayRequireTLS: Bool
    /// Apply destination domains' MTA-STS policies (RFC 8461) to delivery through their MX hosts; the
    /// policy host's HTTPS port (443; tests point it at loopback); and a PEM file of trust roots added
    /// to the system's for verifying MX and policy hosts' certificates.
    public var relayMTASTS: Bool
    public var relayMTASTSPort: Int
    public var relayTrustedCAFile: String
    /// DNSSEC trust anchors for the relay's look-ups (such as /usr/share/dns/root.key); set, answers are
    /// validated and MX hosts' TLSA records (DANE, RFC 7672) apply. Empty: no validation, no DANE.
    public var relayDNSSECTrustAnchorFile: String
    /// SMTP TLS reports (RFC 8460) to destination domains with an MTA-STS or DANE policy that ask for
    /// them, each covering one period of this length (a UTC day by default).
    public var relayTLSReports: Bool
    public var relayTLSReportPeriod: Duration
    public var relayConcurrencyPerDomain: Int
    /// How long finished queue entries (every recipient delivered or bounced), the mailbox change feed
    /// and the audit log are kept, and how often the relay workers purge what is older.
    public var retentionFinishedQueueEntries: Duration
    public var retentionChangeFeed: Duration
    public var retentionAuditLog: Duration
    public var maintenanceInterval: Duration
    /// The mailboxes besides INBOX that each account created from now on gets.
    public var accountMailboxes: [NewAccountMailbox]
    /// `ESTAFETA_ADMIN_TOKEN`: stored (hashed) as a write token on a first start with no tokens.
    public var adminBootstrapToken: String?
    /// The shortest password the admin API accepts for an account.
    public var adminMinimumPasswordLength: Int
    /// The largest request body the admin API reads.
    public var adminMaximumBodyBytes: Int
    /// Idle HTTP keep-alive connections of the admin API are closed after this long.
    public var adminIdleTimeout: Duration
    /// Failed authentications per client address and minute before the admin API answers 429.
    public var adminMaximumAuthFailures: Int
    /// Host header values the admin API answers to (DNS-rebinding defence). Empty: loopback names
    /// when the admin listener is bound to loopback, anything otherwise.
    public var adminAllowedHosts: [String]
    /// When set, the process writes the bound addresses of its listeners here as JSON once it is ready.
    public var readyFile: String?

    /// Every key the suite reads: the config file's unknown-key check and the flag names come from
    /// `table`, which also gives the listing; a test holds `load` to the same keys.
    public static let knownKeys: Set<String> = Set(Self.table.map(\.key))

    /// Reads and validates every setting. `defaultOpsPort` differs per executable so that all of them
    /// can run side by side on one host with their defaults.
    public static func load(
        from reader: ConfigReader, problems recorder: SettingsProblemRecorder, defaultOpsPort: Int
    ) throws(SettingsError) -> EstafetaSettings {
        var problems: [SettingsProblem] = []
        func port(_ key: String, _ fallback: Int) -> Int {
            let value = reader.int(forKey: ConfigKey(key), default: fallback)
            if !(0...65_535).contains(value) {
                problems.append(SettingsProblem(key: key, message: "must be a port number from 0 to 65535, got \(value)"))
            }
            return value
        }
        func positive(_ key: String, _ fallback: Int) -> Int {
            let value = reader.int(forKey: ConfigKey(key), default: fallback)
            if value <= 0 { problems.append(SettingsProblem(key: key, message: "must be greater than 0, got \(value)")) }
            return value
        }
        func nonNegative(_ key: String, _ fallback: Int) -> Int {
            let value = reader.int(forKey: ConfigKey(key), default: fallback)
            if value < 0 { problems.append(SettingsProblem(key: key, message: "must be 0 or more, got \(value)")) }
            return value
        }
        func listener(_ name: String, host: String, port defaultPort: Int) -> Listener {
            Listener(host: reader.string(forKey: ConfigKey("\(name).host"), default: host), port: port("\(name).port", defaultPort))
        }
        let publicHost = "0.0.0.0"
        let loopback = "127.0.0.1"

        let hostname = reader.string(forKey: "hostname", default: Self.systemHostname())
        let delayWarningSeconds = nonNegative("relay.delayWarningSeconds", 14_400)
        let pathSetting = reader.string(forKey: "database.path")
        if pathSetting?.isEmpty == true { problems.append(SettingsProblem(key: "database.path", message: "must not be empty")) }
        var databaseLocation = DatabaseLocation.sqlite(path: pathSetting ?? Self.defaultDatabasePath)
        if let url = reader.string(forKey: "database.url") {
            do {
                let named = try DatabaseLocation(url: url)
                if let pathSetting, named != .sqlite(path: pathSetting) {
                    problems.append(
                        SettingsProblem(key: "database.url", message: "names another database than database.path; set only one of them"))
                }
                databaseLocation = named
            } catch {
                problems.append(SettingsProblem(key: "database.url", message: error.message))
            }
        }
        let databasePath = databaseLocation.sqlitePath ?? Self.defaultDatabasePath
        let passwordFile = reader.string(forKey: "database.passwordFile") ?? ""
        var databasePassword = reader.string(forKey: "database.password", isSecret: true) ?? ""
        if !passwordFile.isEmpty {
            if !databasePassword.isEmpty {
                problems.append(SettingsProblem(key: "database.passwordFile", message: "set database.password or database.passwordFile, not both"))
            }
            do {
                // The file's first line: an editor's final line end is not part of the password.
                let text = try String(contentsOfFile: passwordFile, encoding: .utf8)
                databasePassword = String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            } catch {
                problems.append(SettingsProblem(key: "database.passwordFile", message: "cannot be read: \(error.localizedDescription)"))
            }
        }
        let busyTimeoutMs = positive("database.busyTimeoutMs", 10_000)

        let logFormatText = reader.string(forKey: "log.format", default: LogFormat.text.rawValue)
        let logFormat = LogFormat(rawValue: logFormatText.lowercased())
        if logFormat == nil {
            problems.append(SettingsProblem(key: "log.format", message: "must be text or json, got \(logFormatText)"))
        }
        let logLevelText = reader.string(forKey: "log.level", default: Logger.Level.info.rawValue)
        let logLevel = Logger.Level(rawValue: logLevelText.lowercased())
        if logLevel == nil {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            problems.append(SettingsProblem(key: "log.level", message: "must be one of \(levels), got \(logLevelText)"))
        }
        let certificate = reader.string(forKey: "tls.certificate", default: "")
        let key = reader.string(forKey: "tls.key", default: "")
        if certificate.isEmpty != key.isEmpty {
            problems.append(
                SettingsProblem(
                    key: certificate.isEmpty ? "tls.certificate" : "tls.key",
                    message: "tls.certificate and tls.key must be set together"))
        }
        var accountMailboxes: [NewAccountMailbox] = []
        for text in reader.stringArray(forKey: "accounts.mailboxes", default: Self.defaultNewAccountMailboxes) {
            guard let mailbox = NewAccountMailbox.parse(text, problems: &problems) else { continue }
            if accountMailboxes.contains(where: { $0.name.lowercased() == mailbox.name.lowercased() }) {
                problems.append(SettingsProblem(key: "accounts.mailboxes", message: "\(mailbox.name) is named twice"))
            }
            accountMailboxes.append(mailbox)
        }
        let readyFile = reader.string(forKey: "readyFile")
        let adminToken = reader.string(forKey: "admin.token", isSecret: true)
        if let adminToken, !adminToken.isEmpty, adminToken.utf8.count < 32 {
            problems.append(SettingsProblem(key: "admin.token", message: "must be at least 32 characters long"))
        }

        let settings = EstafetaSettings(
            hostname: hostname,
            databaseLocation: databaseLocation,
            databasePath: databasePath,
            databasePassword: databasePassword,
            databasePasswordFile: passwordFile,
            databaseBusyTimeout: .milliseconds(busyTimeoutMs),
            databaseMinimumFreeBytes: Int64(nonNegative("database.minFreeMegabytes", 256)) * 1_048_576,
            databaseQuickCheck: reader.bool(forKey: "database.quickCheck", default: true),
            smtp: listener("smtp", host: publicHost, port: 2525),
            submission: listener("submission", host: publicHost, port: 2587),
            submissions: listener("submissions", host: publicHost, port: 2465),
            pop3: listener("pop3", host: publicHost, port: 1110),
            pop3s: listener("pop3s", host: publicHost, port: 1995),
            imap: listener("imap", host: publicHost, port: 1143),
            imaps: listener("imaps", host: publicHost, port: 1993),
            admin: listener("admin", host: loopback, port: 8080),
            ops: listener("ops", host: loopback, port: defaultOpsPort),
            tlsCertificatePath: certificate,
            tlsKeyPath: key,
            tlsSelfSignedDirectory: reader.string(
                forKey: "tls.selfSignedDirectory",
                default: ((databasePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("tls")),
            logFormat: logFormat ?? .text,
            logLevel: logLevel ?? .info,
            maximumLineLength: positive("limits.maxLineLength", 8_192),
            idleTimeout: .seconds(positive("limits.idleTimeoutSeconds", 600)),
            maximumConnections: positive("limits.maxConnections", 1_000),
            maximumConnectionsPerAddress: positive("limits.maxConnectionsPerAddress", 50),
            maximumNewConnectionsPerMinute: nonNegative("limits.maxNewConnectionsPerMinute", 600),
            tlsHandshakeTimeout: .seconds(positive("limits.tlsHandshakeTimeoutSeconds", 10)),
            minimumDataRate: positive("limits.minDataRate", 500),
            shutdownGracePeriod: .seconds(positive("shutdown.gracePeriodSeconds", 4)),
            smtpMaximumMessageBytes: positive("smtp.maxMessageBytes", 36_700_160),
            smtpMaximumHeaderBytes: positive("smtp.maxHeaderBytes", 262_144),
            smtpMaximumRecipients: positive("smtp.maxRecipients", 100),
            smtpMaximumErrors: positive("smtp.maxErrors", 20),
            smtpAllowPlaintextAuth: reader.bool(forKey: "smtp.allowPlaintextAuth", default: false),
            smtpMaximumAuthFailures: positive("smtp.maxAuthFailures", 3),
            pop3AllowPlaintextAuth: reader.bool(forKey: "pop3.allowPlaintextAuth", default: false),
            pop3MaximumAuthFailures: positive("pop3.maxAuthFailures", 3),
            pop3MaximumErrors: positive("pop3.maxErrors", 20),
            pop3LockDuration: .seconds(positive("pop3.lockSeconds", 120)),
            pop3IdleTimeout: .seconds(positive("pop3.idleTimeoutSeconds", 600)),
            imapAllowPlaintextAuth: reader.bool(forKey: "imap.allowPlaintextAuth", default: false),
            imapMaximumAuthFailures: positive("imap.maxAuthFailures", 3),
            imapAppendLimit: positive("imap.appendLimitBytes", 52_428_800),
            imapStreamedMessageBytes: nonNegative("imap.streamedMessageBytes", 1_048_576),
            imapMaximumConnectionsPerUser: positive("imap.maxConnectionsPerUser", 20),
            imapIdleTimeout: .seconds(positive("imap.idleTimeoutSeconds", 1800)),
            imapIdleKeepalive: .seconds(positive("imap.idleKeepaliveSeconds", 120)),
            smtpAuthFailureDelay: .milliseconds(max(0, reader.int(forKey: "smtp.authFailureDelayMs", default: 1_000))),
            authLockoutFailures: positive("auth.lockoutFailures", 10),
            authLockoutWindow: .seconds(positive("auth.lockoutSeconds", 300)),
            authMaximumDelay: .milliseconds(max(0, reader.int(forKey: "auth.maxDelayMs", default: 8_000))),
            smtpMinimumDataRate: positive("smtp.minDataRate", 500),
            smtpGreetingDelay: .milliseconds(max(0, reader.int(forKey: "smtp.greetingDelayMs", default: 0))),
            smtpVerifyInbound: reader.bool(forKey: "smtp.verifyInbound", default: true),
            spfRejectFail: reader.bool(forKey: "spf.rejectFail", default: false),
            dmarcQuarantineInsteadOfReject: reader.stringArray(forKey: "dmarc.quarantineInsteadOfReject", default: []).map {
                $0.lowercased()
            },
            dkimSignatureLifetime: { seconds in seconds > 0 ? .seconds(seconds) : nil }(
                reader.int(forKey: "dkim.signatureLifetimeSeconds", default: 0)),
            relayPollInterval: .milliseconds(positive("relay.pollIntervalMs", 1_000)),
            relayBatchSize: positive("relay.batchSize", 100),
            relayLeaseDuration: .seconds(positive("relay.leaseSeconds", 600)),
            relayConcurrency: positive("relay.concurrency", 32),
            relayLocalConcurrency: positive("relay.localConcurrency", 32),
            relayRetryInitial: .seconds(positive("relay.retryInitialSeconds", 300)),
            relayRetryMaximum: .seconds(positive("relay.retryMaximumSeconds", 3_600)),
            relayQueueLifetime: .seconds(positive("relay.queueLifetimeSeconds", 432_000)),
            relayDelayWarning: delayWarningSeconds > 0 ? .seconds(delayWarningSeconds) : nil,
            relayRoutes: reader.stringArray(forKey: "relay.routes", default: []),
            relaySmarthost: reader.string(forKey: "relay.smarthost", default: ""),
            relaySmarthostUser: reader.string(forKey: "relay.smarthostUser", default: ""),
            relaySmarthostPassword: reader.string(forKey: "relay.smarthostPassword", isSecret: true) ?? "",
            relayDNSServer: reader.string(forKey: "relay.dnsServer", default: ""),
            relayMXPort: port("relay.mxPort", 25),
            relayConnectTimeout: .seconds(positive("relay.connectTimeoutSeconds", 30)),
            relayCommandTimeout: .seconds(positive("relay.commandTimeoutSeconds", 300)),
            relayRequireTLS: reader.bool(forKey: "relay.requireTLS", default: false),
            relayMTASTS: reader.bool(forKey: "relay.mtaSts", default: true),
            relayMTASTSPort: port("relay.mtaStsPort", 443),
            relayTrustedCAFile: reader.string(forKey: "relay.trustedCaFile", default: ""),
            relayDNSSECTrustAnchorFile: reader.string(forKey: "relay.dnssecTrustAnchorFile", default: ""),
            relayTLSReports: reader.bool(forKey: "relay.tlsReports", default: true),
            relayTLSReportPeriod: .seconds(positive("relay.tlsReportPeriodSeconds", 86_400)),
            relayConcurrencyPerDomain: positive("relay.concurrencyPerDomain", 20),
            retentionFinishedQueueEntries: .seconds(positive("retention.queueSeconds", 7 * 86_400)),
            retentionChangeFeed: .seconds(positive("retention.changeFeedSeconds", 7 * 86_400)),
            retentionAuditLog: .seconds(positive("retention.auditSeconds", 365 * 86_400)),
            maintenanceInterval: .seconds(positive("maintenance.intervalSeconds", 600)),
            accountMailboxes: accountMailboxes,
            adminBootstrapToken: (adminToken?.isEmpty ?? true) ? nil : adminToken,
            adminMinimumPasswordLength: positive("admin.minimumPasswordLength", 10),
            adminMaximumBodyBytes: positive("admin.maxBodyBytes", 65_536),
            adminIdleTimeout: .seconds(positive("admin.idleTimeoutSeconds", 30)),
            adminMaximumAuthFailures: positive("admin.maxAuthFailures", 10),
            adminAllowedHosts: reader.stringArray(forKey: "admin.allowedHosts", default: []),
            readyFile: (readyFile?.isEmpty ?? true) ? nil : readyFile
        )
        // Values that were present but could not be read as the type asked for (a port of "abc").
        problems.append(contentsOf: recorder.problems)
        if !problems.isEmpty { throw SettingsError(problems: problems) }
        return settings
    }

    /// Every setting as `key = value`, in key order, for `estafeta check-config` and the start-up log.
    public var listing: [String] {
        Self.table.map { "\($0.key) = \($0.show(self))" }.sorted()
    }

    /// One setting: its key and its value as the listing shows it (secrets never shown).
    struct Entry: Sendable {
        let key: String
        let show: @Sendable (EstafetaSettings) -> String
        init(_ key: String, _ show: @escaping @Sendable (EstafetaSettings) -> String) {
            self.key = key
            self.show = show
        }
    }

    /// The one list of settings.
    static let table: [Entry] = Self.values + Self.listenerEntries

    private static let values: [Entry] = [
        Entry("hostname") { $0.hostname },
        Entry("database.url") { $0.databaseLocation.description },
        Entry("database.path") { $0.databasePath },
        Entry("database.password") { $0.databasePassword.isEmpty ? "" : "(set, not shown)" },
        Entry("database.passwordFile") { $0.databasePasswordFile },
        Entry("database.busyTimeoutMs") { EstafetaSettings.milliseconds($0.databaseBusyTimeout) },
        Entry("database.minFreeMegabytes") { "\($0.databaseMinimumFreeBytes / 1_048_576)" },
        Entry("database.quickCheck") { "\($0.databaseQuickCheck)" },
        Entry("tls.certificate") { $0.tlsCertificatePath },
        Entry("tls.key") { $0.tlsKeyPath },
        Entry("tls.selfSignedDirectory") { $0.tlsSelfSignedDirectory },
        Entry("log.format") { $0.logFormat.rawValue },
        Entry("log.level") { $0.logLevel.rawValue },
        Entry("limits.maxLineLength") { "\($0.maximumLineLength)" },
        Entry("limits.idleTimeoutSeconds") { "\($0.idleTimeout.components.seconds)" },
        Entry("limits.maxConnections") { "\($0.maximumConnections)" },
        Entry("limits.maxConnectionsPerAddress") { "\($0.maximumConnectionsPerAddress)" },
        Entry("limits.maxNewConnectionsPerMinute") { "\($0.maximumNewConnectionsPerMinute)" },
        Entry("limits.tlsHandshakeTimeoutSeconds") { "\($0.tlsHandshakeTimeout.components.seconds)" },
        Entry("limits.minDataRate") { "\($0.minimumDataRate)" },
        Entry("shutdown.gracePeriodSeconds") { "\($0.shutdownGracePeriod.components.seconds)" },
        Entry("readyFile") { $0.readyFile ?? "" },
        Entry("admin.token") { $0.adminBootstrapToken == nil ? "" : "(set, not shown)" },
        Entry("admin.minimumPasswordLength") { "\($0.adminMinimumPasswordLength)" },
        Entry("admin.maxBodyBytes") { "\($0.adminMaximumBodyBytes)" },
        Entry("admin.maxAuthFailures") { "\($0.adminMaximumAuthFailures)" },
        Entry("smtp.maxMessageBytes") { "\($0.smtpMaximumMessageBytes)" },
        Entry("smtp.maxHeaderBytes") { "\($0.smtpMaximumHeaderBytes)" },
        Entry("smtp.maxRecipients") { "\($0.smtpMaximumRecipients)" },
        Entry("smtp.maxErrors") { "\($0.smtpMaximumErrors)" },
        Entry("smtp.allowPlaintextAuth") { "\($0.smtpAllowPlaintextAuth)" },
        Entry("smtp.authFailureDelayMs") { EstafetaSettings.milliseconds($0.smtpAuthFailureDelay) },
        Entry("smtp.maxAuthFailures") { "\($0.smtpMaximumAuthFailures)" },
        Entry("pop3.allowPlaintextAuth") { "\($0.pop3AllowPlaintextAuth)" },
        Entry("pop3.maxAuthFailures") { "\($0.pop3MaximumAuthFailures)" },
        Entry("pop3.maxErrors") { "\($0.pop3MaximumErrors)" },
        Entry("pop3.lockSeconds") { "\($0.pop3LockDuration.components.seconds)" },
        Entry("pop3.idleTimeoutSeconds") { "\($0.pop3IdleTimeout.components.seconds)" },
        Entry("imap.idleTimeoutSeconds") { "\($0.imapIdleTimeout.components.seconds)" },
        Entry("imap.idleKeepaliveSeconds") { "\($0.imapIdleKeepalive.components.seconds)" },
        Entry("imap.allowPlaintextAuth") { "\($0.imapAllowPlaintextAuth)" },
        Entry("imap.maxAuthFailures") { "\($0.imapMaximumAuthFailures)" },
        Entry("imap.appendLimitBytes") { "\($0.imapAppendLimit)" },
        Entry("imap.streamedMessageBytes") { "\($0.imapStreamedMessageBytes)" },
        Entry("imap.maxConnectionsPerUser") { "\($0.imapMaximumConnectionsPerUser)" },
        Entry("smtp.minDataRate") { "\($0.smtpMinimumDataRate)" },
        Entry("smtp.greetingDelayMs") { EstafetaSettings.milliseconds($0.smtpGreetingDelay) },
        Entry("smtp.verifyInbound") { "\($0.smtpVerifyInbound)" },
        Entry("spf.rejectFail") { "\($0.spfRejectFail)" },
        Entry("dmarc.quarantineInsteadOfReject") { $0.dmarcQuarantineInsteadOfReject.joined(separator: ",") },
        Entry("dkim.signatureLifetimeSeconds") { "\($0.dkimSignatureLifetime?.components.seconds ?? 0)" },
        Entry("auth.lockoutFailures") { "\($0.authLockoutFailures)" },
        Entry("auth.lockoutSeconds") { "\($0.authLockoutWindow.components.seconds)" },
        Entry("auth.maxDelayMs") { EstafetaSettings.milliseconds($0.authMaximumDelay) },
        Entry("relay.pollIntervalMs") { EstafetaSettings.milliseconds($0.relayPollInterval) },
        Entry("relay.batchSize") { "\($0.relayBatchSize)" },
        Entry("relay.leaseSeconds") { "\($0.relayLeaseDuration.components.seconds)" },
        Entry("relay.concurrency") { "\($0.relayConcurrency)" },
        Entry("relay.localConcurrency") { "\($0.relayLocalConcurrency)" },
        Entry("relay.retryInitialSeconds") { "\($0.relayRetryInitial.components.seconds)" },
        Entry("relay.retryMaximumSeconds") { "\($0.relayRetryMaximum.components.seconds)" },
        Entry("relay.queueLifetimeSeconds") { "\($0.relayQueueLifetime.components.seconds)" },
        Entry("relay.delayWarningSeconds") { "\($0.relayDelayWarning?.components.seconds ?? 0)" },
        Entry("relay.routes") { $0.relayRoutes.joined(separator: ",") },
        Entry("relay.smarthost") { $0.relaySmarthost },
        Entry("relay.smarthostUser") { $0.relaySmarthostUser },
        Entry("relay.smarthostPassword") { $0.relaySmarthostPassword.isEmpty ? "" : "(set, not shown)" },
        Entry("relay.dnsServer") { $0.relayDNSServer },
        Entry("relay.mxPort") { "\($0.relayMXPort)" },
        Entry("relay.connectTimeoutSeconds") { "\($0.relayConnectTimeout.components.seconds)" },
        Entry("relay.commandTimeoutSeconds") { "\($0.relayCommandTimeout.components.seconds)" },
        Entry("relay.requireTLS") { "\($0.relayRequireTLS)" },
        Entry("relay.mtaSts") { "\($0.relayMTASTS)" },
        Entry("relay.mtaStsPort") { "\($0.relayMTASTSPort)" },
        Entry("relay.trustedCaFile") { $0.relayTrustedCAFile },
        Entry("relay.dnssecTrustAnchorFile") { $0.relayDNSSECTrustAnchorFile },
        Entry("relay.tlsReports") { "\($0.relayTLSReports)" },
        Entry("relay.tlsReportPeriodSeconds") { "\($0.relayTLSReportPeriod.components.seconds)" },
        Entry("relay.concurrencyPerDomain") { "\($0.relayConcurrencyPerDomain)" },
        Entry("retention.queueSeconds") { "\($0.retentionFinishedQueueEntries.components.seconds)" },
        Entry("retention.changeFeedSeconds") { "\($0.retentionChangeFeed.components.seconds)" },
        Entry("retention.auditSeconds") { "\($0.retentionAuditLog.components.seconds)" },
        Entry("maintenance.intervalSeconds") { "\($0.maintenanceInterval.components.seconds)" },
        Entry("admin.idleTimeoutSeconds") { "\($0.adminIdleTimeout.components.seconds)" },
        Entry("admin.allowedHosts") { $0.adminAllowedHosts.joined(separator: ",") },
        Entry("accounts.mailboxes") { $0.accountMailboxes.map(\.description).joined(separator: ",") },
    ]

    private static let listenerEntries: [Entry] = {
        let listeners: [(String, @Sendable (EstafetaSettings) -> Listener)] = [
            ("smtp", { $0.smtp }), ("submission", { $0.submission }), ("submissions", { $0.submissions }),
            ("pop3", { $0.pop3 }), ("pop3s", { $0.pop3s }), ("imap", { $0.imap }), ("imaps", { $0.imaps }),
            ("admin", { $0.admin }), ("ops", { $0.ops }),
        ]
        return listeners.flatMap { name, listener in
            [Entry("\(name).host") { listener($0).host }, Entry("\(name).port") { "\(listener($0).port)" }]
        }
    }()

    static func milliseconds(_ duration: Duration) -> String {
        "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)"
    }

    static let defaultDatabasePath = "./data/estafeta.sqlite"

    static func systemHostname() -> String {
        let name = ProcessInfo.processInfo.hostName
        return name.isEmpty ? "localhost" : name
    }
}

/// One thing wrong with one setting.
public struct SettingsProblem: Sendable, Equatable, CustomStringConvertible {
    public let key: String
    public let message: String
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { "\(self.key): \(self.message)" }
}

/// The configuration cannot be used. The message names each key and what is wrong with it.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [SettingsProblem]
    public init(problems: [SettingsProblem]) { self.problems = problems }
    public var description: String {
        "invalid configuration:\n" + self.problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
