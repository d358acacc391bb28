import MailFormat
import NIOCore

/// Turns `IMAPResponse`s into the bytes of RFC 9051 §7 (and the extensions' response grammars): the
/// one place the server's responses are written. Status text cannot break a line (controls become
/// spaces); mailbox names are modified UTF-7 unless UTF-8 is on (RFC 6855 §3); strings are quoted or
/// literals as their bytes need.
public struct IMAPResponseEncoder: Sendable {
    /// UTF8=ACCEPT is enabled: mailbox names are written in UTF-8.
    public var utf8: Bool
    /// Strings other than mailbox names (metadata values) may hold UTF-8 unquoted (UTF8=ACCEPT or
    /// IMAP4rev2).
    public var utf8Strings: Bool

    public init(utf8: Bool, utf8Strings: Bool? = nil) {
        self.utf8 = utf8
        self.utf8Strings = utf8Strings ?? utf8
    }

    public func encode(_ responses: [IMAPResponse]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for response in responses { self.write(response, into: &buffer) }
        return buffer
    }

    public func encode(_ response: IMAPResponse) -> ByteBuffer { self.encode([response]) }

    /// `* BYE [code] text`: what a connection hears as it is closed outside any command.
    public static func bye(_ text: String, code: IMAPResponseCode? = nil) -> ByteBuffer {
        IMAPResponseEncoder(utf8: false).encode(.status(tag: nil, .bye, code, text))
    }

    public func write(_ response: IMAPResponse, into buffer: inout ByteBuffer) {
        switch response {
        case .status(let tag, let condition, let code, let text):
            buffer.writeString(tag ?? "*")
            buffer.writeString(" " + condition.rawValue + " ")
            if let code {
                buffer.writeString("[")
                self.write(code, into: &buffer)
                buffer.writeString("] ")
            }
            buffer.writeString(IMAPEncoding.text(text))
        case .continuation(let text):
            buffer.writeString("+ " + IMAPEncoding.text(text))
        case .capability(let items):
            buffer.writeString("* CAPABILITY " + items.joined(separator: " "))
        case .enabled(let items):
            buffer.writeString("* ENABLED" + items.map { " " + $0 }.joined())
        case .id(let fields):
            buffer.writeString("* ID ")
            guard !fields.isEmpty else {
                buffer.writeString("NIL")
                break
            }
            buffer.writeString("(")
            for (index, field) in fields.enumerated() {
                if index > 0 { buffer.writeString(" ") }
                buffer.writeBytes(IMAPEncoding.string(field.name, utf8: false))
                buffer.writeString(" ")
                self.writeNString(field.value.map { Array($0.utf8) }, into: &buffer)
            }
            buffer.writeString(")")
        case .namespace(let prefix, let delimiter):
            buffer.writeString("* NAMESPACE ((")
            buffer.writeBytes(IMAPEncoding.string(prefix))
            buffer.writeString(" ")
            buffer.writeBytes(IMAPEncoding.string(delimiter))
            buffer.writeString(")) NIL NIL")
        case .exists(let count): buffer.writeString("* \(count) EXISTS")
        case .recent(let count): buffer.writeString("* \(count) RECENT")
        case .expunge(let number): buffer.writeString("* \(number) EXPUNGE")
        case .vanished(let earlier, let uids):
            buffer.writeString(earlier ? "* VANISHED (EARLIER) " : "* VANISHED ")
            buffer.writeString(IMAPNumberRanges.text(uids))
        case .flags(let flags):
            buffer.writeString("* FLAGS " + IMAPEncoding.flagList(flags))
        case .list(let attributes, let mailbox, let childInfoSubscribed, let oldName):
            buffer.writeString("* LIST (" + attributes.joined(separator: " ") + ") \"/\" ")
            buffer.writeBytes(IMAPEncoding.mailbox(mailbox, utf8: self.utf8))
            if childInfoSubscribed { buffer.writeString(" (\"CHILDINFO\" (\"SUBSCRIBED\"))") }
            if let oldName {
                buffer.writeString(" (\"OLDNAME\" (")
                buffer.writeBytes(IMAPEncoding.mailbox(oldName, utf8: self.utf8))
                buffer.writeString("))")
            }
        case .lsub(let attributes, let mailbox):
            buffer.writeString("* LSUB (" + attributes.joined(separator: " ") + ") \"/\" ")
            buffer.writeBytes(IMAPEncoding.mailbox(mailbox, utf8: self.utf8))
        case .mailboxStatus(let mailbox, let items):
            buffer.writeString("* STATUS ")
            buffer.writeBytes(IMAPEncoding.mailbox(mailbox, utf8: self.utf8))
            buffer.writeString(" (")
            for (index, item) in items.enumerated() {
                if index > 0 { buffer.writeString(" ") }
                buffer.writeString(item.attribute.rawValue + " ")
                switch item.value {
                case .number(let number): buffer.writeString(String(number))
                case .objectID(let id): buffer.writeString("(" + id + ")")
                }
            }
            buffer.writeString(")")
        case .search(let numbers, let modSeq):
            buffer.writeString("* SEARCH")
            for number in numbers { buffer.writeString(" " + String(number)) }
            if let modSeq { buffer.writeString(" (MODSEQ \(modSeq))") }
        case .esearch(let tag, let byUID, let items):
            buffer.writeString("* ESEARCH")
            if let tag {
                buffer.writeString(" (TAG ")
                buffer.writeBytes(IMAPEncoding.string(tag))
                buffer.writeString(")")
            }
            if byUID { buffer.writeString(" UID") }
            for item in items {
                switch item {
                case .min(let number): buffer.writeString(" MIN \(number)")
                case .max(let number): buffer.writeString(" MAX \(number)")
                case .count(let count): buffer.writeString(" COUNT \(count)")
                case .all(let ranges): buffer.writeString(" ALL " + IMAPNumberRanges.text(ranges))
                case .partial(let range, let ranges):
                    buffer.writeString(" PARTIAL (\(range.text) \(ranges.isEmpty ? "NIL" : IMAPNumberRanges.text(ranges)))")
                case .modSeq(let modSeq): buffer.writeString(" MODSEQ \(modSeq)")
                case .addTo(let updates), .removeFrom(let updates):
                    if case .addTo = item { buffer.writeString(" ADDTO (") } else { buffer.writeString(" REMOVEFROM (") }
                    buffer.writeString(updates.map { "\($0.position) " + IMAPNumberRanges.text($0.numbers) }.joined(separator: " "))
                    buffer.writeString(")")
                }
            }
        case .sort(let numbers):
            buffer.writeString("* SORT")
            for number in numbers { buffer.writeString(" " + String(number)) }
        case .thread(let threads):
            buffer.writeString("* THREAD")
            if !threads.isEmpty { buffer.writeString(" " + MessageThreading.text(threads)) }
        case .fetchFlags(let number, let uid, let flags, let modSeq):
            var items: [String] = []
            if let uid { items.append("UID \(uid)") }
            if let flags { items.append("FLAGS " + IMAPEncoding.flagList(flags)) }
            if let modSeq { items.append("MODSEQ (\(modSeq))") }
            buffer.writeString("* \(number) FETCH (" + items.joined(separator: " ") + ")")
        case .quotaRoot(let mailbox, let roots):
            buffer.writeString("* QUOTAROOT ")
            buffer.writeBytes(IMAPEncoding.mailbox(mailbox, utf8: self.utf8))
            for root in roots {
                buffer.writeString(" ")
                buffer.writeBytes(IMAPEncoding.string(root, utf8: self.utf8))
            }
        case .quota(let root, let resources):
            buffer.writeString("* QUOTA ")
            buffer.writeBytes(IMAPEncoding.string(root, utf8: self.utf8))
            buffer.writeString(" (" + resources.map { "\($0.name) \($0.usage) \($0.limit)" }.joined(separator: " ") + ")")
        case .metadata(let mailbox, let entries):
            buffer.writeString("* METADATA ")
            buffer.writeBytes(IMAPEncoding.mailbox(mailbox, utf8: self.utf8))
            buffer.writeString(" (")
            for (index, entry) in entries.enumerated() {
                if index > 0 { buffer.writeString(" ") }
                buffer.writeBytes(IMAPEncoding.string(entry.name))
                buffer.writeString(" ")
                // A value that holds NUL is a literal8 (RFC 5464 §5).
                if let value = entry.value, value.contains(0) {
                    buffer.writeBytes(IMAPEncoding.binaryLiteral(value))
                } else {
                    self.writeNString(entry.value, into: &buffer)
                }
            }
            buffer.writeString(")")
        }
        buffer.writeString("\r\n")
    }

    private func writeNString(_ value: [UInt8]?, into buffer: inout ByteBuffer) {
        guard let value else {
            buffer.writeString("NIL")
            return
        }
        buffer.writeBytes(IMAPEncoding.string(value, utf8: self.utf8Strings))
    }

    private func write(_ code: IMAPResponseCode, into buffer: inout ByteBuffer) {
        let text: String
        switch code {
        case .alreadyExists: text = "ALREADYEXISTS"
        case .authenticationFailed: text = "AUTHENTICATIONFAILED"
        case .cannot: text = "CANNOT"
        case .closed: text = "CLOSED"
        case .compressionActive: text = "COMPRESSIONACTIVE"
        case .hasChildren: text = "HASCHILDREN"
        case .limit: text = "LIMIT"
        case .nonExistent: text = "NONEXISTENT"
        case .noPerm: text = "NOPERM"
        case .overQuota: text = "OVERQUOTA"
        case .privacyRequired: text = "PRIVACYREQUIRED"
        case .readOnly: text = "READ-ONLY"
        case .readWrite: text = "READ-WRITE"
        case .tooBig: text = "TOOBIG"
        case .tryCreate: text = "TRYCREATE"
        case .unavailable: text = "UNAVAILABLE"
        case .useAttr: text = "USEATTR"
        case .unknownCTE: text = "UNKNOWN-CTE"
        case .badCharset(let charsets): text = "BADCHARSET (" + charsets.joined(separator: " ") + ")"
        // The URL is a resp-text-code's text: anything but "]" and controls (RFC 9051 §9).
        case .badURL(let url): text = "BADURL " + String(IMAPEncoding.text(url).map { $0 == "]" ? " " : $0 })
        case .capability(let items): text = "CAPABILITY " + items.joined(separator: " ")
        case .uidValidity(let value): text = "UIDVALIDITY \(value)"
        case .uidNext(let value): text = "UIDNEXT \(value)"
        case .unseen(let number): text = "UNSEEN \(number)"
        case .highestModSeq(let modSeq): text = "HIGHESTMODSEQ \(modSeq)"
        case .mailboxID(let id): text = "MAILBOXID (\(id))"
        case .permanentFlags(let flags): text = "PERMANENTFLAGS " + IMAPEncoding.flagList(flags)
        case .appendUID(let uidValidity, let uids):
            text = "APPENDUID \(uidValidity) " + IMAPNumberRanges.text(IMAPNumberRanges.ranges(of: uids))
        case .copyUID(let uidValidity, let sources, let copies):
            text = "COPYUID \(uidValidity) " + sources.map(String.init).joined(separator: ",") + " "
                + copies.map(String.init).joined(separator: ",")
        case .modified(let numbers): text = "MODIFIED " + IMAPNumberRanges.text(IMAPNumberRanges.ranges(of: numbers))
        case .metadataMaxSize(let size): text = "METADATA MAXSIZE \(size)"
        case .metadataTooMany: text = "METADATA TOOMANY"
        case .metadataLongEntries(let size): text = "METADATA LONGENTRIES \(size)"
        case .badEvent(let events): text = "BADEVENT (" + events.joined(separator: " ") + ")"
        case .notificationOverflow: text = "NOTIFICATIONOVERFLOW"
        case .noUpdate(let tag): text = "NOUPDATE " + String(decoding: IMAPEncoding.string(tag), as: UTF8.self)
        }
        buffer.writeString(text)
    }
}
