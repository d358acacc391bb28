import Foundation
import MailStore
import Testing
import TestSupport

@Suite("Store: the services' processes as they report themselves")
struct ServiceProcessStoreTests {
    @Test("a report makes or refreshes a process's row; silent after three intervals, stopped when it says so, running again when it reports; forgotten after a day", arguments: StoreBackendKind.allCases)
    func reports(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            try await store.reportServiceRunning("smtp", host: "mx1", pid: 40, startedAt: start, now: start)
            try await store.reportServiceRunning("imap", host: "mx1", pid: 40, startedAt: start, now: start)
            try await store.reportServiceRunning("imap", host: "mx2", pid: 7, startedAt: start, now: start + 1)
            var processes = try await store.serviceProcesses()
            #expect(processes.map { "\($0.service) \($0.host) \($0.pid)" } == ["imap mx1 40", "imap mx2 7", "smtp mx1 40"])
            #expect(processes[0].startedAt == start && processes[0].seenAt == start && processes[0].stoppedAt == nil)

            try await store.reportServiceRunning("imap", host: "mx1", pid: 40, startedAt: start, now: start + 15)
            processes = try await store.serviceProcesses()
            #expect(processes.count == 3 && processes[0].seenAt == start + 15)
            #expect(processes[0].state(at: start + 60) == .running && processes[2].state(at: start + 60) == .silent)

            try await store.reportServiceStopped("imap", host: "mx2", pid: 7, now: start + 20)
            processes = try await store.serviceProcesses()
            #expect(processes[1].stoppedAt == start + 20 && processes[1].state(at: start + 21) == .stopped)
            // The same pid later (a restart that got it again) runs again.
            try await store.reportServiceRunning("imap", host: "mx2", pid: 7, startedAt: start + 30, now: start + 30)
            processes = try await store.serviceProcesses()
            #expect(processes[1].stoppedAt == nil && processes[1].startedAt == start + 30)

            // A day later, a report forgets every row not seen since.
            let later = start + 86_400 + 16
            try await store.reportServiceRunning("smtp", host: "mx3", pid: 1, startedAt: later, now: later)
            #expect(try await store.serviceProcesses().map { "\($0.service) \($0.host)" } == ["imap mx2", "smtp mx3"])
        }
    }
}
