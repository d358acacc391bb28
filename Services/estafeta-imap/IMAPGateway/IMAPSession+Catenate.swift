import Foundation
import IMAPProtocol
import MailFormat
import MailStore

/// CATENATE (RFC 4469): an APPENDed message made of text given in the command and of messages, or
/// sections of them, that the account already has, named by IMAP URLs (RFC 5092).
extension IMAPSession {
    struct CatenateRefusal: Error {
        let code: IMAPResponseCode
        let text: String
    }

    /// The message the parts make, or the NO to answer: `[BADURL url]` for a URL that is not one of
    /// this account's messages (another user's, a mailbox that is not there, a UIDVALIDITY that no
    /// longer holds, a part the message has not), `[TOOBIG]` past APPENDLIMIT.
    func catenated(_ parts: [IMAPCatenatePart], account: AccountID, address: EmailAddress) async throws -> Result<[UInt8], CatenateRefusal> {
        var message: [UInt8] = []
        for part in parts {
            switch part {
            case .text(let text):
                message += WireLines.normalised(text, dotStuffing: false)
            case .url(let text):
                guard let url = IMAPMessageURL(text), url.names(address),
                    let mailbox = try await self.existingMailbox(url.mailbox, of: account),
                    url.uidValidity.map({ $0 == mailbox.uidValidity }) ?? true,
                    let (stored, content) = try await self.store.messagesWithContent(
                        in: mailbox.id, uids: url.uid...url.uid, content: .whole, largest: Int64(self.appendLimit - message.count)
                    ).first
                else { return .failure(CatenateRefusal(code: .badURL(text), text: "No such message of this account")) }
                // One read: a message that cannot fit comes without its content.
                guard let content, stored.size + Int64(message.count) <= Int64(self.appendLimit) else {
                    return .failure(CatenateRefusal(code: .tooBig, text: "The message would be over \(self.appendLimit) octets"))
                }
                let bytes = Array(content)
                guard let data = Self.urlData(url, of: bytes) else {
                    return .failure(CatenateRefusal(code: .badURL(text), text: "No such part of the message"))
                }
                message += data
            }
            guard message.count <= self.appendLimit else {
                return .failure(CatenateRefusal(code: .tooBig, text: "The message would be over \(self.appendLimit) octets"))
            }
        }
        return .success(message)
    }

    /// The octets a URL names in a message: the whole, or a section (as FETCH BODY[section] gives it),
    /// then its PARTIAL window; nil when the section names a part the message has not.
    static func urlData(_ url: IMAPMessageURL, of bytes: [UInt8]) -> [UInt8]? {
        var data = bytes
        if let section = url.section {
            // The section is read as FETCH reads one.
            guard case .success(let command) = IMAPCommandParser().parse(IMAPCommandBytes(lines: [Array("x FETCH 1 BODY.PEEK[\(section)]".utf8)])),
                case .fetch(_, let items, _, _, _, _) = command.kind, case .bodySection(let spec, _, nil)? = items.first
            else { return nil }
            let structure = spec.part.isEmpty ? nil : IMAPMessageStructure(bytes)
            if let structure, structure.root.part(spec.part) == nil { return nil }
            data = IMAPFetchResponse.section(spec, of: bytes, structure: structure)
        }
        if let partial = url.partial {
            let start = min(partial.offset, data.count)
            let end = partial.length.map { min(start + $0, data.count) } ?? data.count
            data = Array(data[start..<end])
        }
        return data
    }
}

/// An IMAP URL of a message on this server (RFC 5092 §6): `imap://[user@]host[:port]/mailbox;UIDVALIDITY=n/;UID=n`
/// or its absolute path `/mailbox;UIDVALIDITY=n/;UID=n`, with `/;SECTION=s` and `/;PARTIAL=o[.l]` optional.
/// URLAUTH and relative forms are not taken.
struct IMAPMessageURL {
    var user: String?
    var mailbox: String
    var uidValidity: UInt32?
    var uid: UInt32
    var section: String?
    var partial: (offset: Int, length: Int?)?

    init?(_ text: String) {
        guard text.utf8.count <= 4096 else { return nil }
        var rest = Substring(text)
        if rest.lowercased().hasPrefix("imap://") {
            rest = rest.dropFirst(7)
            guard let slash = rest.firstIndex(of: "/") else { return nil }
            let authority = rest[..<slash]
            if let at = authority.lastIndex(of: "@") {
                // `user;AUTH=mechanism` names the same user.
                let userinfo = authority[..<at].split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                guard let user = String(userinfo).removingPercentEncoding, !user.isEmpty else { return nil }
                self.user = user
            }
            rest = rest[slash...]
        }
        guard rest.hasPrefix("/") else { return nil }
        let pieces = rest.dropFirst().components(separatedBy: "/;")
        guard pieces.count >= 2 else { return nil }
        var mailboxPart = Substring(pieces[0])
        if let marker = mailboxPart.range(of: ";UIDVALIDITY=", options: .caseInsensitive) {
            guard let validity = UInt32(mailboxPart[marker.upperBound...]), validity > 0 else { return nil }
            self.uidValidity = validity
            mailboxPart = mailboxPart[..<marker.lowerBound]
        }
        guard let mailbox = String(mailboxPart).removingPercentEncoding, !mailbox.isEmpty else { return nil }
        self.mailbox = mailbox
        var uid: UInt32?
        for piece in pieces.dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            let value = String(pair[1])
            switch pair[0].uppercased() {
            case "UID" where uid == nil:
                guard let number = UInt32(value), number > 0 else { return nil }
                uid = number
            case "SECTION" where self.section == nil && uid != nil:
                guard let section = value.removingPercentEncoding, !section.isEmpty else { return nil }
                self.section = section
            case "PARTIAL" where self.partial == nil && uid != nil:
                let numbers = value.split(separator: ".", maxSplits: 1).map { Int($0) }
                guard let offset = numbers.first ?? nil, offset >= 0 else { return nil }
                if numbers.count == 2 {
                    guard let length = numbers[1], length > 0 else { return nil }
                    self.partial = (offset, length)
                } else {
                    self.partial = (offset, nil)
                }
            default:
                return nil  // URLAUTH, EXPIRE and anything else
            }
        }
        guard let uid else { return nil }
        self.uid = uid
    }

    /// Whether the URL's user, if it names one, is `address` (the whole address, or its local part).
    func names(_ address: EmailAddress) -> Bool {
        guard let user = self.user?.lowercased() else { return true }
        return user == address.description.lowercased() || user == address.localPart.lowercased()
    }
}
