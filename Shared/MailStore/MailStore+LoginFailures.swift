import Foundation

/// Failed logins, counted where every process of the installation sees them. A key is a client network
/// or an account (the caller names them); only failures newer than the caller's window matter, and
/// only the newest `keep` of a key are kept, so the table stays small whatever a guesser does.
extension MailStore {
    /// When each of the key's failures since `since` happened, oldest first.
    public func loginFailures(under key: String, since: Date) async throws(MailStoreError) -> [Date] {
        try await self.directory.loginFailures(under: key, since: since)
    }

    /// Counts one failure under each key at `now`, forgets every failure at or before `since`, and
    /// returns the largest number of failures since then under any of the keys (this one included).
    public func recordLoginFailure(under keys: [String], at now: Date, since: Date, keep: Int) async throws(MailStoreError) -> Int {
        try await self.directory.recordLoginFailure(under: keys, at: now, since: since, keep: keep)
    }
}
