import Foundation
import MailStore
import MailboxFormats

/// Writes each mailbox of an account to an mbox file (mboxrd quoting; flags in `Status`, `X-Status`,
/// `X-Keywords`; the received time in the `From ` line): `INBOX.mbox`, `Archive/2025.mbox`. The target
/// directory must not exist yet.
public struct MboxExport: Sendable {
    let store: MailStore
    let account: Account

    public init(store: MailStore, account: Account) {
        self.store = store
        self.account = account
    }

    public func run(to root: URL, progress report: @Sendable (MigrationProgress) -> Void = { _ in })
        async throws(MigrationError) -> MigrationProgress
    {
        var progress = MigrationProgress()
        let mailboxes = try await ExportTarget.checkNew(root) { () async throws(MigrationError) in
            do throws(MailStoreError) {
                return try await self.store.mailboxes(of: self.account.id)
            } catch {
                throw .store(path: root.path, error)
            }
        }
        for mailbox in mailboxes {
            progress.folder = mailbox.name
            let file = root.appendingPathComponent(mailbox.name + ".mbox")
            try MaildirExport.makeDirectory(file.deletingLastPathComponent())
            guard FileManager.default.createFile(atPath: file.path, contents: nil), let handle = FileHandle(forWritingAtPath: file.path) else {
                throw .file(path: file.path, reason: "cannot create the file")
            }
            defer { try? handle.close() }
            let messages: [StoredMessage]
            do throws(MailStoreError) {
                messages = try await self.store.messages(in: mailbox.id)
            } catch {
                throw .store(path: file.path, error)
            }
            for message in messages {
                let content: Data?
                do throws(MailStoreError) {
                    content = try await self.store.messageContent(in: mailbox.id, uid: message.uid)
                } catch {
                    throw .store(path: file.path, error)
                }
                guard let content else { continue }
                let entry = MboxWriter.entry(content: content, envelopeSender: "MAILER-DAEMON", date: message.internalDate, flags: message.flags)
                do {
                    try handle.write(contentsOf: entry)
                } catch {
                    throw .file(path: file.path, reason: "cannot write: \(error.localizedDescription)")
                }
                progress.messages += 1
                progress.bytes += Int64(content.count)
            }
            progress.folders += 1
            report(progress)
        }
        return progress
    }
}
