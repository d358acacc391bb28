import NIOCore

/// An SMTP reply (RFC 5321 §4.2): a three-digit code, an RFC 3463 enhanced status code on every line
/// (RFC 2034), and one or more lines of text.
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public let code: Int
    /// `class.subject.detail`, e.g. `2.0.0`; nil for the greeting and the EHLO reply.
    public let enhancedCode: String?
    public let lines: [String]

    public init(_ code: Int, _ enhancedCode: String?, _ lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhancedCode: String?, _ text: String) {
        self.init(code, enhancedCode, [text])
    }

    public var isPositive: Bool { (200..<400).contains(self.code) }
    public var isTransientFailure: Bool { (400..<500).contains(self.code) }
    public var isPermanentFailure: Bool { self.code >= 500 }

    /// `250-first\r\n250-…\r\n250 last\r\n`. CR and LF inside the text are replaced by spaces so that
    /// no text (a client's EHLO name, an address) can break the reply framing.
    public func write(to buffer: inout ByteBuffer) {
        for (index, line) in self.lines.enumerated() {
            buffer.writeString(String(self.code))
            buffer.writeString(index == self.lines.count - 1 ? " " : "-")
            if let enhancedCode = self.enhancedCode {
                buffer.writeString(enhancedCode)
                if !line.isEmpty { buffer.writeString(" ") }
            }
            buffer.writeString(Self.sanitised(line))
            buffer.writeString("\r\n")
        }
    }

    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        self.write(to: &buffer)
        return buffer
    }

    public var description: String { String(buffer: self.encoded) }

    static func sanitised(_ text: String) -> String {
        guard text.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return String(text.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}

extension SMTPReply {
    /// The EHLO reply: greeting line, then one keyword line per extension (RFC 5321 §4.1.1.1). It has
    /// no enhanced code: clients read its lines as extension keywords (RFC 2034 §3).
    public static func ehlo(greeting: String, extensions: [String]) -> SMTPReply {
        SMTPReply(250, nil, [greeting] + extensions)
    }

    /// The single mapping from syntax errors to replies (style guide §2.6).
    public init(_ error: SMTPSyntaxError) {
        switch error {
        case .unknownCommand: self.init(500, "5.5.2", "Command not recognized")
        case .lineTooLong: self.init(500, "5.5.2", "Line too long")
        case .authLineTooLong: self.init(500, "5.5.6", "Authentication Exchange line is too long")
        case .invalidCharacters: self.init(500, "5.5.2", "Bad syntax: NUL, control or invalid UTF-8 characters")
        case .malformedArguments(let detail): self.init(501, "5.5.4", "Syntax error in parameters or arguments: \(detail)")
        case .malformedPath: self.init(501, "5.1.7", "Bad address syntax")
        case .addressTooLong: self.init(501, "5.1.3", "Address too long")
        case .unsupportedAddressLiteral: self.init(501, "5.1.3", "Address literals are not accepted here")
        case .unsupportedParameter(let name): self.init(555, "5.5.4", "\(name) parameter not recognized or not implemented")
        case .malformedParameter(let name): self.init(501, "5.5.4", "Invalid \(name) parameter")
        case .duplicateParameter(let name): self.init(501, "5.5.4", "Duplicate \(name) parameter")
        case .malformedDomain: self.init(501, "5.5.4", "Invalid domain name")
        }
    }
}
