import Foundation
import IMAPProtocol
import MailFormat
import MailStore
import MailboxFormats

/// Imports one account's Dovecot Maildir (Maildir++ folders `.a.b`, or `LAYOUT=fs` directories) into
/// the store so that IMAP clients notice nothing: each folder keeps its UIDVALIDITY and next UID and
/// each message its UID (from `dovecot-uidlist`), its flags and keywords (from the file name and
/// `dovecot-keywords`) and its received time (the file's modification time, as Dovecot takes it); the
/// content is kept as it is, with line ends made CRLF as IMAP APPEND stores them.
///
/// Run again, it goes on where it stopped: a folder's messages below its next UID are there already.
/// The first file or list that cannot be read stops it with its path, unless `continueOnError`.
public struct DovecotMaildirImport: Sendable {
    public enum Layout: String, Sendable, CaseIterable {
        /// `.Sent`, `.Archive.2025` beside `cur`, `new`, `tmp` of INBOX (Dovecot's default).
        case maildirPlusPlus = "maildir++"
        /// `Sent/`, `Archive/2025/`, each with its own `cur`, `new`, `tmp`.
        case fs
    }

    public struct Options: Sendable {
        public var layout: Layout
        public var continueOnError: Bool
        /// Messages filed per transaction, at most.
        public var batchMessages: Int
        public var batchBytes: Int
        /// Stop at the account's quota (the store's over-quota error) instead of filing past it.
        public var respectQuota: Bool
        /// On a run again, make messages imported before match the Maildir: flags changed there since
        /// are changed here, messages expunged there are expunged here. Without it they are counted only.
        public var update: Bool
        /// The escape character of Dovecot's listescape plugin in directory names (`.v1\2e2` is `v1.2`);
        /// nil takes directory names as they are.
        public var escapeCharacter: UInt8?

        public init(
            layout: Layout = .maildirPlusPlus, continueOnError: Bool = false, respectQuota: Bool = false, update: Bool = false,
            escapeCharacter: UInt8? = DovecotListEscape.defaultCharacter, batchMessages: Int = 200, batchBytes: Int = 8 << 20
        ) {
            self.update = update
            self.escapeCharacter = escapeCharacter
            self.layout = layout
            self.continueOnError = continueOnError
            self.respectQuota = respectQuota
            self.batchMessages = batchMessages
            self.batchBytes = batchBytes
        }
    }

    let store: MailStore
    let account: Account
    let options: Options

    public init(store: MailStore, account: Account, options: Options = Options()) {
        self.store = store
        self.account = account
        self.options = options
    }

    /// Imports every folder under `root` (INBOX is `root` itself) and the subscriptions.
    public func run(root: URL, progress report: @Sendable (MigrationProgress) -> Void = { _ in }) async throws(MigrationError) -> MigrationProgress {
        var progress = MigrationProgress()
        var imported: Set<String> = []
        for folder in try self.folders(under: root) {
            progress.folder = folder.name
            do throws(MigrationError) {
                try await self.importFolder(folder, progress: &progress, report: report)
                imported.insert(folder.name)
            } catch {
                guard self.options.continueOnError else { throw error }
                progress.problems.append(error.description)
            }
            progress.folders += 1
            report(progress)
        }
        // The subscriptions as Dovecot had them: each imported folder subscribed or not (a folder Dovecot
        // lists no subscription for is unsubscribed, INBOX too), names in modified UTF-7 per level.
        // Without the file (a Maildir from another server) the subscriptions stay as they are.
        let subscriptions = root.appendingPathComponent("subscriptions")
        guard FileManager.default.fileExists(atPath: subscriptions.path) else { return progress }
        var subscribed: Set<String> = []
        let separator: Character = self.options.layout == .fs ? "/" : "."
        for levels in DovecotSubscriptions.parse(try Self.read(subscriptions), separator: separator) where !levels.isEmpty {
            let name = levels.map(self.folderLevel).joined(separator: "/")
            subscribed.insert(name.uppercased() == "INBOX" ? "INBOX" : name)
        }
        for name in imported.union(subscribed).sorted() {
            do throws(MailStoreError) {
                try await self.store.setSubscribed(subscribed.contains(name), mailbox: name, of: self.account.id)
            } catch .invalidMailboxName, .unknownMailbox {
                // IMAP lets a client subscribe to a name that is no mailbox; the store does not keep those.
                progress.problems.append("subscriptions: \(name) is not a mailbox here; not subscribed")
            } catch {
                throw .store(path: subscriptions.path, error)
            }
        }
        return progress
    }

    struct Folder {
        let name: String
        let directory: URL
    }

    /// INBOX first, then the others by name.
    func folders(under root: URL) throws(MigrationError) -> [Folder] {
        var folders = [Folder(name: "INBOX", directory: root)]
        switch self.options.layout {
        case .maildirPlusPlus:
            for entry in try Self.entries(root) where entry.hasPrefix(".") && entry != "." && entry != ".." {
                let directory = root.appendingPathComponent(entry)
                guard Self.isMaildir(directory) else { continue }
                let levels = entry.dropFirst().split(separator: ".", omittingEmptySubsequences: false).map { self.folderLevel(String($0)) }
                folders.append(Folder(name: levels.joined(separator: "/"), directory: directory))
            }
        case .fs:
            var pending: [(URL, [String])] = [(root, [])]
            while let (directory, levels) = pending.popLast() {
                for entry in try Self.entries(directory) where !["cur", "new", "tmp"].contains(entry) && !entry.hasPrefix(".") {
                    let child = directory.appendingPathComponent(entry)
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: child.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                    let name = levels + [self.folderLevel(entry)]
                    if Self.isMaildir(child) { folders.append(Folder(name: name.joined(separator: "/"), directory: child)) }
                    // Bounded: a directory tree deeper than any mailbox hierarchy is not followed further.
                    if name.count < 32 { pending.append((child, name)) }
                }
            }
        }
        return [folders[0]] + folders.dropFirst().sorted { $0.name < $1.name }
    }

    /// A level of a directory name (or of a subscription) as a level of the folder's name: listescape's
    /// escapes undone, then modified UTF-7 (RFC 3501 section 5.1.3) decoded.
    func folderLevel(_ stored: String) -> String {
        let unescaped = self.options.escapeCharacter.map { DovecotListEscape.decode(stored, escape: $0) } ?? stored
        return ModifiedUTF7.decode(unescaped) ?? unescaped
    }

    /// A message file, small: a folder's list of them is what an import holds per message. The base
    /// name is shared with the index it is filed under; the rest of the name (`:2,FS`) is short enough
    /// to be stored inline in the String value.
    struct MessageFile {
        let base: String
        let suffix: String
        let inNew: Bool

        var name: String { self.base + self.suffix }

        func url(in folder: URL) -> URL {
            folder.appendingPathComponent(self.inNew ? "new" : "cur").appendingPathComponent(self.name)
        }
    }

    func importFolder(_ folder: Folder, progress: inout MigrationProgress, report: @Sendable (MigrationProgress) -> Void) async throws(MigrationError) {
        let uidListURL = folder.directory.appendingPathComponent("dovecot-uidlist")
        let uidList: DovecotUIDList?
        if FileManager.default.fileExists(atPath: uidListURL.path) {
            do {
                // The import needs no extension fields (sizes, GUIDs): not kept, a dictionary less per message.
                uidList = try DovecotUIDList(parsing: try Self.read(uidListURL), keepingExtensions: false)
            } catch let error as DovecotUIDList.ParseError {
                throw .file(path: uidListURL.path, reason: error.description)
            } catch let error as MigrationError {
                throw error
            } catch {
                throw .file(path: uidListURL.path, reason: "\(error)")
            }
        } else {
            uidList = nil
        }
        let keywordsURL = folder.directory.appendingPathComponent("dovecot-keywords")
        let keywords = FileManager.default.fileExists(atPath: keywordsURL.path)
            ? DovecotKeywords(parsing: try Self.read(keywordsURL)) : DovecotKeywords()

        // The folder's files by base name; `new` holds what no client has seen yet.
        var files: [String: MessageFile] = [:]
        for (subdirectory, inNew) in [("cur", false), ("new", true)] {
            let directory = folder.directory.appendingPathComponent(subdirectory)
            guard FileManager.default.fileExists(atPath: directory.path) else { continue }
            try Self.forEachEntry(of: directory) { (name) throws(MigrationError) in
                guard !name.hasPrefix(".") else { return }
                let base = MaildirFileName.base(of: name)
                if files[base] != nil {
                    throw .file(path: directory.appendingPathComponent(name).path, reason: "two files with the base name \(base)")
                }
                files[base] = MessageFile(base: base, suffix: String(name.dropFirst(base.count)), inNew: inNew)
            }
        }

        let mailbox: Mailbox
        do throws(MailStoreError) {
            if let uidList {
                mailbox = try await self.store.prepareImportedMailbox(
                    named: folder.name, of: self.account.id, uidValidity: uidList.uidValidity,
                    specialUse: Self.specialUse(folder.name))
            } else {
                do throws(MailStoreError) {
                    mailbox = try await self.store.mailbox(named: folder.name, of: self.account.id)
                } catch .unknownMailbox {
                    mailbox = try await self.store.createMailbox(
                        named: folder.name, of: self.account.id, specialUse: Self.specialUse(folder.name))
                }
            }
        } catch {
            throw .store(path: folder.directory.path, error)
        }

        // Listed files keep their UIDs; the others follow in name order (Maildir names start with
        // the delivery time), numbered from the list's next UID on.
        // Each file moves out of `files` as its record is met: what stays there is unlisted.
        var listed: [(uid: UInt32?, file: MessageFile)] = []
        // What messages an earlier run imported look like in the Maildir now, by UID.
        var earlier: [UInt32: MessageFile] = [:]
        for record in uidList?.records ?? [] {
            guard let file = files.removeValue(forKey: record.fileBase) else {
                progress.listedWithoutFile += 1
                continue
            }
            if record.uid < mailbox.uidNext {
                progress.alreadyThere += 1
                earlier[record.uid] = file
                continue
            }
            listed.append((record.uid, file))
        }
        let listNext = uidList?.nextUID ?? 1
        if uidList != nil, mailbox.uidNext > 1 {
            try await self.compareEarlier(
                earlier, keywords: keywords, below: min(listNext, mailbox.uidNext), in: mailbox, at: folder, progress: &progress)
        }
        earlier = [:]
        // Files no uidlist numbers (all of a folder from another server) are numbered in name order
        // after the listed ones; how far an earlier run got is kept in the mailbox's metadata (RFC 5464,
        // a vendor entry), as the base name of the last such file imported.
        let marker: String?
        do throws(MailStoreError) {
            marker = try await self.store.metadata(of: self.account.id, mailbox: mailbox.id)
                .first { $0.name == Self.progressEntry }.map { String(decoding: $0.value, as: UTF8.self) }
        } catch {
            throw .store(path: folder.directory.path, error)
        }
        let unlisted = files.values.sorted { $0.base < $1.base }.filter { file in
            guard let marker, file.base <= marker else { return true }
            progress.alreadyThere += 1
            return false
        }
        files = [:]

        var batch: [NewMessage] = []
        var batchBytes = 0
        var lastUnlisted: String?
        func flush() async throws(MigrationError) {
            guard !batch.isEmpty else { return }
            do throws(MailStoreError) {
                _ = try await self.store.appendMessages(batch, to: mailbox.id, enforcingQuota: self.options.respectQuota)
                // After the messages: a run stopped between the two files these again rather than losing them.
                if let lastUnlisted {
                    try await self.store.setMetadata([(Self.progressEntry, Data(lastUnlisted.utf8))], of: self.account.id, mailbox: mailbox.id)
                }
            } catch {
                throw .store(path: folder.directory.path, error)
            }
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
            report(progress)
        }
        func add(_ file: MessageFile, uid: UInt32?) async throws(MigrationError) {
            let raw: [UInt8]
            do throws(MigrationError) {
                raw = try Self.read(file.url(in: folder.directory))
            } catch {
                guard self.options.continueOnError else { throw error }
                progress.problems.append(error.description)
                return
            }
            // Dovecot takes a Maildir file's modification time as the message's received time.
            let modified = ((try? FileManager.default.attributesOfItem(atPath: file.url(in: folder.directory).path))?[.modificationDate] as? Date) ?? Date()
            let flags = Self.flags(of: file, keywords: keywords)
            let content = Self.crlf(raw)
            batch.append(NewMessage(content: .whole(Data(content)), flags: flags, internalDate: modified, uid: uid))
            batchBytes += content.count
            progress.messages += 1
            progress.bytes += Int64(content.count)
            if batch.count >= self.options.batchMessages || batchBytes >= self.options.batchBytes { try await flush() }
        }

        for (uid, file) in listed { try await add(file, uid: uid) }
        try await flush()
        do throws(MailStoreError) {
            if uidList != nil { try await self.store.raiseUIDNext(of: mailbox.id, to: listNext) }
            // What was listed is not \Recent any more; what is still in `new` is.
            let firstNew = listed.filter { $0.file.inNew }.compactMap(\.uid).min() ?? listNext
            _ = try await self.store.claimRecent(in: mailbox.id, below: min(firstNew, listNext))
        } catch {
            throw .store(path: folder.directory.path, error)
        }
        for file in unlisted {
            lastUnlisted = file.base
            try await add(file, uid: nil)
        }
        try await flush()
    }

    /// A file's flags: none for one in `new`, else its name's flags and keywords.
    static func flags(of file: MessageFile, keywords: DovecotKeywords) -> Set<String> {
        guard !file.inNew else { return [] }
        let parsed = MaildirFileName(file.name)
        var flags = parsed.flags
        for letter in parsed.keywordLetters {
            if let keyword = keywords.keyword(for: letter) { flags.insert(keyword) }
        }
        return flags
    }

    /// On a run again: the messages an earlier run imported (UIDs below the list's next UID, which is
    /// where mail numbered here starts), compared with the Maildir now. A message file is never
    /// rewritten, only renamed when its flags change, so other flags in its name are the one change
    /// there is; a UID the list no longer has, or whose file is gone, was expunged there.
    func compareEarlier(
        _ earlier: [UInt32: MessageFile], keywords: DovecotKeywords, below limit: UInt32, in mailbox: Mailbox, at folder: Folder,
        progress: inout MigrationProgress
    ) async throws(MigrationError) {
        do throws(MailStoreError) {
            var changed: [Set<String>: [UInt32]] = [:]
            var removed: [UInt32] = []
            for (uid, flags) in try await self.store.messageFlags(in: mailbox.id) where uid < limit {
                guard let file = earlier[uid] else {
                    removed.append(uid)
                    continue
                }
                let now = Self.flags(of: file, keywords: keywords)
                if now != flags { changed[now, default: []].append(uid) }
            }
            progress.changedInSource += changed.values.reduce(0) { $0 + $1.count }
            progress.removedInSource += removed.count
            guard self.options.update else { return }
            progress.sourceChangesApplied = true
            for (flags, uids) in changed {
                _ = try await self.store.updateFlags(.replace(flags), in: mailbox.id, uids: uids)
            }
            if !removed.isEmpty { try await self.store.expunge(uids: removed, in: mailbox.id) }
        } catch {
            throw .store(path: folder.directory.path, error)
        }
    }

    /// The mailbox metadata entry that says how far the import of unnumbered files got.
    static let progressEntry = "/private/vendor/estafeta/import-progress"

    /// Special uses of the usual folder names (RFC 6154), for folders made here.
    static func specialUse(_ name: String) -> SpecialUse? {
        switch name.lowercased() {
        case "sent", "sent messages", "sent items", "sent mail": .sent
        case "drafts": .drafts
        case "trash", "deleted messages", "deleted items": .trash
        case "junk", "spam": .junk
        case "archive", "archives": .archive
        default: nil
        }
    }

    /// Bare LF line ends become CRLF; CRLF stays.
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(0x0A) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 40)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            out.append(byte)
            previous = byte
        }
        return out
    }

    static func isMaildir(_ directory: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory.appendingPathComponent("cur").path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    static func entries(_ directory: URL) throws(MigrationError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            throw .file(path: directory.path, reason: "cannot list the directory: \(error.localizedDescription)")
        }
    }

    /// Each name in a directory, in the directory's order, without holding the list: a folder of a
    /// million files is read one name at a time.
    static func forEachEntry(of directory: URL, _ body: (String) throws(MigrationError) -> Void) throws(MigrationError) {
        guard let stream = opendir(directory.path) else {
            throw .file(path: directory.path, reason: "cannot list the directory: \(String(cString: strerror(errno)))")
        }
        defer { closedir(stream) }
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                guard errno == 0 else { throw .file(path: directory.path, reason: "cannot list the directory: \(String(cString: strerror(errno)))") }
                return
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            try body(name)
        }
    }

    static func read(_ url: URL) throws(MigrationError) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            throw .file(path: url.path, reason: "cannot read the file: \(error.localizedDescription)")
        }
    }
}
