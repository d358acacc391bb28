import Foundation
import Logging
import MailStore

/// A fresh database file in its own temporary directory, removed afterwards.
public struct StoreFixture: Sendable {
    public let directory: URL
    public var path: String { self.directory.appendingPathComponent("estafeta.sqlite").path }

    public init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "estafeta-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    public func open() throws -> MailStore {
        try MailStore.open(settings: MailStoreSettings(path: self.path), logger: Logger(label: "test.store"))
    }

    public func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Runs `body` with a fixture that is removed afterwards, even when `body` throws.
    public static func with<T>(_ body: (StoreFixture) async throws -> T) async throws -> T {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        return try await body(fixture)
    }
}

