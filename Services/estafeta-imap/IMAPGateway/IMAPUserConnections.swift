import MailStore
import Synchronization

/// Logged-in IMAP connections per user in this process (`imap.maxConnectionsPerUser`): a client that
/// opens connection after connection for one account gets `NO [LIMIT]` at login instead of taking the
/// process's connection slots from everyone else. Counted per process: with several `estafeta-imap`
/// processes, a user may have this many on each.
final class IMAPUserConnections: Sendable {
    let maximum: Int
    private let counts = Mutex<[AccountID: Int]>([:])

    init(maximum: Int) {
        self.maximum = maximum
    }

    /// Counts one more connection for `account`; false (and nothing counted) at the limit.
    func acquire(_ account: AccountID) -> Bool {
        self.counts.withLock { counts in
            let current = counts[account, default: 0]
            guard current < self.maximum else { return false }
            counts[account] = current + 1
            return true
        }
    }

    func release(_ account: AccountID) {
        self.counts.withLock { counts in
            let remaining = counts[account, default: 1] - 1
            counts[account] = remaining > 0 ? remaining : nil
        }
    }
}
