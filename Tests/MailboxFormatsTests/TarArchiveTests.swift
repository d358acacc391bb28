import Foundation
import MailboxFormats
import Testing
import TestSupport

@Suite("tar archives as the export streams them, read by Python's tarfile and GNU tar")
struct TarArchiveTests {
    /// Directories, a short path, one split into ustar prefix and name, one only a pax record holds, an
    /// empty file and one that fills its last block exactly.
    @Test("paths of every length, sizes, modes and times come back as written")
    func readBack() async throws {
        let long = String(repeating: "&AOk-", count: 40) + "/cur/1700000000.M1P1.estafeta,S=3,W=3:2,S"
        let split = "Maildir/" + String(repeating: "b", count: 90) + "/cur/" + String(repeating: "c", count: 60)
        let entries: [(path: String, type: TarArchive.EntryType, content: [UInt8], modified: Int64)] = [
            ("Maildir", .directory, [], 1_600_000_000),
            ("Maildir/cur/1.M1:2,S", .file, Array("Subject: a\r\n\r\nbody\r\n".utf8), 1_700_000_000),
            (split, .file, Array("xyz".utf8), 1_700_000_001),
            (long, .file, Array("abc".utf8), 1_700_000_002),
            ("Maildir/empty", .file, [], 1_700_000_003),
            ("Maildir/block", .file, [UInt8](repeating: 0x41, count: 1024), 1_700_000_004),
        ]
        var archive: [UInt8] = []
        for entry in entries {
            archive += TarArchive.header(
                path: entry.path, type: entry.type, size: entry.content.count, modified: entry.modified,
                mode: entry.type == .directory ? 0o700 : 0o600)
            archive += entry.content + TarArchive.padding(afterContentOf: entry.content.count)
            #expect(archive.count % TarArchive.blockSize == 0)
        }
        archive += TarArchive.end
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-tar-\(UUID().uuidString).tar")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(archive).write(to: file)

        let python = """
            import sys, tarfile
            with tarfile.open(sys.argv[1], errorlevel=2) as archive:
                for member in archive:
                    data = archive.extractfile(member).read() if member.isfile() else b""
                    print(member.name, "d" if member.isdir() else "f", oct(member.mode), member.mtime, member.size, data.hex())
            """
        let read = try await Self.run("/usr/bin/env", ["python3", "-c", python, file.path])
        #expect(read.status == 0, "\(read.errors)")
        let expected = entries.map { entry in
            let hex = entry.content.map { String(format: "%02x", $0) }.joined()
            return "\(entry.path) \(entry.type == .directory ? "d" : "f") \(entry.type == .directory ? "0o700" : "0o600") \(entry.modified) \(entry.content.count) \(hex)"
        }
        #expect(read.output.split(separator: "\n").map(String.init) == expected)
        // GNU tar lists the same names without complaint (it checks each header's checksum).
        let listed = try await Self.run("/usr/bin/env", ["tar", "-t", "-f", file.path])
        #expect(listed.status == 0 && listed.errors.isEmpty, "\(listed.errors)")
        #expect(listed.output.split(separator: "\n").map(String.init) == entries.map { $0.type == .directory ? $0.path + "/" : $0.path })
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        try await ChildProcess.start(URL(fileURLWithPath: executable), arguments).finish(timeout: .seconds(60))
    }
}
