import Synchronization

/// A value set once and awaited by any number of tasks: how a listener tells tests and the ready file
/// the port it was given for port 0. A waiter whose task is cancelled stops waiting (`CancellationError`):
/// the ready file's writer awaits every listener, and when one never binds (its port taken: the ops
/// listener's address then never comes) the service group's cancellation must end that wait, or
/// ServiceLifecycle's cancellation timeout crashes the process instead of a clean exit 1.
public final class OneShotValue<Value: Sendable>: Sendable {
    private typealias Waiter = CheckedContinuation<Result<Value, any Error>, Never>
    private struct Waiting {
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }
    private enum State {
        case waiting(Waiting)
        case done(Result<Value, any Error>)
    }
    private let state = Mutex<State>(.waiting(Waiting()))

    public init() {}

    public func succeed(_ value: Value) { self.complete(.success(value)) }
    public func fail(_ error: any Error) { self.complete(.failure(error)) }

    private func complete(_ result: Result<Value, any Error>) {
        let waiters: [Waiter] = self.state.withLock { state in
            guard case .waiting(let waiting) = state else { return [] }
            state = .done(result)
            return Array(waiting.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    public var value: Value {
        get async throws {
            let id = self.state.withLock { state -> UInt64 in
                guard case .waiting(var waiting) = state else { return 0 }
                defer { waiting.nextID += 1; state = .waiting(waiting) }
                return waiting.nextID
            }
            let result = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: Waiter) in
                    let ready: Result<Value, any Error>? = self.state.withLock { state in
                        switch state {
                        case .waiting(var waiting):
                            // Cancelled before it could wait: do not wait at all.
                            if Task.isCancelled { return .failure(CancellationError()) }
                            waiting.waiters[id] = continuation
                            state = .waiting(waiting)
                            return nil
                        case .done(let result):
                            return result
                        }
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            } onCancel: {
                let waiter: Waiter? = self.state.withLock { state in
                    guard case .waiting(var waiting) = state else { return nil }
                    let waiter = waiting.waiters.removeValue(forKey: id)
                    state = .waiting(waiting)
                    return waiter
                }
                waiter?.resume(returning: .failure(CancellationError()))
            }
            return try result.get()
        }
    }
}
