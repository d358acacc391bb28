import Foundation
import Logging
import MailFormat
import MailStore
import PostgresStore

/// A second OS process for the store tests. DB is a SQLite file's path or a PostgreSQL URL
/// (`postgres://user@host:port/database`, the password in `ESTAFETA_DATABASE_PASSWORD`). Commands:
///
///     StoreTorture migrate DB                 open (creating and migrating) and exit
///     StoreTorture accept DB COUNT TAG        accept COUNT messages, one transaction each
///     StoreTorture accept-forever DB TAG      accept messages until killed, printing each id after its commit
///     StoreTorture pragmas DB                 print the writer's synchronous and journal_mode (SQLite)
///     StoreTorture lease DB OWNER             lease due recipients in small batches until none is left,
///                                             printing each leased id, and mark them delivered
///     StoreTorture hold-lock DB SECONDS       hold SQLite's write lock for SECONDS (prints "locked" first; SQLite)
///
/// Every acknowledged id is printed only after `acceptMessage` returned, i.e. after COMMIT: the same
/// moment an SMTP session would answer 250.
@main
struct StoreTorture {
    static func main() async {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3 else { Self.exit("usage: StoreTorture COMMAND DB …", code: 64) }
        let logger = Logger(label: "store-torture")
        let store: MailStore
        do {
            if let url = URLComponents(string: arguments[2]), url.scheme == "postgres" {
                let settings = PostgresStoreSettings(
                    host: url.host ?? "127.0.0.1", port: url.port ?? 5432, user: url.user ?? "postgres",
                    password: ProcessInfo.processInfo.environment["ESTAFETA_DATABASE_PASSWORD"],
                    database: String(url.path.dropFirst()), tls: .disable)
                store = try await PostgresStore.open(settings: settings, logger: logger).mailStore()
            } else {
                store = try MailStore.open(settings: MailStoreSettings(path: arguments[2]), logger: logger)
            }
        } catch {
            Self.exit("open failed: \(error)", code: 1)
        }
        do {
            switch arguments[1] {
            case "migrate":
                print("migrated")
            case "pragmas":
                let pragmas = try await store.writerPragmas()
                print("synchronous=\(pragmas.synchronous) journal_mode=\(pragmas.journalMode)")
            case "accept" where arguments.count == 5:
                guard let count = Int(arguments[3]) else { Self.exit("COUNT must be a number", code: 64) }
                for index in 0..<count {
                    let accepted = try await store.acceptMessage(
                        Self.message(tag: arguments[4], index: index), envelope: Self.envelope())
                    if index == count - 1 { print("last=\(accepted.id)") }
                }
            case "accept-forever" where arguments.count == 4:
                var index = 0
                while true {
                    let accepted = try await store.acceptMessage(
                        Self.message(tag: arguments[3], index: index), envelope: Self.envelope())
                    // Unbuffered, like a reply on a socket: the line leaves as soon as the commit is done.
                    FileHandle.standardOutput.write(Data("accepted \(accepted.id)\n".utf8))
                    index += 1
                }
            case "lease" where arguments.count == 4:
                var idle = 0
                while idle < 3 {
                    let leases = try await store.leaseQueueItems(
                        owner: arguments[3], limit: 7, leaseDuration: .seconds(300))
                    if leases.isEmpty {
                        idle += 1
                        try await Task.sleep(for: .milliseconds(20))
                        continue
                    }
                    idle = 0
                    for lease in leases {
                        print("leased \(lease.recipientID)")
                        try await store.recordOutcome(.delivered, for: lease)
                    }
                }
            case "hold-lock" where arguments.count == 4:
                guard let seconds = Double(arguments[3]) else { Self.exit("SECONDS must be a number", code: 64) }
                try await store.holdWriteLockForTesting(seconds: seconds) {
                    FileHandle.standardOutput.write(Data("locked\n".utf8))
                }
            default:
                Self.exit("unknown command", code: 64)
            }
        } catch {
            Self.exit("failed: \(error)", code: 1)
        }
    }

    static func message(tag: String, index: Int) -> Data {
        Data("Subject: \(tag) \(index)\r\nMessage-ID: <\(tag).\(index)@torture.test>\r\n\r\nbody \(index)\r\n".utf8)
    }

    static func envelope() throws -> Envelope {
        Envelope(
            sender: try EmailAddress(parsing: "sender@torture.test"),
            recipients: [Envelope.Recipient(address: try EmailAddress(parsing: "rcpt@torture.test"))])
    }

    static func exit(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(code)
    }
}
