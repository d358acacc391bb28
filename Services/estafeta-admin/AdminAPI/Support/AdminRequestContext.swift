import Hummingbird
import MailStore
import NIOCore

/// The per-request context: Hummingbird's core storage, the peer, and the token that authenticated.
struct AdminRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// Set by `BearerAuthenticationMiddleware` on every route under `/api/v1`.
    var token: StoredAdminToken?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.token = nil
    }

    /// The actor recorded in the audit log.
    var auditActor: AuditActor? { self.token.map { AuditActor(tokenID: $0.id) } }
}
