import Foundation
import MailStore
import MailboxFormats

/// Imports an mbox file into one mailbox (made when missing): each message with the `From ` line's
/// date as its received time and the flags of its `Status`/`X-Status`/`X-Keywords` fields, numbered
/// after what the mailbox holds. The file is read a megabyte at a time, so memory stays bounded by
/// the largest message, whatever the file's size.
public struct MboxImport: Sendable {
    let store: MailStore
    let account: Account
    let mailbox: String
    let quoting: MboxReader.Quoting
    /// Stop at the account's quota instead of filing past it.
    let respectQuota: Bool
    let batchMessages = 200

    public init(store: MailStore, account: Account, mailbox: String, quoting: MboxReader.Quoting, respectQuota: Bool = false) {
        self.store = store
        self.account = account
        self.mailbox = mailbox
        self.quoting = quoting
        self.respectQuota = respectQuota
    }

    public func run(file: URL, progress report: @Sendable (MigrationProgress) -> Void = { _ in })
        async throws(MigrationError) -> MigrationProgress
    {
        let target: Mailbox
        do throws(MailStoreError) {
            do throws(MailStoreError) {
                target = try await self.store.mailbox(named: self.mailbox, of: self.account.id)
            } catch .unknownMailbox {
                target = try await self.store.createMailbox(
                    named: self.mailbox, of: self.account.id, specialUse: DovecotMaildirImport.specialUse(self.mailbox))
            }
        } catch {
            throw .store(path: file.path, error)
        }
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw .file(path: file.path, reason: "cannot open the file")
        }
        defer { try? handle.close() }
        var reader = MboxReader(quoting: self.quoting)
        var progress = MigrationProgress()
        progress.folder = self.mailbox
        var batch: [NewMessage] = []
        func save(_ messages: [MboxReader.Message], force: Bool) async throws(MigrationError) {
            for message in messages {
                batch.append(NewMessage(content: .whole(Data(message.content)), flags: message.flags, internalDate: message.date ?? Date()))
                progress.messages += 1
                progress.bytes += Int64(message.content.count)
            }
            guard !batch.isEmpty, force || batch.count >= self.batchMessages else { return }
            do throws(MailStoreError) {
                _ = try await self.store.appendMessages(batch, to: target.id, enforcingQuota: self.respectQuota)
            } catch {
                throw .store(path: file.path, error)
            }
            batch.removeAll(keepingCapacity: true)
            report(progress)
        }
        // The reader's error names the line; the import's names the file.
        func messages(_ read: () throws(MboxReader.ReadError) -> [MboxReader.Message]) throws(MigrationError)
            -> [MboxReader.Message]
        {
            do {
                return try read()
            } catch {
                throw .file(path: file.path, reason: error.description)
            }
        }
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw .file(path: file.path, reason: "cannot read the file: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            try await save(try messages { () throws(MboxReader.ReadError) in try reader.read(chunk) }, force: false)
        }
        try await save(try messages { () throws(MboxReader.ReadError) in try reader.finish() }, force: true)
        progress.folders = 1
        return progress
    }
}
