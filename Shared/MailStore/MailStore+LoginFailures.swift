import Foundation
import GRDB

/// Failed logins, counted where every process of the installation sees them. A key is a client network
/// or an account (the caller names them); only failures newer than the caller's window matter, and
/// only the newest `keep` of a key are kept, so the table stays small whatever a guesser does.
extension MailStore {
    /// When each of the key's failures since `since` happened, oldest first.
    public func loginFailures(under key: String, since: Date) async throws(MailStoreError) -> [Date] {
        try await self.read { db in
            try Date.fetchAll(
                db, sql: "SELECT failedAt FROM loginFailure WHERE key = ? AND failedAt > ? ORDER BY failedAt",
                arguments: [key, since])
        }
    }

    /// Counts one failure under each key at `now`, forgets every failure at or before `since`, and
    /// returns the largest number of failures since then under any of the keys (this one included).
    /// Not synced to disk on commit: a power loss may forget the latest failures, which costs a guesser
    /// nothing it could not get by waiting, and a login storm does not cost a disk flush per guess.
    public func recordLoginFailure(under keys: [String], at now: Date, since: Date, keep: Int) async throws(MailStoreError) -> Int {
        try await self.writeWithoutSync { db in
            try db.execute(sql: "DELETE FROM loginFailure WHERE failedAt <= ?", arguments: [since])
            var most = 0
            for key in keys {
                try db.execute(sql: "INSERT INTO loginFailure(key, failedAt) VALUES (?, ?)", arguments: [key, now])
                try db.execute(
                    sql: """
                        DELETE FROM loginFailure WHERE key = ? AND rowid NOT IN
                            (SELECT rowid FROM loginFailure WHERE key = ? ORDER BY failedAt DESC LIMIT ?)
                        """, arguments: [key, key, max(1, keep)])
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM loginFailure WHERE key = ?", arguments: [key]) ?? 0
                most = max(most, count)
            }
            return most
        }
    }
}
