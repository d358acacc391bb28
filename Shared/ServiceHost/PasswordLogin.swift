import Credentials
import MailFormat
import MailStore

/// The one password check every protocol's login uses (SMTP AUTH, POP3 USER/PASS and AUTH, IMAP
/// LOGIN and AUTHENTICATE): the account must exist, be enabled, and the password match its hash. The
/// hash comparison runs off the event loop (`PasswordHasher`); an unknown user costs a comparison
/// against a decoy hash, so timing does not tell which accounts exist (catalogue S22).
public struct PasswordLogin: Sendable {
    let store: MailStore

    public init(store: MailStore) { self.store = store }

    /// The account's address when the login is good; nil for any failure, which the caller answers
    /// the same way whatever the reason.
    public func verify(user: String, password: String) async -> EmailAddress? {
        var credentials: AccountCredentials?
        if let address = try? EmailAddress(parsing: user) {
            credentials = try? await self.store.credentials(for: address)
        }
        guard let credentials else {
            if let decoy = Self.timingDecoy { _ = await PasswordHasher.verify(password, against: decoy) }
            return nil
        }
        guard await PasswordHasher.verify(password, against: credentials.passwordHash), credentials.enabled else { return nil }
        return credentials.address
    }

    /// A hash to check unknown user names against, so they cost what a wrong password costs.
    static let timingDecoy = PasswordHash(
        encoded: "$6$estafetadecoy$KTvTczp7uXsLud5mnzorGaYiL1/E57FhgnVLKkBCtiI..vHLmP0gIVYvGr8gbI.p20Gz4LdBQiN6BG2py8SV./")
}
