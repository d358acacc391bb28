import IMAPProtocol
import Testing

@Suite("IMAP connection states: which commands each admits (RFC 9051 §3, §6)")
struct IMAPConnectionStateTests {
    private let states: [IMAPConnectionState] = [.notAuthenticated, .authenticated, .selected(readOnly: false), .selected(readOnly: true)]
    private let set = IMAPSequenceSet.ranges([.number(1)...(.number(1))])
    private let inbox = IMAPMailboxName("INBOX")

    private func admission(_ kind: IMAPCommandKind, _ state: IMAPConnectionState, tls: Bool = true, plaintext: Bool = false)
        -> IMAPCommandAdmission
    {
        kind.admission(in: state, tls: tls, plaintextAuthAllowed: plaintext)
    }

    @Test("CAPABILITY, NOOP, LOGOUT and ID in every state")
    func anyState() {
        for kind in [IMAPCommandKind.capability, .noop, .logout, .id(nil)] {
            for state in self.states { #expect(self.admission(kind, state) == .proceed, "\(kind) in \(state)") }
        }
    }

    @Test("LOGIN, AUTHENTICATE and STARTTLS only before login; in the clear only where allowed")
    func beforeLogin() {
        let login = IMAPCommandKind.login(user: "a", password: "b")
        #expect(self.admission(login, .notAuthenticated) == .proceed)
        #expect(self.admission(login, .notAuthenticated, tls: false) == .no(.privacyRequired, "Use STARTTLS first"))
        #expect(self.admission(login, .notAuthenticated, tls: false, plaintext: true) == .proceed)
        #expect(self.admission(login, .authenticated) == .bad("Already authenticated"))
        #expect(self.admission(.authenticate(mechanism: "PLAIN", initialResponse: nil), .selected(readOnly: false)) == .bad("Already authenticated"))
        #expect(self.admission(.startTLS, .notAuthenticated, tls: false) == .proceed)
        #expect(self.admission(.startTLS, .notAuthenticated, tls: true) != .proceed)
        #expect(self.admission(.startTLS, .authenticated, tls: false) != .proceed)
    }

    @Test("mailbox commands after login; message commands with a mailbox selected")
    func afterLogin() {
        for kind in [IMAPCommandKind.select(self.inbox, readOnly: false), .list(reference: "", patterns: ["*"], selection: [], returning: [], status: []),
            .enable(["CONDSTORE"]), .idle, .append(self.inbox, []), .unauthenticate]
        {
            #expect(self.admission(kind, .notAuthenticated) != .proceed, "\(kind)")
            #expect(self.admission(kind, .authenticated) == .proceed, "\(kind)")
            #expect(self.admission(kind, .selected(readOnly: true)) == .proceed, "\(kind)")
        }
        for kind in [IMAPCommandKind.fetch(self.set, [.flags], uid: false), .close, .search(charset: nil, .all, returning: nil, uid: true)] {
            #expect(self.admission(kind, .notAuthenticated) == .bad("Log in first"), "\(kind)")
            #expect(self.admission(kind, .authenticated) == .bad("Select a mailbox first"), "\(kind)")
            #expect(self.admission(kind, .selected(readOnly: false)) == .proceed, "\(kind)")
        }
    }

    @Test("a read-only selection refuses STORE, EXPUNGE and MOVE with NO [READ-ONLY], and takes COPY, CLOSE and FETCH")
    func readOnly() {
        let action = IMAPStoreAction(mode: .add, silent: false, flags: [.seen])
        for kind in [IMAPCommandKind.store(self.set, action, uid: true), .expunge, .uidExpunge(self.set), .move(self.set, self.inbox, uid: false)] {
            #expect(self.admission(kind, .selected(readOnly: true)) == .no(.readOnly, "Mailbox is read-only"), "\(kind)")
            #expect(self.admission(kind, .selected(readOnly: false)) == .proceed, "\(kind)")
        }
        for kind in [IMAPCommandKind.copy(self.set, self.inbox, uid: false), .close, .fetch(self.set, [.flags], uid: false)] {
            #expect(self.admission(kind, .selected(readOnly: true)) == .proceed, "\(kind)")
        }
    }
}
