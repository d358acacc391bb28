import Foundation
import HTTPTypes
import Hummingbird
import MailStore
import NIOCore

/// An RFC 9457 problem: every error of the admin API reaches the client as one of these, with
/// `Content-Type: application/problem+json` and a stable `type` per kind of error.
struct ProblemDetails: Error, HTTPResponseError, Sendable {
    /// The last part of the `type` URI, e.g. `unknown-domain`. Stable: clients match on it.
    let slug: String
    let status: HTTPResponse.Status
    let title: String
    let detail: String?
    /// The request field at fault, for validation errors.
    let field: String?
    var extraHeaders: HTTPFields = [:]

    static let typePrefix = "urn:estafeta:problem:"

    init(_ status: HTTPResponse.Status, _ slug: String, _ title: String, detail: String? = nil, field: String? = nil) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.field = field
    }

    var headers: HTTPFields {
        var headers = self.extraHeaders
        headers[.contentType] = "application/problem+json"
        return headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: Any] = [
            "type": Self.typePrefix + self.slug, "title": self.title, "status": Int(self.status.code),
            "instance": request.uri.path,
        ]
        if let detail = self.detail { body["detail"] = detail }
        if let field = self.field { body["field"] = field }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: self.status, headers: self.headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: The errors of the API

    static func invalidField(_ field: String, _ detail: String) -> ProblemDetails {
        ProblemDetails(.badRequest, "invalid-field", "A request field is invalid", detail: detail, field: field)
    }
    static func unknownField(_ field: String) -> ProblemDetails {
        ProblemDetails(.badRequest, "unknown-field", "The request has a field this API does not know", field: field)
    }
    static func malformedBody(_ detail: String) -> ProblemDetails {
        ProblemDetails(.badRequest, "malformed-body", "The request body is not a JSON object", detail: detail)
    }
    static func invalidParameter(_ name: String, _ detail: String) -> ProblemDetails {
        ProblemDetails(.badRequest, "invalid-parameter", "A query parameter is invalid", detail: detail, field: name)
    }
    static func weakPassword(minimum: Int) -> ProblemDetails {
        ProblemDetails(
            .unprocessableContent, "weak-password", "The password is too weak",
            detail: "passwords need at least \(minimum) characters", field: "password")
    }

    /// The one place where store errors become HTTP answers. Server-side failures keep their details
    /// for the log; the client gets a generic problem.
    init(_ error: MailStoreError, field: String? = nil) {
        switch error {
        case .domainExists(let name):
            self.init(.conflict, "domain-exists", "The domain exists already", detail: name, field: field)
        case .unknownDomain(let name):
            self.init(
                field == nil ? .notFound : .unprocessableContent, "unknown-domain", "No such domain", detail: name,
                field: field)
        case .domainNotEmpty(let name):
            self.init(
                .conflict, "domain-not-empty", "The domain still has accounts",
                detail: "delete its accounts first, or use ?force=true: \(name)")
        case .accountExists(let address):
            self.init(.conflict, "account-exists", "The account exists already", detail: address, field: field)
        case .unknownAccount(let address):
            self.init(.notFound, "unknown-account", "No such account", detail: address)
        case .aliasExists(let address):
            self.init(.conflict, "alias-exists", "The alias exists already", detail: address, field: field)
        case .unknownAlias(let address):
            self.init(.notFound, "unknown-alias", "No such alias", detail: address)
        case .unknownQueueMessage(let id):
            self.init(.notFound, "unknown-queue-message", "No such queued message", detail: String(id))
        case .queueMessageBusy(let id):
            self.init(
                .conflict, "queue-message-busy", "A worker is delivering this message right now",
                detail: "try again when the attempt is over: \(id)")
        case .dkimKeyExists(let key):
            self.init(.conflict, "dkim-key-exists", "The domain has a DKIM key of that selector", detail: key, field: field)
        case .unknownDKIMKey(let key):
            self.init(.notFound, "unknown-dkim-key", "No such DKIM key", detail: key)
        case .dkimKeyActive(let key):
            self.init(
                .conflict, "dkim-key-active", "The DKIM key is signing",
                detail: "retire it, or activate another key of its algorithm, first: \(key)")
        case .invalidArgument(let detail):
            self.init(.unprocessableContent, "invalid-field", "A request field is invalid", detail: detail, field: field)
        case .mailboxExists, .unknownMailbox, .invalidMailboxName, .mailboxProtected, .mailboxHasChildren, .leaseLost, .alreadyDone,
            .maildropLockLost, .overQuota, .changeFeedPruned, .tooManyMetadataEntries, .numberingConflict:
            self.init(.conflict, "conflict", "The request conflicts with the current state", detail: "\(error)")
        case .storageFull:
            self.init(.serviceUnavailable, "storage-full", "The server is short of storage, try again later")
        case .cannotOpen, .unsafeConfiguration, .corrupt, .unavailable:
            self.init(.serviceUnavailable, "store-unavailable", "The database is unavailable, try again later")
        }
    }

    /// Hummingbird's own errors (no such route, body too large, …) in the same format.
    init(_ error: HTTPError) {
        switch error.status {
        case .notFound: self.init(.notFound, "not-found", "No such resource")
        case .methodNotAllowed: self.init(.methodNotAllowed, "method-not-allowed", "Method not allowed")
        case .contentTooLarge: self.init(.contentTooLarge, "body-too-large", "The request body is too large")
        default:
            self.init(error.status, "http-\(error.status.code)", error.status.reasonPhrase, detail: error.body)
        }
    }
}
