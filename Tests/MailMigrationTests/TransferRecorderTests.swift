import Foundation
import MailMigration
import MailStore
import Testing
import TestSupport

@Suite("Transfer recorder: a running import's progress reaches the store")
struct TransferRecorderTests {
    @Test("noted counts are written within seconds while the run goes on; the end is kept with the error or the first problem")
    func reports() async throws {
        try await StoreFixture.with(.sqlite) { fixture in
            let store = try await fixture.openStore()
            let recorder = try await TransferRecorder.start(store: store, kind: "import mbox", account: "bob@example.org", source: "/x.mbox")
            let reporting = Task { await recorder.keepReporting() }
            var progress = MigrationProgress()
            progress.folder = "Archive"
            progress.folders = 1
            progress.messages = 120
            progress.bytes = 4_000
            recorder.note(progress)
            var seen: MailTransfer?
            for _ in 0..<300 {
                seen = try await store.transfer(recorder.id)
                if seen?.counts.messages == 120 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(seen?.state == .running && seen?.counts.messages == 120 && seen?.detail == "Archive", "\(String(describing: seen))")
            reporting.cancel()
            await reporting.value
            progress.messages = 130
            progress.problems = ["cur/x: cannot read", "cur/y: cannot read"]
            try await recorder.finish(progress)
            let finished = try await store.transfer(recorder.id)
            #expect(finished?.state == .finished && finished?.counts.messages == 130 && finished?.counts.problems == 2)
            #expect(finished?.detail == "cur/x: cannot read")

            let failing = try await TransferRecorder.start(store: store, kind: "import dovecot", account: nil, source: "/m")
            try await failing.finish(failing.lastProgress, error: "/m/.A/dovecot-uidlist: line 3")
            let failed = try await store.transfer(failing.id)
            #expect(failed?.state == .failed && failed?.detail == "/m/.A/dovecot-uidlist: line 3" && failed?.host.contains("pid") == true)
        }
    }
}
