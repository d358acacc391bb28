import AdminAPI
import Credentials
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MailStore
import NIOCore
import ServerSupport

/// A real SQLite file, a write token and a read-only token, and the admin application on top.
struct AdminFixture: Sendable {
    let directory: URL
    let store: MailStore
    let writeToken: String
    let readToken: String

    static func with<T: Sendable>(
        environment: [String: String] = [:], _ body: @Sendable (AdminFixture, any TestClientProtocol) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-admin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try MailStore.open(
            settings: MailStoreSettings(path: directory.appendingPathComponent("estafeta.sqlite").path),
            logger: Logger(label: "test"))
        let write = AdminToken.generate()
        let read = AdminToken.generate()
        try await store.createAdminToken(id: write.id, secretHash: write.secretHash, scope: .write, description: "test")
        try await store.createAdminToken(id: read.id, secretHash: read.secretHash, scope: .read, description: "test")
        let settings = try await SettingsLoader.load(
            configFile: nil, arguments: ["--admin-port", "0"], environment: environment, defaultOpsPort: 0)
        let fixture = AdminFixture(
            directory: directory, store: store, writeToken: write.presentable, readToken: read.presentable)
        let application = try AdminAPIService.application(store: store, settings: settings, logger: Logger(label: "test"))
        return try await application.test(.router) { client in try await body(fixture, client) }
    }
}

/// A decoded response: status, headers and the JSON body (nil when empty or not JSON).
struct JSONReply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: [String: any Sendable]? {
        (try? JSONSerialization.jsonObject(with: Data(self.text.utf8))) as? [String: any Sendable]
    }
    var items: [[String: any Sendable]] { (self.json?["items"] as? [[String: any Sendable]]) ?? [] }
    /// The slug of a problem document's type.
    var problem: String? {
        (self.json?["type"] as? String).map { $0.replacingOccurrences(of: "urn:estafeta:problem:", with: "") }
    }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> JSONReply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await self.execute(
            uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }
        ) { response in
            JSONReply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }
}
