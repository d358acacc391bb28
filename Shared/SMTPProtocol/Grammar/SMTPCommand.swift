import MailFormat

/// A client command (RFC 5321 §4.1 and the extensions Estafeta implements).
public enum SMTPCommand: Sendable, Equatable {
    case helo(domain: String)
    case ehlo(domain: String)
    /// `reversePath` nil is the null path `<>`.
    case mail(reversePath: EmailAddress?, parameters: MailParameters)
    case rcpt(forwardPath: ForwardPath, parameters: RecipientParameters)
    case data
    /// RFC 3030 BDAT: `size` octets follow the command line.
    case bdat(size: Int, last: Bool)
    case rset
    case noop
    case quit
    case vrfy(String)
    case expn(String)
    case help(String?)
    case starttls
    /// RFC 4954: the mechanism in upper case, and the initial response if given (`=` is an empty one).
    case auth(mechanism: String, initialResponse: String?)
}

/// RCPT's argument: a mailbox, or the special `<Postmaster>` every server accepts (RFC 5321 §4.1.1.3).
public enum ForwardPath: Sendable, Equatable {
    case mailbox(EmailAddress)
    case postmaster
}

/// MAIL FROM parameters (RFC 5321 §4.1.2 esmtp-param).
public struct MailParameters: Sendable, Equatable {
    public enum Body: String, Sendable { case sevenBit = "7BIT", eightBitMIME = "8BITMIME", binaryMIME = "BINARYMIME" }
    public enum Return: String, Sendable { case full = "FULL", headers = "HDRS" }

    /// RFC 1870 declared size.
    public var size: Int?
    /// RFC 6152 / RFC 3030.
    public var body: Body?
    /// RFC 6531.
    public var smtpUTF8 = false
    /// RFC 3461 RET and ENVID (ENVID decoded from xtext).
    public var returnContent: Return?
    public var envelopeID: String?
    /// RFC 4954 AUTH= (decoded from xtext; `<>` when unknown).
    public var authenticatedSender: String?

    public init() {}
}

/// RCPT TO parameters: RFC 3461 NOTIFY and ORCPT.
public struct RecipientParameters: Sendable, Equatable {
    public enum Notify: String, Sendable { case success = "SUCCESS", failure = "FAILURE", delay = "DELAY" }
    /// nil: not given; empty: NEVER.
    public var notify: Set<Notify>?
    /// `addr-type;address`, the address decoded from xtext.
    public var originalRecipient: String?

    public init() {}
}

/// Why a command line could not be parsed. `SMTPReply(_:)` turns each into the reply to send.
public enum SMTPSyntaxError: Error, Sendable, Equatable {
    case unknownCommand
    case lineTooLong
    /// RFC 4954 §4: an AUTH response line beyond the limit gets `500 5.5.6`.
    case authLineTooLong
    /// NUL or other control characters, or invalid UTF-8.
    case invalidCharacters
    case malformedArguments(String)
    case malformedPath
    case addressTooLong
    case unsupportedAddressLiteral
    case unsupportedParameter(String)
    case malformedParameter(String)
    case duplicateParameter(String)
    case malformedDomain
}
