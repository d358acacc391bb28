import MailFormat

/// Parses one command line (without its CRLF) into an `SMTPCommand`. Pure and total: every input
/// either parses or throws an `SMTPSyntaxError`; nothing traps.
public struct SMTPCommandParser: Sendable {
    /// UTF-8 in RCPT paths, allowed once MAIL FROM carried SMTPUTF8 (RFC 6531 §3.4).
    public var utf8PathsAllowed: Bool

    /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
    public static let maximumPathLength = 256

    public init(utf8PathsAllowed: Bool = false) {
        self.utf8PathsAllowed = utf8PathsAllowed
    }

    public func parse(_ line: some Collection<UInt8>) throws(SMTPSyntaxError) -> SMTPCommand {
        let bytes = Array(line)
        // NUL and other control characters never belong in a command line.
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw .invalidCharacters }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidCharacters }
        let verbEnd = text.firstIndex(of: " ") ?? text.endIndex
        let verb = text[..<verbEnd].uppercased()
        let argument = verbEnd < text.endIndex ? String(text[text.index(after: verbEnd)...]) : ""
        let ascii = bytes.allSatisfy { $0 < 0x80 }
        // Non-ASCII is only ever allowed in MAIL and RCPT arguments (RFC 6531); checked there.
        guard ascii || verb == "MAIL" || verb == "RCPT" else { throw .invalidCharacters }

        switch verb {
        case "EHLO": return .ehlo(domain: try Self.clientIdentity(argument))
        case "HELO": return .helo(domain: try Self.clientIdentity(argument))
        case "MAIL": return try self.mail(argument, ascii: ascii)
        case "RCPT": return try self.rcpt(argument, ascii: ascii)
        case "DATA": return try Self.noArguments(argument, .data)
        case "RSET": return try Self.noArguments(argument, .rset)
        case "QUIT": return try Self.noArguments(argument, .quit)
        case "STARTTLS": return try Self.noArguments(argument, .starttls)
        case "NOOP": return .noop  // RFC 5321 §4.1.1.9: a NOOP argument is ignored
        case "HELP": return .help(argument.isEmpty ? nil : argument)
        case "VRFY", "EXPN":
            guard !argument.trimmingSpaces.isEmpty else { throw .malformedArguments("\(verb) needs an argument") }
            return verb == "VRFY" ? .vrfy(argument) : .expn(argument)
        case "BDAT": return try Self.bdat(argument)
        case "AUTH": return try Self.auth(argument)
        default: throw .unknownCommand
        }
    }

    // MARK: Commands

    private static func noArguments(_ argument: String, _ command: SMTPCommand) throws(SMTPSyntaxError) -> SMTPCommand {
        guard argument.trimmingSpaces.isEmpty else { throw .malformedArguments("no argument expected") }
        return command
    }

    /// EHLO/HELO argument: a domain or an address literal (RFC 5321 §4.1.1.1).
    static func clientIdentity(_ argument: String) throws(SMTPSyntaxError) -> String {
        let name = String(argument.trimmingSpaces)
        guard !name.isEmpty, name.utf8.count <= 255, !name.contains(" ") else { throw .malformedDomain }
        if name.hasPrefix("[") {
            guard name.hasSuffix("]"), AddressLiteral.isValid(String(name.dropFirst().dropLast())) else {
                throw .malformedDomain
            }
            return name
        }
        do { _ = try EmailAddress.normalisedDomain(name) } catch { throw .malformedDomain }
        guard name.utf8.allSatisfy({ $0 < 0x80 }) else { throw .malformedDomain }
        return name
    }

    private func mail(_ argument: String, ascii: Bool) throws(SMTPSyntaxError) -> SMTPCommand {
        let rest = try Self.afterKeyword("FROM:", in: argument)
        let (path, parameterText) = try Self.splitPath(rest)
        var parameters = MailParameters()
        var seen: Set<String> = []
        for (keyword, value) in try Self.parameters(parameterText) {
            guard seen.insert(keyword).inserted else { throw .duplicateParameter(keyword) }
            switch keyword {
            case "SIZE":
                // RFC 1870: 1*20DIGIT; parsed with overflow checks.
                guard let value, !value.isEmpty, value.utf8.count <= 20, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                    let size = Int(value)
                else { throw .malformedParameter("SIZE") }
                parameters.size = size
            case "BODY":
                guard let value, let body = MailParameters.Body(rawValue: value.uppercased()) else {
                    throw .malformedParameter("BODY")
                }
                parameters.body = body
            case "SMTPUTF8":
                guard value == nil else { throw .malformedParameter("SMTPUTF8") }
                parameters.smtpUTF8 = true
            case "RET":
                guard let value, let ret = MailParameters.Return(rawValue: value.uppercased()) else {
                    throw .malformedParameter("RET")
                }
                parameters.returnContent = ret
            case "ENVID":
                guard let value, let decoded = XText.decode(value), decoded.utf8.count <= 100 else {
                    throw .malformedParameter("ENVID")
                }
                parameters.envelopeID = decoded
            case "AUTH":
                guard let value, let decoded = XText.decode(value) else { throw .malformedParameter("AUTH") }
                parameters.authenticatedSender = decoded
            default:
                throw .unsupportedParameter(keyword)
            }
        }
        // RFC 6531 §3.4: a UTF-8 reverse-path needs the SMTPUTF8 parameter.
        guard ascii || parameters.smtpUTF8 else { throw .invalidCharacters }
        if path == "<>" { return .mail(reversePath: nil, parameters: parameters) }
        return .mail(reversePath: try Self.mailbox(inPath: path), parameters: parameters)
    }

    private func rcpt(_ argument: String, ascii: Bool) throws(SMTPSyntaxError) -> SMTPCommand {
        guard ascii || self.utf8PathsAllowed else { throw .invalidCharacters }
        let rest = try Self.afterKeyword("TO:", in: argument)
        let (path, parameterText) = try Self.splitPath(rest)
        var parameters = RecipientParameters()
        var seen: Set<String> = []
        for (keyword, value) in try Self.parameters(parameterText) {
            guard seen.insert(keyword).inserted else { throw .duplicateParameter(keyword) }
            switch keyword {
            case "NOTIFY":
                guard let value else { throw .malformedParameter("NOTIFY") }
                let words = value.uppercased().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if words == ["NEVER"] {
                    parameters.notify = []
                } else {
                    var notify: Set<RecipientParameters.Notify> = []
                    for word in words {
                        guard let flag = RecipientParameters.Notify(rawValue: word) else {
                            throw .malformedParameter("NOTIFY")
                        }
                        notify.insert(flag)
                    }
                    parameters.notify = notify
                }
            case "ORCPT":
                // RFC 3461 §4.2: addr-type ";" xtext.
                guard let value, let semicolon = value.firstIndex(of: ";"),
                    !value[..<semicolon].isEmpty,
                    let address = XText.decode(String(value[value.index(after: semicolon)...])),
                    !address.isEmpty, value.utf8.count <= 500
                else { throw .malformedParameter("ORCPT") }
                parameters.originalRecipient = "\(value[..<semicolon]);\(address)"
            default:
                throw .unsupportedParameter(keyword)
            }
        }
        if path.uppercased() == "<POSTMASTER>" { return .rcpt(forwardPath: .postmaster, parameters: parameters) }
        return .rcpt(forwardPath: .mailbox(try Self.mailbox(inPath: path)), parameters: parameters)
    }

    private static func bdat(_ argument: String) throws(SMTPSyntaxError) -> SMTPCommand {
        let words = argument.split(separator: " ")
        guard (1...2).contains(words.count),
            words[0].utf8.count <= 18, words[0].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let size = Int(words[0])
        else { throw .malformedArguments("BDAT needs a chunk size (and LAST)") }
        if words.count == 2 {
            guard words[1].uppercased() == "LAST" else { throw .malformedArguments("BDAT takes only LAST") }
            return .bdat(size: size, last: true)
        }
        return .bdat(size: size, last: false)
    }

    private static func auth(_ argument: String) throws(SMTPSyntaxError) -> SMTPCommand {
        let words = argument.split(separator: " ")
        guard (1...2).contains(words.count), words[0].utf8.count <= 20,
            words[0].utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 })
        else { throw .malformedArguments("AUTH needs a mechanism") }
        return .auth(mechanism: words[0].uppercased(), initialResponse: words.count == 2 ? String(words[1]) : nil)
    }

    // MARK: Paths and parameters

    /// `FROM:` / `TO:`, case-insensitive; a space after the colon is tolerated (common in practice).
    private static func afterKeyword(_ keyword: String, in argument: String) throws(SMTPSyntaxError) -> Substring {
        guard argument.uppercased().hasPrefix(keyword) else { throw .malformedArguments("expected \(keyword)") }
        var rest = argument.dropFirst(keyword.count)
        while rest.first == " " { rest = rest.dropFirst() }
        return rest
    }

    /// Splits `<path> params…` at the `>` that closes the path (a `>` inside a quoted local part does not).
    private static func splitPath(_ text: Substring) throws(SMTPSyntaxError) -> (path: String, parameters: Substring) {
        guard text.first == "<" else { throw .malformedPath }
        var inQuotes = false
        var escaped = false
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if escaped {
                escaped = false
            } else if character == "\\" && inQuotes {
                escaped = true
            } else if character == "\"" {
                inQuotes.toggle()
            } else if character == ">" && !inQuotes {
                let path = String(text[...index])
                guard path.utf8.count <= Self.maximumPathLength else { throw .addressTooLong }
                let rest = text[text.index(after: index)...]
                guard rest.isEmpty || rest.first == " " else { throw .malformedPath }
                return (path, rest)
            }
            index = text.index(after: index)
        }
        throw .malformedPath
    }

    /// The mailbox of `<[@route,…:]local@domain>`; a source route is ignored as RFC 5321 §4.1.1.3 and
    /// Appendix C allow, so it can never steer the message elsewhere.
    static func mailbox(inPath path: String) throws(SMTPSyntaxError) -> EmailAddress {
        var inner = Substring(path.dropFirst().dropLast())
        if inner.first == "@" {
            guard let colon = inner.firstIndex(of: ":") else { throw .malformedPath }
            for hop in inner[..<colon].split(separator: ",", omittingEmptySubsequences: false) {
                guard hop.first == "@", (try? EmailAddress.normalisedDomain(String(hop.dropFirst()))) != nil else {
                    throw .malformedPath
                }
            }
            inner = inner[inner.index(after: colon)...]
        }
        guard let at = inner.lastIndex(of: "@") else { throw .malformedPath }
        let domain = inner[inner.index(after: at)...]
        if domain.hasPrefix("[") { throw .unsupportedAddressLiteral }
        do {
            return try EmailAddress(localPart: String(inner[..<at]), domain: String(domain))
        } catch .localPartTooLong {
            throw .addressTooLong
        } catch .domainTooLong {
            throw .addressTooLong
        } catch {
            throw .malformedPath
        }
    }

    /// `KEYWORD[=value]` separated by spaces; keywords upper-cased (RFC 5321 §4.1.2 esmtp-param).
    static func parameters(_ text: Substring) throws(SMTPSyntaxError) -> [(String, String?)] {
        var result: [(String, String?)] = []
        for word in text.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let keyword = parts[0].uppercased()
            guard !keyword.isEmpty, keyword.utf8.count <= 40,
                keyword.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 })
            else { throw .malformedArguments("bad parameter keyword") }
            if parts.count == 2 {
                let value = String(parts[1])
                // esmtp-value: %d33-60 / %d62-126, widened to UTF-8 by RFC 6531.
                guard !value.isEmpty, value.utf8.allSatisfy({ $0 > 32 && $0 != 61 && $0 != 127 }) else {
                    throw .malformedParameter(keyword)
                }
                result.append((keyword, value))
            } else {
                result.append((keyword, nil))
            }
        }
        return result
    }
}

/// RFC 3461 §4 xtext: `+XX` hex escapes for characters outside 33–126, `+` and `=`.
public enum XText {
    /// The text, or nil when it is not xtext. What xtext carries is printable (ENVID: graphic characters
    /// and white space, RFC 3461 §4.4; ORCPT and AUTH=: addresses), so an escaped control character
    /// other than a tab (a NUL, CR, LF, DEL) makes the parameter malformed rather than passing it on to
    /// the store, headers and reports.
    public static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue)
                else { return nil }
                let decoded = high << 4 | low
                guard decoded >= 32 || decoded == UInt8(ascii: "\t"), decoded != 127 else { return nil }
                bytes.append(decoded)
            } else {
                guard byte >= 33, byte != UInt8(ascii: "="), byte <= 126 || byte >= 0x80 else { return nil }
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    public static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if byte >= 33 && byte <= 126 && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "=") {
                result.append(Character(Unicode.Scalar(byte)))
            } else {
                result += "+" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        default: nil  // RFC 3461: hexchar is upper case only
        }
    }
}

/// RFC 5321 §4.1.3 address literals: `1.2.3.4` or `IPv6:…` (a general literal is refused).
enum AddressLiteral {
    static func isValid(_ text: String) -> Bool {
        if text.uppercased().hasPrefix("IPV6:") {
            let address = text.dropFirst(5)
            guard !address.isEmpty, address.utf8.count <= 45, address.contains(":"),
                address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
            else { return false }
            return true
        }
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4
            && octets.allSatisfy { $0.count >= 1 && $0.count <= 3 && $0.allSatisfy(\.isASCIIDigit) && (Int($0) ?? 256) <= 255 }
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { $0 != " " }), let last = text.lastIndex(where: { $0 != " " }) else {
            return ""
        }
        return text[first...last]
    }
}

extension Character {
    var isASCIIDigit: Bool { self.isASCII && self.isNumber }
}

extension String {
    func leftPadded(to length: Int) -> String {
        self.count >= length ? self : String(repeating: "0", count: length - self.count) + self
    }
}
