import Foundation

/// Where the store lives (`database.url`): an SQLite file (`sqlite:///var/lib/estafeta/mail.sqlite`, or
/// `sqlite://./data/estafeta.sqlite` relative to the working directory), or a PostgreSQL database
/// (`postgres://user@host:port/database?sslmode=…`, libpq's URL form; a host that is a directory,
/// percent-encoded, is the directory of a Unix socket). A password never goes in the URL, which is
/// shown in listings and logs: it comes from `database.password` or `database.passwordFile`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(Postgres)

    public struct Postgres: Sendable, Equatable {
        public enum TLSMode: String, Sendable, CaseIterable {
            /// No TLS (a Unix socket, or a private network the operator trusts).
            case disable
            /// TLS without checking the server's certificate.
            case require
            /// TLS with the certificate checked against the system's trust roots and the host name.
            case verifyFull = "verify-full"
        }

        public var user: String
        /// A host name or address, or the directory of a Unix socket (starting with `/`).
        public var host: String
        public var port: Int
        public var database: String
        public var tls: TLSMode

        public init(user: String, host: String, port: Int, database: String, tls: TLSMode) {
            self.user = user
            self.host = host
            self.port = port
            self.database = database
            self.tls = tls
        }

        public var isUnixSocket: Bool { self.host.hasPrefix("/") }
    }

    public struct Problem: Error, Sendable, Equatable {
        public let message: String
    }

    public init(url text: String) throws(Problem) {
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard let decoded = path.removingPercentEncoding, !decoded.isEmpty else {
                throw Problem(message: "an SQLite URL names its file: sqlite:///absolute/path or sqlite://relative/path")
            }
            self = .sqlite(path: decoded)
            return
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw Problem(message: "must be sqlite:///path or postgres://user@host:port/database, got \(text)")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw Problem(message: "must be sqlite:///path or postgres://user@host:port/database, not \(scheme):")
        }
        guard components.password == nil else {
            throw Problem(message: "a password does not go in the URL: give it as database.password (ESTAFETA_DATABASE_PASSWORD) or database.passwordFile")
        }
        guard let user = components.user?.removingPercentEncoding, !user.isEmpty else {
            throw Problem(message: "name the database user: postgres://user@host/database")
        }
        guard let host = components.percentEncodedHost?.removingPercentEncoding, !host.isEmpty else {
            throw Problem(message: "name the database host: postgres://user@host/database")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw Problem(message: "name one database: postgres://user@host/database")
        }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw Problem(message: "the port must be from 1 to 65535, got \(port)") }
        var tls = host.hasPrefix("/") ? Postgres.TLSMode.disable : .verifyFull
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw Problem(message: "unknown parameter \(item.name) (only sslmode: \(Self.tlsModes))")
            }
            guard let mode = item.value.flatMap(Postgres.TLSMode.init(rawValue:)) else {
                throw Problem(message: "sslmode must be one of \(Self.tlsModes), got \(item.value ?? "nothing")")
            }
            tls = mode
        }
        self = .postgres(Postgres(user: user, host: host, port: port, database: database, tls: tls))
    }

    private static var tlsModes: String { Postgres.TLSMode.allCases.map(\.rawValue).joined(separator: ", ") }

    /// The file, for SQLite.
    public var sqlitePath: String? {
        if case .sqlite(let path) = self { return path }
        return nil
    }

    /// The URL that names this location (with no password: there is never one in it).
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite://" + path
        case .postgres(let location):
            var host = location.host
            if location.isUnixSocket { host = host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? host }
            let user = location.user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? location.user
            return "postgres://\(user)@\(host):\(location.port)/\(location.database)?sslmode=\(location.tls.rawValue)"
        }
    }
}
