import Synchronization

/// The wait between two polls of the change feed or the queue: the poll interval, or less when the
/// backend signals a change meanwhile (`SignalBackend`). Polling stays the fallback, so a signal lost
/// (a connection dropped) costs at most one interval. For one waiter at a time.
public final class StoreDoorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let listening = Mutex<Task<Void, Never>?>(nil)

    init(signal: StoreSignal, backend: (any SignalBackend)?) {
        guard let backend else { return }
        // Weakly: the listening task ends when the doorbell goes away (deinit cancels it).
        let ring: @Sendable () -> Void = { [weak self] in self?.ring() }
        self.listening.withLock {
            $0 = Task { await backend.listen(for: signal) { ring() } }
        }
    }

    deinit {
        self.listening.withLock { $0?.cancel() }
    }

    /// Whether signals can cut a wait short (false: waits last the whole interval).
    public var isListening: Bool { self.listening.withLock { $0 != nil } }

    /// Stops listening (the service is ending).
    public func close() {
        self.listening.withLock {
            $0?.cancel()
            $0 = nil
        }
        self.ring()
    }

    func ring() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns once `interval` has passed, or sooner when a signal came since the last wait, or when the
    /// calling task is cancelled.
    public func wait(upTo interval: Duration) async {
        guard self.isListening else {
            try? await Task.sleep(for: interval)
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: interval)
                if !Task.isCancelled { self.ring() }
            }
            group.addTask { await self.waitForRing() }
            // The ring wakes the waiter; the timer rings to end it when nothing else did.
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = self.state.withLock { state -> Bool in
                    // Cancelled before registering: the handler below has already run.
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            // Ends this wait only. Ringing instead would leave a ring for the next wait when the timer
            // woke this one and the group cancelled it before it returned: the next wait would end at once.
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }
            waiter?.resume()
        }
    }
}
