/// The state of an IMAP connection (RFC 9051 §3): which commands it admits is decided here alone, as
/// a pure function of the state; the session does the work and its state follows from what it did
/// (logged in, a mailbox selected).
public enum IMAPConnectionState: Sendable, Equatable {
    case notAuthenticated
    case authenticated
    case selected(readOnly: Bool)
}

/// What the rules say of a command in a state, before it is carried out.
public enum IMAPCommandAdmission: Sendable, Equatable {
    case proceed
    /// Not valid in this state (RFC 9051 §7.1.3: BAD).
    case bad(String)
    /// Valid, but refused here (RFC 9051 §7.1.2: NO), as a read-only mailbox refuses changes.
    case no(IMAPResponseCode, String)
}

extension IMAPCommandKind {
    /// Whether the command may run in `state` (RFC 9051 §6.1–6.4, with each extension's rule): any
    /// state for CAPABILITY, NOOP, CHECK, LOGOUT and ID; before login for STARTTLS, LOGIN and
    /// AUTHENTICATE (in the clear only where the operator allows it, RFC 8314 §3.3); after login for
    /// mailbox commands, ENABLE, COMPRESS, IDLE and UNAUTHENTICATE; with a mailbox selected for the
    /// commands on its messages, and of those only the ones that change nothing in a read-only one
    /// (EXAMINE, RFC 9051 §6.3.3).
    public func admission(in state: IMAPConnectionState, tls: Bool, plaintextAuthAllowed: Bool) -> IMAPCommandAdmission {
        switch self {
        case .capability, .noop, .check, .logout, .id:
            return .proceed
        case .startTLS:
            guard state == .notAuthenticated, !tls else { return .bad("TLS is already active or not allowed now") }
            return .proceed
        case .login, .authenticate:
            guard state == .notAuthenticated else { return .bad("Already authenticated") }
            guard tls || plaintextAuthAllowed else { return .no(.privacyRequired, "Use STARTTLS first") }
            return .proceed
        case .unauthenticate:
            return state == .notAuthenticated ? .bad("Not authenticated") : .proceed
        case .enable, .compress, .idle, .notify, .namespace, .select, .create, .delete, .rename, .subscribe, .unsubscribe, .list, .lsub,
            .status, .append, .getMetadata, .setMetadata, .getQuotaRoot, .getQuota, .setQuota:
            return state == .notAuthenticated ? .bad("Log in first") : .proceed
        case .close, .unselect, .uidExpunge, .expunge, .copy, .move, .store, .fetch, .search, .sort, .thread, .cancelUpdate:
            switch state {
            case .notAuthenticated: return .bad("Log in first")
            case .authenticated: return .bad("Select a mailbox first")
            case .selected(let readOnly):
                return readOnly && self.changesMessages ? .no(.readOnly, "Mailbox is read-only") : .proceed
            }
        }
    }

    /// STORE, EXPUNGE and MOVE change the selected mailbox's messages; COPY and CLOSE do not (CLOSE of a
    /// read-only mailbox expunges nothing, RFC 9051 §6.4.1).
    private var changesMessages: Bool {
        switch self {
        case .store, .expunge, .uidExpunge, .move: true
        default: false
        }
    }
}
