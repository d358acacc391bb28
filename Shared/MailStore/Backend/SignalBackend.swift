/// What a store can tell every process on every host at once: that a mailbox or the queue has changed.
public enum StoreSignal: String, Sendable, CaseIterable {
    case mailboxes = "estafeta_mailboxes"
    case queue = "estafeta_queue"
}

/// A backend that tells listeners of changes as they commit (PostgreSQL: LISTEN/NOTIFY). Without one
/// (SQLite), processes find changes by polling the change feed and the queue.
public protocol SignalBackend: Sendable {
    /// Calls `wake` whenever `signal` is sent, until the calling task is cancelled; also once after a
    /// lost listening connection is made again (signals meanwhile were lost: the caller catches up).
    func listen(for signal: StoreSignal, wake: @escaping @Sendable () async -> Void) async
}
