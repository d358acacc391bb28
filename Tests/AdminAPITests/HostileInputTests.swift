import Foundation
import HTTPTypes
import HummingbirdTesting
import MailStore
import NIOCore
import Testing

@Suite("Admin API: hostile input (reliability catalogue 4.5)")
struct HostileInputTests {
    @Test("bodies: not JSON, not an object, wrong media type, too large, deeply nested, invalid UTF-8")
    func bodies() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            #expect(try await client.call(.post, "/api/v1/domains", token: t, json: "{nope").problem == "malformed-body")
            #expect(try await client.call(.post, "/api/v1/domains", token: t, json: #"["a"]"#).problem == "malformed-body")
            #expect(try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":1e999999}"#).problem == "malformed-body")
            // 30,000 levels, inside the body limit: refused by the parser's depth limit, no stack overflow.
            let deep = String(repeating: "[", count: 30_000) + String(repeating: "]", count: 30_000)
            let nested = try await client.call(.post, "/api/v1/domains", token: t, json: deep)
            #expect(nested.status == .badRequest && nested.problem == "malformed-body")
            let huge = #"{"name":""# + String(repeating: "a", count: 200_000) + #""}"#
            let tooLarge = try await client.call(.post, "/api/v1/domains", token: t, json: huge)
            #expect(tooLarge.status == .contentTooLarge && tooLarge.problem == "body-too-large")
            let text = try await client.call(
                .post, "/api/v1/domains", token: t, json: nil, headers: [.contentType: "text/plain"])
            #expect(text.status == .badRequest || text.status == .unsupportedMediaType)
            let xml = try await client.execute(
                uri: "/api/v1/domains", method: .post,
                headers: [.authorization: "Bearer \(t)", .contentType: "application/xml"],
                body: .init(string: "<name/>")
            ) { $0.status }
            #expect(xml == .unsupportedMediaType)
            let invalidUTF8 = try await client.execute(
                uri: "/api/v1/domains", method: .post,
                headers: [.authorization: "Bearer \(t)", .contentType: "application/json"],
                body: .init(bytes: Array(#"{"name":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
            ) { $0.status }
            #expect(invalidUTF8 == .badRequest)
            // The API is still healthy afterwards.
            #expect(try await client.call(.get, "/api/v1/domains", token: t).status == .ok)
        }
    }

    @Test("identifiers from the path are data: SQL-looking, traversal, NUL")
    func identifiers() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            for path in [
                "/api/v1/accounts/x'%20OR%20'1'='1", "/api/v1/accounts/..%2F..%2Fetc%2Fpasswd",
                "/api/v1/accounts/a%00b@example.org", "/api/v1/domains/%2e%2e%2f", "/api/v1/queue/-1",
                "/api/v1/queue/99999999999999999999999",
            ] {
                let reply = try await client.call(.get, path, token: t)
                #expect(reply.status == .badRequest || reply.status == .notFound, "\(path) → \(reply.status)")
                #expect(reply.headers[.contentType] == "application/problem+json")
            }
            #expect(try await fixture.store.accounts().isEmpty)
        }
    }

    @Test("unknown routes and methods are problems too")
    func unknownRoutes() async throws {
        try await AdminFixture.with { fixture, client in
            let missing = try await client.call(.get, "/api/v1/nothing", token: fixture.writeToken)
            #expect(missing.status == .notFound && missing.problem == "not-found")
            let method = try await client.call(.put, "/api/v1/domains", token: fixture.writeToken)
            #expect((400..<500).contains(Int(method.status.code)))
            #expect(method.headers[.contentType] == "application/problem+json")
        }
    }
}
