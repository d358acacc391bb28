/// Dovecot's `dovecot-uidlist` (one per Maildir folder): the folder's UIDVALIDITY and next UID, and
/// which file holds which UID. An import that keeps these keeps every client's cached state valid.
///
/// Version 3 (Dovecot 1.1 and later): a header `3 V<uidvalidity> N<next uid> G<mailbox guid>` (fields
/// keyed by their first letter, unknown ones kept), then a line per message: the UID, extension fields
/// (`W<size>`, `G<guid>`, ...) and `:` before the file's base name (its name without the `:2,` flags).
/// Version 1: `1 <uidvalidity> <next uid>`, then `<uid> <file name>`. UIDs ascend strictly.
public struct DovecotUIDList: Sendable, Equatable {
    public struct Record: Sendable, Equatable {
        public let uid: UInt32
        /// The file's base name, as `MaildirFileName.base` gives it.
        public let fileBase: String
        /// Extension fields by key letter (`W` is the size with CRLF line ends), version 3 only.
        public let extensions: [Character: String]

        public init(uid: UInt32, fileBase: String, extensions: [Character: String] = [:]) {
            self.uid = uid
            self.fileBase = fileBase
            self.extensions = extensions
        }
    }

    public let version: Int
    public let uidValidity: UInt32
    /// The UID the next message gets: never below the last record's UID + 1.
    public let nextUID: UInt32
    /// The mailbox GUID (32 hex digits), when the header has one.
    public let mailboxGUID: String?
    public let records: [Record]

    public init(uidValidity: UInt32, nextUID: UInt32, mailboxGUID: String? = nil, records: [Record]) {
        self.version = 3
        self.uidValidity = uidValidity
        self.nextUID = max(nextUID, (records.last?.uid ?? 0) + 1)
        self.mailboxGUID = mailboxGUID
        self.records = records
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// 1 for the header.
        public let line: Int
        public let reason: String
        public var description: String { "dovecot-uidlist line \(self.line): \(self.reason)" }
    }

    /// Reads the whole file. Anything Dovecot itself would call broken is an error naming the line: an
    /// import must not guess which UID a file had. Without `keepingExtensions` the extension fields are
    /// checked but not kept (a reader that needs none saves a dictionary per record).
    public init(parsing data: some Collection<UInt8>, keepingExtensions: Bool = true) throws(ParseError) {
        guard let text = String(validating: Array(data), as: UTF8.self) else {
            throw ParseError(line: 1, reason: "not UTF-8 text")
        }
        // CRLF is one Character in Swift, so both line ends are named.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if lines.last == "" { lines.removeLast() }
        guard let header = lines.first else { throw ParseError(line: 1, reason: "empty file") }
        guard header.count >= 2, let version = header.first?.wholeNumberValue, header.dropFirst().first == " " else {
            throw ParseError(line: 1, reason: "no version number")
        }
        var uidValidity: UInt32 = 0
        var nextUID: UInt32 = 0
        var guid: String?
        let fields = header.dropFirst(2).split(separator: " ")
        switch version {
        case 1:
            guard fields.count == 2, let validity = UInt32(fields[0]), let next = UInt32(fields[1]) else {
                throw ParseError(line: 1, reason: "a version 1 header is the UIDVALIDITY and the next UID")
            }
            (uidValidity, nextUID) = (validity, next)
        case 3:
            for field in fields {
                let value = field.dropFirst()
                switch field.first {
                case "V":
                    guard let number = UInt32(value) else { throw ParseError(line: 1, reason: "invalid UIDVALIDITY \(value)") }
                    uidValidity = number
                case "N":
                    guard let number = UInt32(value) else { throw ParseError(line: 1, reason: "invalid next UID \(value)") }
                    nextUID = number
                case "G":
                    guard value.count == 32, value.allSatisfy(\.isHexDigit) else {
                        throw ParseError(line: 1, reason: "invalid mailbox GUID \(value)")
                    }
                    guid = String(value).lowercased()
                default:
                    continue
                }
            }
        default:
            throw ParseError(line: 1, reason: "unsupported version \(version)")
        }
        guard uidValidity != 0, nextUID != 0 else {
            throw ParseError(line: 1, reason: "the header lacks the UIDVALIDITY or the next UID")
        }

        var records: [Record] = []
        var seen: Set<String> = []
        for (index, line) in lines.dropFirst().enumerated() {
            let number = index + 2
            let digits = line.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 10, let uid = UInt32(digits), uid != 0, uid != .max,
                line.dropFirst(digits.count).first == " "
            else { throw ParseError(line: number, reason: "a record starts with a UID and a space") }
            if let previous = records.last, uid <= previous.uid {
                throw ParseError(line: number, reason: "UID \(uid) does not follow \(previous.uid)")
            }
            if version == 1 && uid >= nextUID {
                throw ParseError(line: number, reason: "UID \(uid) is not below the next UID \(nextUID)")
            }
            var rest = line.dropFirst(digits.count).drop { $0 == " " }
            var extensions: [Character: String] = [:]
            if version == 3 {
                while let first = rest.first, first != ":" {
                    let field = rest.prefix { $0 != " " }
                    guard first.isASCII, first.isLetter else {
                        throw ParseError(line: number, reason: "invalid extension field \(field)")
                    }
                    if keepingExtensions { extensions[first] = String(field.dropFirst()) }
                    rest = rest.dropFirst(field.count).drop { $0 == " " }
                }
                guard rest.first == ":" else { throw ParseError(line: number, reason: "no file name") }
                rest = rest.dropFirst()
            }
            guard !rest.isEmpty else { throw ParseError(line: number, reason: "no file name") }
            guard !rest.contains("/") else { throw ParseError(line: number, reason: "a file name with a slash: \(rest)") }
            let base = MaildirFileName.base(of: String(rest))
            guard !base.isEmpty else { throw ParseError(line: number, reason: "no file name before the flags") }
            guard seen.insert(base).inserted else {
                throw ParseError(line: number, reason: "the file \(base) is listed twice")
            }
            records.append(Record(uid: uid, fileBase: base, extensions: extensions))
        }
        self.version = version
        self.uidValidity = uidValidity
        self.nextUID = max(nextUID, (records.last?.uid ?? 0) + 1)
        self.mailboxGUID = guid
        self.records = records
    }

    /// The file as Dovecot writes it (version 3), for an export Dovecot can take back as it is.
    public var text: String {
        var header = "3 V\(self.uidValidity) N\(self.nextUID)"
        if let guid = self.mailboxGUID { header += " G\(guid)" }
        var out = header + "\n"
        for record in self.records {
            out += "\(record.uid)"
            for key in record.extensions.keys.sorted() {
                out += " \(key)\(record.extensions[key] ?? "")"
            }
            out += " :\(record.fileBase)\n"
        }
        return out
    }
}
