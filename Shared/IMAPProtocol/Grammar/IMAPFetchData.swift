import Foundation

/// A message's ENVELOPE (RFC 9051 §7.5.2): header fields as written in the message; an address list
/// that is absent or empty is nil (NIL).
public struct IMAPEnvelope: Sendable, Equatable {
    public var date: String?
    public var subject: String?
    public var from: [IMAPAddress]?
    public var sender: [IMAPAddress]?
    public var replyTo: [IMAPAddress]?
    public var to: [IMAPAddress]?
    public var cc: [IMAPAddress]?
    public var bcc: [IMAPAddress]?
    public var inReplyTo: String?
    public var messageID: String?

    public init(
        date: String?, subject: String?, from: [IMAPAddress]?, sender: [IMAPAddress]?, replyTo: [IMAPAddress]?, to: [IMAPAddress]?,
        cc: [IMAPAddress]?, bcc: [IMAPAddress]?, inReplyTo: String?, messageID: String?
    ) {
        self.date = date
        self.subject = subject
        self.from = from
        self.sender = sender
        self.replyTo = replyTo
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.inReplyTo = inReplyTo
        self.messageID = messageID
    }
}

/// One member of an ENVELOPE address list. A group is told by a member that starts it (its name in
/// the mailbox place, no host) and one that ends it (all NIL), RFC 9051 §7.5.2.
public enum IMAPAddress: Sendable, Equatable {
    case mailbox(name: String?, mailbox: String, host: String)
    case groupStart(String)
    case groupEnd
}

/// A `Content-Type` or `Content-Disposition` parameter.
public struct IMAPBodyParameter: Sendable, Equatable {
    public let name: String
    public let value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// body-fld-dsp: a part's `Content-Disposition` (RFC 9051 §7.5.2, RFC 2183).
public struct IMAPBodyDisposition: Sendable, Equatable {
    public let type: String
    public let parameters: [IMAPBodyParameter]
    public init(_ type: String, _ parameters: [IMAPBodyParameter]) {
        self.type = type
        self.parameters = parameters
    }
}

/// body-fld-dsp, body-fld-lang and body-fld-loc: what BODYSTRUCTURE adds to each part (RFC 9051 §7.5.2).
public struct IMAPBodyExtension: Sendable, Equatable {
    public var disposition: IMAPBodyDisposition?
    public var language: String?
    public var location: String?

    public init(disposition: IMAPBodyDisposition?, language: String?, location: String?) {
        self.disposition = disposition
        self.language = language
        self.location = location
    }
}

/// body-fields: what every non-multipart part tells.
public struct IMAPBodyFields: Sendable, Equatable {
    public var type: String
    public var subtype: String
    public var parameters: [IMAPBodyParameter]
    public var id: String?
    public var description: String?
    public var encoding: String
    public var size: Int

    public init(
        type: String, subtype: String, parameters: [IMAPBodyParameter], id: String?, description: String?, encoding: String, size: Int
    ) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
        self.id = id
        self.description = description
        self.encoding = encoding
        self.size = size
    }
}

/// BODY and BODYSTRUCTURE (RFC 9051 §7.5.2): the MIME tree of a message. The extension data is
/// written for BODYSTRUCTURE only.
public indirect enum IMAPBodyStructure: Sendable, Equatable {
    case multipart(parts: [IMAPBodyStructure], subtype: String, parameters: [IMAPBodyParameter], extensionData: IMAPBodyExtension)
    /// A part of any type but message/rfc822; text parts tell their lines.
    case single(IMAPBodyFields, lines: Int?, md5: String?, extensionData: IMAPBodyExtension)
    /// A message/rfc822 part: the enclosed message's envelope and structure, and its lines.
    case message(IMAPBodyFields, envelope: IMAPEnvelope, body: IMAPBodyStructure, lines: Int, md5: String?, extensionData: IMAPBodyExtension)
}

/// A FETCH data item that is not a stretch of the message (RFC 9051 §7.5.2 msg-att, RFC 7162 MODSEQ,
/// RFC 8474 EMAILID/THREADID, RFC 8514 SAVEDATE, RFC 8970 PREVIEW, RFC 3516 BINARY.SIZE).
public enum IMAPFetchItem: Sendable, Equatable {
    case flags([String])
    case uid(UInt32)
    case rfc822Size(Int64)
    case internalDate(Date)
    case modSeq(UInt64)
    case emailID(String)
    /// nil when the server keeps no threads (NIL, RFC 8474 §5.2).
    case threadID(String?)
    case saveDate(Date)
    case envelope(IMAPEnvelope)
    /// BODY (no extension data) or BODYSTRUCTURE.
    case body(IMAPBodyStructure, extensible: Bool)
    case preview(String)
    case binarySize(part: [Int], size: Int64)
}

/// A FETCH data item whose value is a literal of the message's octets, by the name it is answered
/// under; `origin` is a partial's start (`<origin>`).
public enum IMAPFetchLiteralItem: Sendable, Equatable {
    case rfc822
    case rfc822Header
    case rfc822Text
    case body(IMAPSection, origin: UInt32?)
    /// BINARY (RFC 3516): a literal8 when the octets hold NUL.
    case binary(part: [Int], origin: UInt32?)
}
