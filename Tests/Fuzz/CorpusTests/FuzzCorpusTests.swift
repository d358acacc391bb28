import Foundation
import FuzzHarnesses
import Testing

/// Every input kept in `Tests/Fuzz/Corpus/<target>/` (the seeds, and each input a fuzzer found a fault
/// with, kept once the fault was fixed) goes through its target on every test run: a fault fixed once
/// stays fixed.
@Suite("Fuzz corpora replayed")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Corpus")

    @Test("every kept input of every target runs without a fault", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        let directory = Self.corpus.appendingPathComponent(target.rawValue)
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        #expect(!files.isEmpty, "no seeds for \(target.rawValue)")
        for file in files {
            target.run(Array(try Data(contentsOf: file)))
        }
    }
}
