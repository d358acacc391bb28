import Credentials
import Foundation
import Logging
import MailFormat
import MailStore
import NIOCore
import ServerSupport

/// The one login every protocol uses (SMTP AUTH, POP3 USER/PASS and AUTH, IMAP LOGIN and
/// AUTHENTICATE): the network's lockout, then the password, then on failure the count and the delay.
///
/// The account must exist, be enabled, and the password match its hash. The hash comparison runs off
/// the event loop (`PasswordHasher`); an unknown user costs a comparison against a decoy hash, so timing
/// does not tell which accounts exist. Failures are counted in the store, per network
/// and per account, so that all processes and protocols share them (`AuthenticationPenalties`).
///
/// A store that fails is never a wrong password: the outcome is `.unavailable`, which each protocol
/// answers with its temporary error, without a delay and without counting a failure.
public struct PasswordLogin: Sendable {
    public enum Outcome: Sendable, Equatable {
        case accepted(EmailAddress)
        /// Wrong user name or password, or a disabled account; the penalty delay has been waited.
        case refused
        /// Too many recent failures from the client's network: refused before the password was looked at.
        case lockedOut
        /// The store failed; nothing was counted. Answer with a temporary error.
        case unavailable
    }

    let store: MailStore
    public let penalties: AuthenticationPenalties

    public init(store: MailStore, penalties: AuthenticationPenalties) {
        self.store = store
        self.penalties = penalties
    }

    /// Checks `user` and `password` for a client at `peer`. Throws only when the task is cancelled.
    public func attempt(user: String, password: String, from peer: SocketAddress?, logger: Logger) async throws -> Outcome {
        let network = "network:" + AuthenticationPenalties.network(of: peer)
        let now = Date()
        let since = now.addingTimeInterval(-Self.seconds(self.penalties.policy.window))
        do {
            let recent = try await self.store.loginFailures(under: network, since: since)
            if self.penalties.lockout(failureAges: recent.map { .seconds(now.timeIntervalSince($0)) }) != nil {
                logger.notice("login refused: network locked out", metadata: ["network": "\(network)"])
                return .lockedOut
            }
            if let address = try await self.verify(user: user, password: password) { return .accepted(address) }
            // The account's key is the name as tried (bounded): unknown names are slowed down alike.
            let account = "account:" + String(user.lowercased().prefix(320))
            let failures = try await self.store.recordLoginFailure(
                under: [network, account], at: now, since: since, keep: self.penalties.policy.lockoutFailures)
            logger.notice("login failed", metadata: ["network": "\(network)"])
            try await Task.sleep(for: self.penalties.delay(failures: failures))
            return .refused
        } catch let error as MailStoreError {
            logger.error("login unavailable: store error", metadata: ["error": "\(error)"])
            return .unavailable
        }
    }

    /// The account's address when the login is good; nil for a wrong user name or password or a
    /// disabled account, which the caller answers the same way whatever the reason.
    func verify(user: String, password: String) async throws(MailStoreError) -> EmailAddress? {
        var credentials: AccountCredentials?
        if let address = try? EmailAddress(parsing: user) {  // a name that is no address is no account
            credentials = try await self.store.credentials(for: address)
        }
        guard let credentials else {
            if let decoy = Self.timingDecoy { _ = await PasswordHasher.verify(password, against: decoy) }
            return nil
        }
        guard await PasswordHasher.verify(password, against: credentials.passwordHash), credentials.enabled else { return nil }
        return credentials.address
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }

    /// A hash to check unknown user names against, so they cost what a wrong password costs.
    static let timingDecoy = PasswordHash(
        encoded: "$6$estafetadecoy$KTvTczp7uXsLud5mnzorGaYiL1/E57FhgnVLKkBCtiI..vHLmP0gIVYvGr8gbI.p20Gz4LdBQiN6BG2py8SV./")
}
