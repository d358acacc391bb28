import Foundation
import MailStore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Store shared by several OS processes", .serialized)
struct MultiProcessTests {
    @Test("two processes writing at once lose no write and never surface SQLITE_BUSY")
    func concurrentWriters() async throws {
        try await StoreFixture.with { fixture in
            _ = try fixture.open()  // created and migrated; the writers race on the writes only
            let perProcess = 300
            let writers = try ["A", "B"].map { tag in
                try ChildProcess.start(
                    BuiltProducts.executable("StoreTorture"), ["accept", fixture.path, String(perProcess), tag])
            }
            // This process writes too, so three writers contend for the lock.
            let store = try fixture.open()
            for index in 0..<100 {
                _ = try await store.acceptMessage(
                    Data("Subject: C \(index)\r\n\r\nx\r\n".utf8), envelope: TestData.envelope())
            }
            for writer in writers {
                let result = try await writer.finish(timeout: .seconds(120))
                #expect(result.status == 0, "a writer failed: \(result.errors)")
                #expect(!result.errors.contains("busy"), "\(result.errors)")
            }
            let stats = try await store.queueStats()
            #expect(stats.counts[.queued] == 2 * perProcess + 100)
        }
    }

    @Test("every message acknowledged before kill -9 of the writer is there afterwards, and the file is sound")
    func durableAfterKill() async throws {
        try await StoreFixture.with { fixture in
            let child = try ChildProcess.start(
                BuiltProducts.executable("StoreTorture"), ["accept-forever", fixture.path, "K"])
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
            child.process.waitUntilExit()
            #expect(child.process.terminationReason == .uncaughtSignal)
            #expect(acknowledged.count >= 150)

            let store = try fixture.open()
            #expect(try await store.integrityCheck().isEmpty)
            for id in acknowledged {
                let content = try await store.queuedContent(QueueMessageID(id))
                #expect(content != nil, "message \(id) was acknowledged but is gone")
            }
        }
    }
}
