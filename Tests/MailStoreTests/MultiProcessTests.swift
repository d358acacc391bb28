import Foundation
import Logging
import MailStore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Store shared by several OS processes", .serialized)
struct MultiProcessTests {
    @Test("two processes writing at once lose no write and never surface SQLITE_BUSY or a serialization failure",
        arguments: StoreBackendKind.allCases)
    func concurrentWriters(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()  // created and migrated; the writers race on the writes only
            let perProcess = 300
            let writers = try ["A", "B"].map { tag in
                try ChildProcess.start(
                    BuiltProducts.executable("StoreTorture"), ["accept", fixture.location, String(perProcess), tag],
                    environment: fixture.childEnvironment)
            }
            // This process writes too, so three writers contend for the lock.
            for index in 0..<100 {
                _ = try await store.acceptMessage(
                    Data("Subject: C \(index)\r\n\r\nx\r\n".utf8), envelope: TestData.envelope())
            }
            for writer in writers {
                let result = try await writer.finish(timeout: .seconds(120))
                #expect(result.status == 0, "a writer failed: \(result.errors)")
                #expect(!result.errors.contains("busy") && !result.errors.contains("unavailable"), "\(result.errors)")
            }
            let stats = try await store.queueStats()
            #expect(stats.counts[.queued] == 2 * perProcess + 100)
        }
    }

    @Test("every message acknowledged before kill -9 of the writer is there afterwards, and the file is sound",
        arguments: StoreBackendKind.allCases)
    func durableAfterKill(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            _ = try await fixture.openStore()  // migrated before the writer starts
            let child = try ChildProcess.start(
                BuiltProducts.executable("StoreTorture"), ["accept-forever", fixture.location, "K"],
                environment: fixture.childEnvironment)
            let handle = child.output.fileHandleForReading
            // Read acknowledgements as a client reads 250 replies, then kill without warning.
            let acknowledged: [Int64] = await Task.detached {
                var ids: [Int64] = []
                var pending = ""
                let deadline = Date().addingTimeInterval(60)
                while ids.count < 150 && Date() < deadline {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    pending += String(decoding: data, as: UTF8.self)
                    while let newline = pending.firstIndex(of: "\n") {
                        let line = pending[..<newline]
                        pending.removeSubrange(...newline)
                        if line.hasPrefix("accepted "), let id = Int64(line.dropFirst("accepted ".count)) {
                            ids.append(id)
                        }
                    }
                }
                kill(child.process.processIdentifier, SIGKILL)
                return ids
            }.value
            // Waited for without blocking a thread of the concurrency pool (Foundation reaps with a lag under load).
            let deadline = ContinuousClock.now + .seconds(60)
            while child.process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(child.process.terminationReason == .uncaughtSignal)
            #expect(acknowledged.count >= 150)

            let store = try await fixture.openStore()
            if backend == .sqlite { #expect(try await store.integrityCheck().isEmpty) }
            for id in acknowledged {
                let content = try await store.queuedContent(QueueMessageID(id))
                #expect(content != nil, "message \(id) was acknowledged but is gone")
            }
        }
    }
}

@Suite("Queue leases and lock waits across OS processes", .serialized)
struct CrossProcessQueueTests {
    @Test("three worker processes leasing from one queue never hold the same recipient, and miss none",
        arguments: StoreBackendKind.allCases)
    func leasesAcrossProcesses(backend: StoreBackendKind) async throws {
        try await StoreFixture.with(backend) { fixture in
            let store = try await fixture.openStore()
            let recipients = (0..<60).map { "r\($0)@example.org" }
            for _ in 0..<5 {
                _ = try await store.acceptMessage(Data("x\r\n".utf8), envelope: TestData.envelope(to: recipients))
            }
            let workers = try ["w1", "w2", "w3"].map {
                try ChildProcess.start(
                    BuiltProducts.executable("StoreTorture"), ["lease", fixture.location, $0], environment: fixture.childEnvironment)
            }
            var seen: [String: Int] = [:]
            for worker in workers {
                let result = try await worker.finish(timeout: .seconds(120))
                #expect(result.status == 0, "\(result.errors)")
                for line in result.output.split(separator: "\n") where line.hasPrefix("leased ") {
                    seen[String(line.dropFirst(7)), default: 0] += 1
                }
            }
            #expect(seen.count == 300, "every recipient was leased")
            #expect(seen.values.allSatisfy { $0 == 1 }, "no recipient was leased twice")
            #expect(try await store.queueStats().counts[.delivered] == 300)
        }
    }

    @Test("a write waits for another process's lock within the busy timeout, and fails cleanly beyond it")
    func busyTimeout() async throws {
        try await StoreFixture.with { fixture in
            let patient = try MailStore.open(
                settings: MailStoreSettings(path: fixture.path, busyTimeout: .seconds(20)), logger: Logger(label: "t"))
            let impatient = try MailStore.open(
                settings: MailStoreSettings(path: fixture.path, busyTimeout: .milliseconds(300)), logger: Logger(label: "t"))
            let holder = try ChildProcess.start(
                BuiltProducts.executable("StoreTorture"), ["hold-lock", fixture.path, "3"])
            // Wait until the other process really holds the lock.
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                do {
                    _ = try await impatient.acceptMessage(Data("probe\r\n".utf8), envelope: TestData.envelope())
                    try await Task.sleep(for: .milliseconds(10))
                } catch {
                    break
                }
            }
            await #expect(throws: MailStoreError.self) {
                _ = try await impatient.acceptMessage(Data("x\r\n".utf8), envelope: TestData.envelope())
            }
            let accepted = try await patient.acceptMessage(Data("waited\r\n".utf8), envelope: TestData.envelope())
            #expect(try await patient.queuedContent(accepted.id) == Data("waited\r\n".utf8))
            #expect(try await holder.finish().status == 0)
        }
    }
}
