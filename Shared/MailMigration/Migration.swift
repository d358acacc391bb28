import Foundation
import MailStore

/// Counts so far of an import or export, for progress lines and the final report.
public struct MigrationProgress: Sendable, Equatable {
    public var folders = 0
    public var messages = 0
    public var bytes: Int64 = 0
    /// Messages that an earlier run imported.
    public var alreadyThere = 0
    /// Listed in a uidlist with no file any more (expunged in Dovecot since the list was written).
    public var listedWithoutFile = 0
    /// Messages an earlier run imported whose flags were changed in the source since (found on a run
    /// again; changed here only with `update`).
    public var changedInSource = 0
    /// Messages an earlier run imported that were expunged in the source since (removed here only with
    /// `update`).
    public var removedInSource = 0
    /// Whether those changes were made here (`update`).
    public var sourceChangesApplied = false
    /// Folders an export wrote with listescape's escapes (a dot in a level, say): a Dovecot reading
    /// them needs that plugin.
    public var escapedNames = 0
    /// Problems passed over (only with `continueOnError`, or what an export could not write).
    public var problems: [String] = []
    public var folder = ""

    public init() {}
}

/// Why an import or export stopped: a file it could not read or write, or the store's refusal, each
/// with the path it was at.
public enum MigrationError: Error, CustomStringConvertible {
    case file(path: String, reason: String)
    case store(path: String, MailStoreError)

    public var description: String {
        switch self {
        case .file(let path, let reason): "\(path): \(reason)"
        case .store(let path, let error): "\(path): \(error)"
        }
    }
}

enum ExportTarget {
    /// Refuses a `root` that exists already (an export writes a new directory and never over mail),
    /// then reads what to export.
    static func checkNew<Result>(_ root: URL, then read: () async throws(MigrationError) -> Result)
        async throws(MigrationError) -> Result
    {
        guard !FileManager.default.fileExists(atPath: root.path) else {
            throw .file(path: root.path, reason: "exists already; an export writes a new directory")
        }
        return try await read()
    }
}
