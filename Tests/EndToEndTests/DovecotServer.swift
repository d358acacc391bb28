import Foundation
import TestSupport

/// A private Dovecot (Debian's) on loopback for the import tests: its own configuration, users in a
/// passwd-file and Maildir++ mail under `directory/mail/<user>/Maildir`, owned by `nobody` (Dovecot
/// will not run mail processes as root). The namespace separator is `/`, as Estafeta's.
struct DovecotServer {
    let directory: URL
    let imapPort: Int
    let process: ChildProcess

    var passwdFile: URL { self.directory.appendingPathComponent("users") }

    func maildir(_ user: String) -> URL {
        self.directory.appendingPathComponent("mail/\(user)/Maildir")
    }

    /// `listescape` loads Dovecot's plugin that lets folder names hold dots (escaped in directory names);
    /// the users in `fsLayout` keep their folders in `LAYOUT=fs` directories instead of Maildir++.
    static func start(users: [String: String], listescape: Bool = false, fsLayout: Set<String> = []) async throws -> DovecotServer {
        let directory = URL(fileURLWithPath: "/tmp/estafeta-dovecot-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("mail"), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        _ = try await ChildProcess.start(URL(fileURLWithPath: "/bin/chown"), ["nobody:nogroup", directory.appendingPathComponent("mail").path])
            .finish(timeout: .seconds(10))
        var passwd = ""
        for (user, password) in users.sorted(by: { $0.key < $1.key }) {
            // Hashed by Dovecot's own tool, as an installation keeps them, with a quota rule beside.
            let hashed = try await ChildProcess.start(URL(fileURLWithPath: "/usr/bin/doveadm"), ["pw", "-s", "SHA512-CRYPT", "-p", password])
                .finish(timeout: .seconds(30))
            guard hashed.status == 0 else { throw DovecotError.failed("doveadm pw: \(hashed.errors)") }
            let hash = hashed.output.trimmingCharacters(in: .whitespacesAndNewlines)
            let layout = fsLayout.contains(user) ? " userdb_mail=maildir:\(directory.path)/mail/\(user)/Maildir:LAYOUT=fs" : ""
            passwd += "\(user):\(hash)::::::userdb_quota_rule=*:storage=100M\(layout)\n"
        }
        try passwd.write(to: directory.appendingPathComponent("users"), atomically: true, encoding: .utf8)
        for attempt in 0..<5 {
            let port = Int.random(in: 20_000...60_000)
            let configuration = directory.appendingPathComponent("dovecot.conf")
            try """
                protocols = imap
                listen = 127.0.0.1
                base_dir = \(directory.path)/run
                instance_name = estafeta-test-dovecot-\(directory.lastPathComponent)
                log_path = \(directory.path)/dovecot.log
                ssl = no
                disable_plaintext_auth = no
                auth_mechanisms = plain login
                mail_location = maildir:\(directory.path)/mail/%u/Maildir
                \(listescape ? "mail_plugins = listescape" : "")
                first_valid_uid = 65534
                first_valid_gid = 65534
                passdb {
                  driver = passwd-file
                  args = \(directory.path)/users
                }
                userdb {
                  driver = static
                  args = uid=nobody gid=nogroup home=\(directory.path)/mail/%u
                }
                namespace inbox {
                  inbox = yes
                  separator = /
                }
                service imap-login {
                  inet_listener imap {
                    address = 127.0.0.1
                    port = \(port)
                  }
                  inet_listener imaps {
                    port = 0
                  }
                }
                service anvil {
                  chroot =
                }

                """.write(to: configuration, atomically: true, encoding: .utf8)
            // In the foreground, a child of the test: stopped with it, whatever happens.
            let process = try ChildProcess.start(URL(fileURLWithPath: "/usr/sbin/dovecot"), ["-F", "-c", configuration.path])
            let server = DovecotServer(directory: directory, imapPort: port, process: process)
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline && process.process.isRunning && !server.answers() {
                try await Task.sleep(for: .milliseconds(100))
            }
            if process.process.isRunning && server.answers() { return server }
            kill(process.process.processIdentifier, SIGKILL)
            if attempt == 4 {
                let log = (try? String(contentsOf: directory.appendingPathComponent("dovecot.log"), encoding: .utf8)) ?? ""
                throw DovecotError.failed("dovecot did not start: \(log.suffix(2000))")
            }
        }
        throw DovecotError.failed("dovecot did not start")
    }

    func answers() -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(self.imapPort).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Makes files written by the test the mail user's, as Dovecot's own would be.
    func giveToMailUser(_ path: URL) async throws {
        let result = try await ChildProcess.start(URL(fileURLWithPath: "/bin/chown"), ["-R", "nobody:nogroup", path.path])
            .finish(timeout: .seconds(30))
        guard result.status == 0 else { throw DovecotError.failed("chown: \(result.errors)") }
    }

    /// Stops it and removes its files. SIGKILL: the master started by Foundation's Process has SIGTERM
    /// blocked (the mask is inherited) and would not hear it; its children end when it does. The wait for
    /// its end (bounded) runs on a thread of its own: it may take seconds on a loaded machine, and a
    /// blocking wait on one of the concurrency pool's few threads would hold up every other test.
    func stop() {
        let process = self.process.process
        let directory = self.directory
        kill(process.processIdentifier, SIGKILL)
        Thread {
            let deadline = ContinuousClock.now + .seconds(20)
            while !process.hasEnded && ContinuousClock.now < deadline { usleep(50_000) }
            try? FileManager.default.removeItem(at: directory)
        }.start()
    }

    enum DovecotError: Error { case failed(String) }
}
