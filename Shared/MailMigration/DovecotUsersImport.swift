import Credentials
import Foundation
import MailFormat
import MailStore
import MailboxFormats

/// Makes an account for each user of a Dovecot `passwd-file`, with the user's password hash as it is
/// (crypt(3) hashes: SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, yescrypt, with or without their `{SCHEME}`),
/// so users keep their passwords, and the storage quota of its `quota_rule`. Users without a domain
/// get `domain`. Existing accounts are left as they are, so it can run again.
public struct DovecotUsersImport: Sendable {
    public struct Result: Sendable, Equatable {
        public var created: [String] = []
        public var existing: [String] = []
        /// A line each that could not become an account, with the reason.
        public var problems: [String] = []
    }

    let store: MailStore
    let domain: String?
    let mailboxes: [(name: String, specialUse: SpecialUse?)]

    public init(store: MailStore, domain: String?, mailboxes: [(name: String, specialUse: SpecialUse?)] = MailStore.defaultMailboxes) {
        self.store = store
        self.domain = domain
        self.mailboxes = mailboxes
    }

    public func run(passwdFile: URL) async throws(MigrationError) -> Result {
        let text: String
        do {
            text = try String(contentsOf: passwdFile, encoding: .utf8)
        } catch {
            throw .file(path: passwdFile.path, reason: "cannot read the file: \(error.localizedDescription)")
        }
        var result = Result()
        for user in DovecotPasswdFile(parsing: text).users {
            let place = "\(passwdFile.lastPathComponent) line \(user.line) (\(user.name))"
            let name = user.name.contains("@") ? user.name : self.domain.map { "\(user.name)@\($0)" }
            guard let name, let address = try? EmailAddress(parsing: name) else {
                result.problems.append("\(place): not an address (give --domain for users without one)")
                continue
            }
            guard let hash = PasswordHash(importing: user.password) else {
                result.problems.append("\(place): the password is not a crypt(3) hash Estafeta can check; account not made")
                continue
            }
            do throws(MailStoreError) {
                _ = try await self.store.createAccount(
                    address, passwordHash: hash, quotaBytes: user.quotaBytes, mailboxes: self.mailboxes)
                result.created.append(address.description)
            } catch .accountExists {
                result.existing.append(address.description)
            } catch .unknownDomain(let domain) {
                result.problems.append("\(place): the domain \(domain) is not one of this server's")
            } catch {
                throw .store(path: passwdFile.path, error)
            }
        }
        return result
    }
}
