import Foundation
import Logging
import MailStore
import PostgresNIO

/// The services' processes as they report themselves, in PostgreSQL.
extension PostgresDirectory {
    func upsertServiceProcesses(_ processes: [ServiceProcess], forgetBefore: Date) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            for process in processes {
                try await connection.query(
                    """
                    INSERT INTO service_process (service, host, pid, started_at, seen_at, stopped_at)
                    VALUES (\(process.service), \(process.host), \(Int64(process.pid)), \(process.startedAt), \(process.seenAt), NULL)
                    ON CONFLICT (service, host, pid) DO UPDATE SET started_at = excluded.started_at, seen_at = excluded.seen_at, stopped_at = NULL
                    """, logger: logger)
            }
            try await connection.query("DELETE FROM service_process WHERE seen_at < \(forgetBefore)", logger: logger)
        }
    }

    func markServiceProcessesStopped(services: [String], host: String, pid: Int, now: Date) async throws(MailStoreError) {
        let logger = self.logger
        try await self.access.transaction { connection in
            try await connection.query(
                """
                UPDATE service_process SET stopped_at = \(now), seen_at = \(now)
                WHERE service = ANY(\(services)) AND host = \(host) AND pid = \(Int64(pid))
                """, logger: logger)
        }
    }

    func serviceProcesses() async throws(MailStoreError) -> [ServiceProcess] {
        let logger = self.logger
        return try await self.access.read { connection in
            try await connection.rows(
                "SELECT service, host, pid, started_at, seen_at, stopped_at FROM service_process ORDER BY service COLLATE \"C\", host COLLATE \"C\", pid",
                logger
            ).map { row in
                let (service, host, pid, startedAt, seenAt, stoppedAt) = try row.decode((String, String, Int64, Date, Date, Date?).self)
                return ServiceProcess(service: service, host: host, pid: Int(pid), startedAt: startedAt, seenAt: seenAt, stoppedAt: stoppedAt)
            }
        }
    }
}
