import Foundation
import IMAPProtocol
import MailFormat
import MailStore
import MailboxFormats

/// Writes an account out as a Dovecot Maildir (Maildir++ folders) that Dovecot takes back as it is:
/// each folder with its `dovecot-uidlist` (UIDVALIDITY, next UID, each file's UID), `dovecot-keywords`,
/// files named with their flags and keyword letters and dated with their received time, and the
/// account's `subscriptions`; content as stored (CRLF). A client that synchronised against Estafeta
/// goes on against a Dovecot that reads it without fetching anything again.
///
/// The same entries go to a new directory (`run(to:)`) or, one at a time, into a tar stream
/// (`entries()`, for the admin API).
public struct MaildirExport: Sendable {
    let store: MailStore
    let account: Account

    public init(store: MailStore, account: Account) {
        self.store = store
        self.account = account
    }

    /// Writes the Maildir into `root`, which must not exist yet: an export never writes over mail.
    public func run(to root: URL, progress report: @Sendable (MigrationProgress) -> Void = { _ in })
        async throws(MigrationError) -> MigrationProgress
    {
        var entries = try await ExportTarget.checkNew(root) { () async throws(MigrationError) in try await self.entries() }
        try Self.makeDirectory(root)
        var reported = 0
        while let entry = try await entries.next() {
            let url = root.appendingPathComponent(entry.path)
            switch entry.content {
            case .directory: try Self.makeDirectory(url)
            case .file(let content):
                try Self.write(Array(content), to: url)
                do {
                    // Dovecot takes the file's modification time as the received time.
                    try FileManager.default.setAttributes([.modificationDate: entry.modified], ofItemAtPath: url.path)
                } catch {
                    throw .file(path: url.path, reason: "cannot set its time: \(error.localizedDescription)")
                }
            }
            if entries.progress.folders != reported {
                reported = entries.progress.folders
                report(entries.progress)
            }
        }
        return entries.progress
    }

    /// The account's mailboxes and subscriptions, read now; messages are read as the entries are taken.
    public func entries() async throws(MigrationError) -> MaildirEntries {
        do throws(MailStoreError) {
            return MaildirEntries(
                store: self.store, mailboxes: try await self.store.mailboxes(of: self.account.id),
                subscriptions: try await self.store.subscriptions(of: self.account.id))
        } catch {
            throw .store(path: self.account.address.description, error)
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

/// One directory or file of an exported Maildir, its path relative to the Maildir's root.
public struct MaildirEntry: Sendable {
    public enum Content: Sendable {
        case directory
        case file(Data)
    }

    public let path: String
    public let content: Content
    public let modified: Date
}

/// The entries of an account's Maildir in an order a reader can create them in (each directory before
/// what is in it), produced one at a time so that only one message is in memory. Folders whose names
/// Maildir++ cannot hold and keywords past Dovecot's 26 per folder are left out and listed in
/// `progress.problems`.
public struct MaildirEntries: Sendable {
    let store: MailStore
    let mailboxes: [Mailbox]
    let subscriptions: [String]
    public private(set) var progress = MigrationProgress()
    private var nextMailbox = 0
    private var current: Folder?
    private var ready: [MaildirEntry] = []
    private var finished = false

    /// The mailbox being written: its directory, messages, and the uidlist and keywords built so far.
    private struct Folder: Sendable {
        let mailbox: Mailbox
        let directory: String
        let messages: [StoredMessage]
        var nextMessage = 0
        var keywords = DovecotKeywords()
        var records: [DovecotUIDList.Record] = []
    }

    init(store: MailStore, mailboxes: [Mailbox], subscriptions: [String]) {
        self.store = store
        self.mailboxes = mailboxes
        self.subscriptions = subscriptions
    }

    public mutating func next() async throws(MigrationError) -> MaildirEntry? {
        while self.ready.isEmpty {
            guard !self.finished else { return nil }
            if self.current != nil {
                try await self.takeMessage()
            } else if self.nextMailbox < self.mailboxes.count {
                try await self.open(self.mailboxes[self.nextMailbox])
                self.nextMailbox += 1
            } else {
                let subscribed = self.subscriptions.map(Self.directoryLevels)
                self.ready.append(Self.file("subscriptions", DovecotSubscriptions.text(subscribed)))
                self.finished = true
            }
        }
        return self.ready.removeFirst()
    }

    private mutating func open(_ mailbox: Mailbox) async throws(MigrationError) {
        self.progress.folder = mailbox.name
        let levels = Self.directoryLevels(mailbox.name)
        if mailbox.name != "INBOX", levels.contains(where: \.isEmpty) {
            // Maildir++ has no directory name for an empty level (`.a..b` is not a folder `a//b`).
            self.progress.problems.append("\(mailbox.name): a name with an empty level cannot be a Maildir++ folder; not exported")
            return
        }
        let plain = mailbox.name.split(separator: "/", omittingEmptySubsequences: false).map { ModifiedUTF7.encode(String($0)) }
        if plain.contains(where: { DovecotListEscape.needsPlugin($0, dotSeparatesLevels: true) }) {
            self.progress.escapedNames += 1
        }
        let directory = mailbox.name == "INBOX" ? "" : "." + levels.joined(separator: ".") + "/"
        let messages: [StoredMessage]
        do throws(MailStoreError) {
            messages = try await self.store.messages(in: mailbox.id)
        } catch {
            throw .store(path: mailbox.name, error)
        }
        if !directory.isEmpty { self.ready.append(Self.directory(directory)) }
        for subdirectory in ["cur", "new", "tmp"] { self.ready.append(Self.directory(directory + subdirectory)) }
        self.current = Folder(mailbox: mailbox, directory: directory, messages: messages)
    }

    private mutating func takeMessage() async throws(MigrationError) {
        guard var folder = self.current else { return }
        // Taken out while it changes, so that its lists are not copied on each message.
        self.current = nil
        guard folder.nextMessage < folder.messages.count else {
            let mailbox = folder.mailbox
            let list = DovecotUIDList(uidValidity: mailbox.uidValidity, nextUID: mailbox.uidNext, records: folder.records)
            self.ready.append(Self.file(folder.directory + "dovecot-uidlist", list.text))
            if !folder.keywords.names.isEmpty {
                self.ready.append(Self.file(folder.directory + "dovecot-keywords", folder.keywords.text))
            }
            self.progress.folders += 1
            return
        }
        let message = folder.messages[folder.nextMessage]
        folder.nextMessage += 1
        defer { self.current = folder }
        let content: Data?
        do throws(MailStoreError) {
            content = try await self.store.messageContent(in: folder.mailbox.id, uid: message.uid)
        } catch {
            throw .store(path: folder.mailbox.name, error)
        }
        // Expunged meanwhile by a client: not exported.
        guard let content else { return }
        let seconds = Int(message.internalDate.timeIntervalSince1970)
        let base = "\(seconds).M\(message.uid)P\(folder.mailbox.id.rawValue).estafeta,S=\(content.count),W=\(content.count)"
        var letters: [Character] = []
        for keyword in message.flags.sorted() where !keyword.hasPrefix("\\") {
            guard let letter = folder.keywords.letter(for: keyword) else {
                self.progress.problems.append(
                    "\(folder.mailbox.name) UID \(message.uid): more than 26 keywords in the folder; \(keyword) not kept")
                continue
            }
            letters.append(letter)
        }
        let name = MaildirFileName.name(base: base, flags: message.flags.filter { $0.hasPrefix("\\") }, keywordLetters: letters)
        self.ready.append(MaildirEntry(path: folder.directory + "cur/" + name, content: .file(content), modified: message.internalDate))
        folder.records.append(DovecotUIDList.Record(uid: message.uid, fileBase: base, extensions: ["W": String(content.count)]))
        self.progress.messages += 1
        self.progress.bytes += Int64(content.count)
    }

    /// A folder name's levels as Maildir++ directory (and subscription) levels: modified UTF-7 (RFC 3501
    /// section 5.1.3), then the dot that would split a level, a leading `~` and a backslash that would
    /// read as an escape written as Dovecot's listescape plugin writes them.
    static func directoryLevels(_ name: String) -> [String] {
        name.split(separator: "/", omittingEmptySubsequences: false).map {
            DovecotListEscape.encode(ModifiedUTF7.encode(String($0)), dotSeparatesLevels: true)
        }
    }

    private static func directory(_ path: String) -> MaildirEntry {
        MaildirEntry(path: path, content: .directory, modified: Date())
    }

    private static func file(_ path: String, _ text: String) -> MaildirEntry {
        MaildirEntry(path: path, content: .file(Data(text.utf8)), modified: Date())
    }
}
