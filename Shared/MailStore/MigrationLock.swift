#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory `flock(2)` on a file next to the database, held while one process opens the file and
/// migrates it.
///
/// SQLite's own locking would make two processes that migrate at the same moment fail on each other
/// (both see the same missing migration; one gets SQLITE_BUSY or a "table already exists"). With this
/// lock they take turns, and the second finds nothing left to do. The kernel drops the lock when its
/// holder dies, so a process killed mid-migration never blocks the next start (the migration itself is
/// one transaction and rolls back).
enum MigrationLock {
    static func withExclusiveLock<T>(besides databasePath: String, _ body: () throws -> T) throws -> T {
        let lockPath = databasePath + ".lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw MailStoreError.cannotOpen(path: lockPath, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw MailStoreError.cannotOpen(path: lockPath, reason: String(cString: strerror(errno)))
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}
