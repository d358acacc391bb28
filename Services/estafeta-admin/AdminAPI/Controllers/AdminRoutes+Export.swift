import Foundation
import Hummingbird
import Logging
import MailFormat
import MailMigration
import MailStore
import MailboxFormats
import NIOCore

/// `GET /api/v1/accounts/{address}/export`: the account's mail as a tar archive of a Dovecot Maildir
/// (`Maildir/` with each folder's `dovecot-uidlist` and `dovecot-keywords`, as `estafeta export dovecot`
/// writes it), streamed while it is read, one message in memory at a time, so that an operator, or a
/// user's request for their data, gets everything in one download.
///
/// Mail is more than the settings a read token is for: the export takes a write token, and each one
/// is in the audit log.
extension AdminRoutes {
    @Sendable func exportAccount(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let address = try Self.address(try request.pathParameter("address", context: context), field: "address")
        guard let token = context.token, token.scope == .write, let actor = context.auditActor else {
            throw ProblemDetails(
                .forbidden, "insufficient-scope", "Exporting mail takes a write token",
                detail: "an export hands out every message of the account")
        }
        let account = try await self.store.account(address)
        let entries: MaildirEntries
        do throws(MigrationError) {
            entries = try await MaildirExport(store: self.store, account: account).entries()
        } catch {
            throw Self.problem(error)
        }
        try await self.store.recordAudit(action: "account.export", target: address.description, detail: "maildir tar", audit: actor)
        let recorder = try await TransferRecorder.start(
            store: self.store, kind: "export tar", account: address.description, source: "admin API token \(token.id)")
        let logger = context.logger
        let fileName = String(address.description.map { $0.isLetter || $0.isNumber || "@.-_+".contains($0) ? $0 : "_" })
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-tar", .contentDisposition: #"attachment; filename="\#(fileName).tar""#],
            body: ResponseBody { writer in
                var entries = entries
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { await recorder.keepReporting() }
                        defer { group.cancelAll() }
                        while let entry = try await entries.next() {
                            try await writer.write(Self.tarEntry(path: "Maildir/" + entry.path, entry.content, modified: entry.modified))
                            recorder.note(entries.progress)
                        }
                    }
                    if !entries.progress.problems.isEmpty {
                        let text = entries.progress.problems.joined(separator: "\n") + "\n"
                        try await writer.write(Self.tarEntry(path: "export-problems.txt", .file(Data(text.utf8)), modified: Date()))
                    }
                    try await writer.write(ByteBuffer(bytes: TarArchive.end))
                    try await writer.finish(nil)
                } catch {
                    // Either the store failed or the client went away. The status line has gone: the
                    // archive is cut off without its end blocks and the response without its last
                    // chunk, which clients report as an incomplete download.
                    logger.error("export stopped", metadata: ["account": "\(address)", "error": "\(error)"])
                    try await recorder.finish(entries.progress, error: "stopped: \(error)")
                    throw error
                }
                try await recorder.finish(entries.progress)
            })
    }

    static func tarEntry(path: String, _ content: MaildirEntry.Content, modified: Date) -> ByteBuffer {
        let seconds = Int64(modified.timeIntervalSince1970)
        switch content {
        case .directory:
            return ByteBuffer(bytes: TarArchive.header(path: path, type: .directory, size: 0, modified: seconds, mode: 0o700))
        case .file(let data):
            var buffer = ByteBuffer()
            buffer.reserveCapacity(data.count + 2 * TarArchive.blockSize)
            buffer.writeBytes(TarArchive.header(path: path, type: .file, size: data.count, modified: seconds, mode: 0o600))
            buffer.writeBytes(data)
            buffer.writeBytes(TarArchive.padding(afterContentOf: data.count))
            return buffer
        }
    }

    static func problem(_ error: MigrationError) -> any Error {
        switch error {
        case .store(_, let storeError): ProblemDetails(storeError)
        case .file(let path, let reason):
            ProblemDetails(.internalServerError, "export-failed", "The export could not be read", detail: "\(path): \(reason)")
        }
    }
}
