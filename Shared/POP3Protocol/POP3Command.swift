/// A POP3 command (RFC 1939, with CAPA from RFC 2449, STLS from RFC 2595 and AUTH from RFC 5034).
/// Message numbers are 1-based positions in the maildrop as it was when the session began.
public enum POP3Command: Sendable, Equatable {
    case user(String)
    /// The rest of the line: a password may contain spaces (RFC 1939 §7).
    case pass(String)
    case apop(name: String, digest: String)
    case quit
    case stat
    case list(Int?)
    case retr(Int)
    case dele(Int)
    case noop
    case rset
    case top(Int, lines: Int)
    case uidl(Int?)
    case capa
    case stls
    /// `AUTH mechanism [initial-response]` (RFC 5034 §4); the mechanism upper-cased.
    case auth(mechanism: String, initialResponse: String?)

    /// The keyword, for logs and metrics.
    public var keyword: String {
        switch self {
        case .user: "USER"
        case .pass: "PASS"
        case .apop: "APOP"
        case .quit: "QUIT"
        case .stat: "STAT"
        case .list: "LIST"
        case .retr: "RETR"
        case .dele: "DELE"
        case .noop: "NOOP"
        case .rset: "RSET"
        case .top: "TOP"
        case .uidl: "UIDL"
        case .capa: "CAPA"
        case .stls: "STLS"
        case .auth: "AUTH"
        }
    }
}

public enum POP3SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownCommand(String)
    case missingArgument(String)
    case invalidArgument(String)
    case tooManyArguments(String)
    /// NUL, other controls, or bytes that are not UTF-8.
    case invalidCharacters

    public var description: String {
        switch self {
        case .unknownCommand(let keyword): "Unknown command \(keyword)"
        case .missingArgument(let keyword): "\(keyword) needs an argument"
        case .invalidArgument(let keyword): "Invalid argument to \(keyword)"
        case .tooManyArguments(let keyword): "Too many arguments to \(keyword)"
        case .invalidCharacters: "Invalid characters in command"
        }
    }
}

/// Parses one command line (without CRLF). Pure and total: every input gives a command or an error.
public struct POP3CommandParser: Sendable {
    /// RFC 1939 §3: arguments are at most 40 characters (a PASS line and SASL data may be longer).
    public static let maximumArgumentLength = 40

    public init() {}

    public func parse(_ line: [UInt8]) throws(POP3SyntaxError) -> POP3Command {
        if let command = line.withUnsafeBytes(Self.transactionCommand) { return command }
        return try self.parseInGeneral(line)
    }

    /// `parse(_:)` of bytes in place (a line still in the connection's buffer).
    public func parse(bytes line: UnsafeRawBufferPointer) throws(POP3SyntaxError) -> POP3Command {
        if let command = Self.transactionCommand(line) { return command }
        return try self.parseInGeneral(Array(line))
    }

    /// The commands a client downloading a maildrop sends thousands of (RETR n, DELE n, LIST, UIDL,
    /// STAT, NOOP, RSET, QUIT), read straight from the bytes: a four-letter keyword in any case,
    /// alone or with one message number. Nil for every other line, which the general parser reads
    /// (and which is the only one to report errors); both give the same command for these lines.
    static func transactionCommand(_ line: UnsafeRawBufferPointer) -> POP3Command? {
        guard line.count >= 4, line.count <= 15 else { return nil }
        var keyword: UInt32 = 0
        for index in 0..<4 {
            let byte = line[index]
            keyword = keyword << 8 | UInt32(byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte)
        }
        var number: Int?
        if line.count > 4 {
            guard line[4] == 0x20, line.count > 5 else { return nil }
            var value = 0
            for index in 5..<line.count {
                let digit = line[index]
                guard digit >= 0x30, digit <= 0x39 else { return nil }
                value = value * 10 + Int(digit - 0x30)
            }
            guard value >= 1, value <= Int(Int32.max) else { return nil }
            number = value
        }
        switch (keyword, number) {
        case (0x5245_5452, let number?): return .retr(number)  // RETR
        case (0x4445_4C45, let number?): return .dele(number)  // DELE
        case (0x4C49_5354, _): return .list(number)  // LIST
        case (0x5549_444C, _): return .uidl(number)  // UIDL
        case (0x5354_4154, nil): return .stat
        case (0x4E4F_4F50, nil): return .noop
        case (0x5253_4554, nil): return .rset
        case (0x5155_4954, nil): return .quit
        default: return nil
        }
    }

    func parseInGeneral(_ line: [UInt8]) throws(POP3SyntaxError) -> POP3Command {
        guard !line.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }),
            let text = String(validating: line, as: UTF8.self)
        else { throw .invalidCharacters }
        let keywordEnd = text.firstIndex(of: " ") ?? text.endIndex
        let keyword = text[..<keywordEnd].uppercased()
        let rest = keywordEnd < text.endIndex ? String(text[text.index(after: keywordEnd)...]) : ""
        let arguments = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)

        func none() throws(POP3SyntaxError) {
            guard arguments.isEmpty else { throw .tooManyArguments(keyword) }
        }
        func number(_ text: String) throws(POP3SyntaxError) -> Int {
            guard !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text),
                value <= Int(Int32.max)
            else { throw .invalidArgument(keyword) }
            return value
        }
        func messageNumber(_ text: String) throws(POP3SyntaxError) -> Int {
            let value = try number(text)
            guard value >= 1 else { throw .invalidArgument(keyword) }
            return value
        }
        func optionalMessage() throws(POP3SyntaxError) -> Int? {
            guard arguments.count <= 1 else { throw .tooManyArguments(keyword) }
            return try arguments.first.map { (argument: String) throws(POP3SyntaxError) in try messageNumber(argument) }
        }
        func oneMessage() throws(POP3SyntaxError) -> Int {
            guard let first = arguments.first else { throw .missingArgument(keyword) }
            guard arguments.count == 1 else { throw .tooManyArguments(keyword) }
            return try messageNumber(first)
        }

        switch keyword {
        case "USER":
            guard let name = arguments.first else { throw .missingArgument(keyword) }
            guard arguments.count == 1 else { throw .tooManyArguments(keyword) }
            guard name.count <= 255 else { throw .invalidArgument(keyword) }
            return .user(name)
        case "PASS":
            guard !rest.isEmpty else { throw .missingArgument(keyword) }
            return .pass(rest)
        case "APOP":
            guard arguments.count == 2 else { throw arguments.count < 2 ? .missingArgument(keyword) : .tooManyArguments(keyword) }
            return .apop(name: arguments[0], digest: arguments[1])
        case "QUIT": try none(); return .quit
        case "STAT": try none(); return .stat
        case "NOOP": try none(); return .noop
        case "RSET": try none(); return .rset
        case "CAPA": try none(); return .capa
        case "STLS": try none(); return .stls
        case "LIST": return .list(try optionalMessage())
        case "UIDL": return .uidl(try optionalMessage())
        case "RETR": return .retr(try oneMessage())
        case "DELE": return .dele(try oneMessage())
        case "TOP":
            guard arguments.count >= 2 else { throw .missingArgument(keyword) }
            guard arguments.count == 2 else { throw .tooManyArguments(keyword) }
            return .top(try messageNumber(arguments[0]), lines: try number(arguments[1]))
        case "AUTH":
            guard let mechanism = arguments.first else { throw .missingArgument(keyword) }
            guard arguments.count <= 2 else { throw .tooManyArguments(keyword) }
            return .auth(mechanism: mechanism.uppercased(), initialResponse: arguments.count == 2 ? arguments[1] : nil)
        default:
            throw .unknownCommand(String(keyword.prefix(20)))
        }
    }
}
