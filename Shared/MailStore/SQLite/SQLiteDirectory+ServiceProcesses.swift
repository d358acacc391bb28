import Foundation
import GRDB

/// The services' processes as they report themselves, in the SQLite file.
extension SQLiteDirectory {
    func upsertServiceProcesses(_ processes: [ServiceProcess], forgetBefore: Date) async throws(MailStoreError) {
        // A report lost in a crash is made again a moment later: it need not wait for the disk.
        try await self.access.writeWithoutSync { db in
            for process in processes {
                try db.execute(
                    sql: """
                        INSERT INTO serviceProcess (service, host, pid, startedAt, seenAt, stoppedAt) VALUES (?, ?, ?, ?, ?, NULL)
                        ON CONFLICT (service, host, pid) DO UPDATE SET startedAt = excluded.startedAt, seenAt = excluded.seenAt, stoppedAt = NULL
                        """, arguments: [process.service, process.host, process.pid, process.startedAt, process.seenAt])
            }
            try db.execute(sql: "DELETE FROM serviceProcess WHERE seenAt < ?", arguments: [forgetBefore])
        }
    }

    func markServiceProcessesStopped(services: [String], host: String, pid: Int, now: Date) async throws(MailStoreError) {
        // Said on the way out: a shutdown does not wait for the disk for it.
        try await self.access.writeWithoutSync { db in
            for service in services {
                try db.execute(
                    sql: "UPDATE serviceProcess SET stoppedAt = ?, seenAt = ? WHERE service = ? AND host = ? AND pid = ?",
                    arguments: [now, now, service, host, pid])
            }
        }
    }

    func serviceProcesses() async throws(MailStoreError) -> [ServiceProcess] {
        try await self.access.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM serviceProcess ORDER BY service, host, pid").map {
                ServiceProcess(
                    service: $0["service"], host: $0["host"], pid: $0["pid"], startedAt: $0["startedAt"], seenAt: $0["seenAt"],
                    stoppedAt: $0["stoppedAt"])
            }
        }
    }
}
