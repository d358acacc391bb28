import Foundation
import HTTPTypes
import HummingbirdTesting
import MailStore
import NIOCore
import Testing

@Suite("Admin API: authentication, scopes, hosts")
struct AuthenticationTests {
    @Test("no token, a wrong token or a revoked token get 401 as a problem document")
    func unauthorized() async throws {
        try await AdminFixture.with { fixture, client in
            let none = try await client.call(.get, "/api/v1/domains", token: nil)
            #expect(none.status == .unauthorized)
            #expect(none.headers[.contentType] == "application/problem+json")
            #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(none.problem == "unauthorized")
            #expect(try await client.call(.get, "/api/v1/domains", token: "est_000000000000_nope").status == .unauthorized)
            #expect(try await client.call(.get, "/api/v1/domains", token: fixture.writeToken + "x").status == .unauthorized)
            let id = String(fixture.readToken.split(separator: "_")[1])
            try await fixture.store.revokeAdminToken(id: id)
            #expect(try await client.call(.get, "/api/v1/domains", token: fixture.readToken).status == .unauthorized)
            // Health endpoints need no token.
            #expect(try await client.call(.get, "/healthz", token: nil).status == .ok)
            #expect(try await client.call(.get, "/readyz", token: nil).status == .ok)
        }
    }

    @Test("a read-only token may GET but gets 403 for changes")
    func readOnly() async throws {
        try await AdminFixture.with { fixture, client in
            #expect(try await client.call(.get, "/api/v1/domains", token: fixture.readToken).status == .ok)
            let post = try await client.call(.post, "/api/v1/domains", token: fixture.readToken, json: #"{"name":"a.example"}"#)
            #expect(post.status == .forbidden && post.problem == "insufficient-scope")
            #expect(try await client.call(.post, "/api/v1/queue/flush", token: fixture.readToken).status == .forbidden)
        }
    }

    @Test("after 10 failed authentications the address gets 429 with Retry-After, even with a good token")
    func failureLimiter() async throws {
        try await AdminFixture.with { fixture, client in
            for _ in 0..<10 {
                #expect(try await client.call(.get, "/api/v1/domains", token: "wrong").status == .unauthorized)
            }
            let limited = try await client.call(.get, "/api/v1/domains", token: fixture.writeToken)
            #expect(limited.status == .tooManyRequests && limited.problem == "too-many-failures")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 > 0)
        }
    }

    @Test("the OpenAPI document is served as kept in the repository")
    func openAPI() async throws {
        try await AdminFixture.with { _, client in
            let reply = try await client.call(.get, "/openapi.json", token: nil)
            #expect(reply.status == .ok)
            #expect(reply.json?["openapi"] as? String == "3.1.0")
            let paths = reply.json?["paths"] as? [String: any Sendable]
            #expect(paths?["/api/v1/accounts/{address}"] != nil)
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Services/estafeta-admin/AdminAPI/openapi.json")
            #expect(reply.text == (try String(contentsOf: file, encoding: .utf8)))
        }
    }
}
