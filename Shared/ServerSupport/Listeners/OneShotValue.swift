import Synchronization

/// A value set once and awaited by any number of tasks: how a listener tells tests and the ready file
/// the port it was given for port 0.
public final class OneShotValue<Value: Sendable>: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Result<Value, any Error>, Never>])
        case done(Result<Value, any Error>)
    }
    private let state = Mutex<State>(.waiting([]))

    public init() {}

    public func succeed(_ value: Value) { self.complete(.success(value)) }
    public func fail(_ error: any Error) { self.complete(.failure(error)) }

    private func complete(_ result: Result<Value, any Error>) {
        let waiters: [CheckedContinuation<Result<Value, any Error>, Never>] = self.state.withLock { state in
            guard case .waiting(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    public var value: Value {
        get async throws {
            let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, any Error>, Never>) in
                let ready: Result<Value, any Error>? = self.state.withLock { state in
                    switch state {
                    case .waiting(var waiters):
                        waiters.append(continuation)
                        state = .waiting(waiters)
                        return nil
                    case .done(let result):
                        return result
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
            return try result.get()
        }
    }
}
