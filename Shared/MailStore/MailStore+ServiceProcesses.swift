import Foundation

/// A process running one of the suite's services (smtp, relay, pop3, imap, admin), as it reports itself
/// to the store every `ServiceProcess.reportInterval`: so the admin API of any host can say which
/// services run where, and which went silent, whether they share a process (`estafeta serve`) or not.
public struct ServiceProcess: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Reported within the last three intervals.
        case running
        /// No report for longer: the process hangs, its host is gone, or it ended without saying so.
        case silent
        /// It said it stopped (a graceful shutdown).
        case stopped
    }

    public static let reportInterval: Duration = .seconds(15)

    public let service: String
    public let host: String
    public let pid: Int
    public let startedAt: Date
    public let seenAt: Date
    public let stoppedAt: Date?

    public init(service: String, host: String, pid: Int, startedAt: Date, seenAt: Date, stoppedAt: Date?) {
        self.service = service
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.seenAt = seenAt
        self.stoppedAt = stoppedAt
    }

    public func state(at now: Date) -> State {
        if self.stoppedAt != nil { return .stopped }
        let silence = now.timeIntervalSince(self.seenAt)
        return silence <= 3 * Double(Self.reportInterval.components.seconds) ? .running : .silent
    }

    /// This machine's name as `gethostname` gives it. Not Foundation's `ProcessInfo.hostName`, which looks
    /// up a name for every address of every interface (reverse DNS) and can hold a thread for as long as
    /// those look-ups take.
    public static var thisHost: String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count) == 0 else { return "?" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension MailStore {
    /// How long a process's row stays after its last report: a day shows what stopped overnight.
    static let serviceProcessMemory: TimeInterval = 86_400

    /// `services` run in this process: their rows are made, or their last-seen time moved on (and a stop
    /// forgotten, for a pid used again), in one transaction. Rows silent for a day are removed on the way.
    public func reportServicesRunning(_ services: [String], host: String, pid: Int, startedAt: Date, now: Date = Date())
        async throws(MailStoreError)
    {
        try await self.directory.upsertServiceProcesses(
            services.map { ServiceProcess(service: $0, host: host, pid: pid, startedAt: startedAt, seenAt: now, stoppedAt: nil) },
            forgetBefore: now.addingTimeInterval(-Self.serviceProcessMemory))
    }

    public func reportServiceRunning(_ service: String, host: String, pid: Int, startedAt: Date, now: Date = Date())
        async throws(MailStoreError)
    {
        try await self.reportServicesRunning([service], host: host, pid: pid, startedAt: startedAt, now: now)
    }

    /// The process is shutting down gracefully: its services' rows say so, in one transaction.
    public func reportServicesStopped(_ services: [String], host: String, pid: Int, now: Date = Date()) async throws(MailStoreError) {
        try await self.directory.markServiceProcessesStopped(services: services, host: host, pid: pid, now: now)
    }

    public func reportServiceStopped(_ service: String, host: String, pid: Int, now: Date = Date()) async throws(MailStoreError) {
        try await self.reportServicesStopped([service], host: host, pid: pid, now: now)
    }

    /// Every process seen in the last day, by service, host and pid.
    public func serviceProcesses() async throws(MailStoreError) -> [ServiceProcess] {
        try await self.directory.serviceProcesses()
    }
}
