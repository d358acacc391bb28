import Foundation
import IMAPProtocol
import MailStore
import MailboxFormats

/// Writes an account out as a Dovecot Maildir (Maildir++ folders) that Dovecot takes back as it is:
/// each folder with its `dovecot-uidlist` (UIDVALIDITY, next UID, each file's UID), `dovecot-keywords`,
/// files named with their flags and keyword letters and dated with their received time, and the
/// account's `subscriptions`; content as stored (CRLF). A client that synchronised against Estafeta
/// goes on against a Dovecot that reads it without fetching anything again.
///
/// The target directory must not exist yet: an export never writes over mail.
public struct MaildirExport: Sendable {
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
        let mailboxes = try await ExportTarget.mailboxes(of: self.account, in: self.store, root: root)
        let subscriptions: [String]
        do throws(MailStoreError) {
            subscriptions = try await self.store.subscriptions(of: self.account.id)
        } catch {
            throw .store(path: root.path, error)
        }
        try Self.makeDirectory(root)
        for mailbox in mailboxes {
            progress.folder = mailbox.name
            let levels = mailbox.name.split(separator: "/", omittingEmptySubsequences: false).map { ModifiedUTF7.encode(String($0)) }
            if mailbox.name != "INBOX", levels.contains(where: { $0.contains(".") || $0.isEmpty }) {
                // Maildir++ keeps the hierarchy in dots: a name with one cannot be written there.
                progress.problems.append("\(mailbox.name): a name with a dot cannot be a Maildir++ folder; not exported")
                continue
            }
            let directory = mailbox.name == "INBOX" ? root : root.appendingPathComponent("." + levels.joined(separator: "."))
            try await self.export(mailbox, to: directory, progress: &progress)
            progress.folders += 1
            report(progress)
        }
        let subscribed = subscriptions.map { name in
            name.split(separator: "/", omittingEmptySubsequences: false).map { ModifiedUTF7.encode(String($0)) }
        }
        try Self.write(Array(DovecotSubscriptions.text(subscribed).utf8), to: root.appendingPathComponent("subscriptions"))
        return progress
    }

    func export(_ mailbox: Mailbox, to directory: URL, progress: inout MigrationProgress) async throws(MigrationError) {
        for subdirectory in ["cur", "new", "tmp"] { try Self.makeDirectory(directory.appendingPathComponent(subdirectory)) }
        let messages: [StoredMessage]
        do throws(MailStoreError) {
            messages = try await self.store.messages(in: mailbox.id)
        } catch {
            throw .store(path: directory.path, error)
        }
        var keywords = DovecotKeywords()
        var records: [DovecotUIDList.Record] = []
        for message in messages {
            let content: Data?
            do throws(MailStoreError) {
                content = try await self.store.messageContent(in: mailbox.id, uid: message.uid)
            } catch {
                throw .store(path: directory.path, error)
            }
            // Expunged meanwhile by a client: not exported.
            guard let content else { continue }
            let seconds = Int(message.internalDate.timeIntervalSince1970)
            let base = "\(seconds).M\(message.uid)P\(mailbox.id.rawValue).estafeta,S=\(content.count),W=\(content.count)"
            var letters: [Character] = []
            for keyword in message.flags where !keyword.hasPrefix("\\") {
                guard let letter = keywords.letter(for: keyword) else {
                    progress.problems.append("\(mailbox.name) UID \(message.uid): more than 26 keywords in the folder; \(keyword) not kept")
                    continue
                }
                letters.append(letter)
            }
            let name = MaildirFileName.name(base: base, flags: message.flags.filter { $0.hasPrefix("\\") }, keywordLetters: letters)
            let file = directory.appendingPathComponent("cur").appendingPathComponent(name)
            try Self.write(Array(content), to: file)
            do {
                // Dovecot takes the file's modification time as the received time.
                try FileManager.default.setAttributes([.modificationDate: message.internalDate], ofItemAtPath: file.path)
            } catch {
                throw .file(path: file.path, reason: "cannot set its time: \(error.localizedDescription)")
            }
            records.append(DovecotUIDList.Record(uid: message.uid, fileBase: base, extensions: ["W": String(content.count)]))
            progress.messages += 1
            progress.bytes += Int64(content.count)
        }
        let list = DovecotUIDList(uidValidity: mailbox.uidValidity, nextUID: mailbox.uidNext, records: records)
        try Self.write(Array(list.text.utf8), to: directory.appendingPathComponent("dovecot-uidlist"))
        if !keywords.names.isEmpty {
            try Self.write(Array(keywords.text.utf8), to: directory.appendingPathComponent("dovecot-keywords"))
        }
    }

    static func makeDirectory(_ url: URL) throws(MigrationError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw .file(path: url.path, reason: "cannot make the directory: \(error.localizedDescription)")
        }
    }

    static func write(_ bytes: [UInt8], to url: URL) throws(MigrationError) {
        do {
            try Data(bytes).write(to: url, options: .withoutOverwriting)
        } catch {
            throw .file(path: url.path, reason: "cannot write the file: \(error.localizedDescription)")
        }
    }
}
