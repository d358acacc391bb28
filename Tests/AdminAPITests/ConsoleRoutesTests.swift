import Foundation
import HTTPTypes
import HummingbirdTesting
import MailFormat
import MailStore
import Testing

@Suite("Admin API: the web console's files and the routes it relies on")
struct ConsoleRoutesTests {
    @Test("the console's page and modules are served with a strict CSP, no framing, no sniffing, no cookies; unknown files are 404; other methods 405")
    func files() async throws {
        try await AdminFixture.with { _, client in
            let page = try await client.call(.get, "/", token: nil)
            #expect(page.status == .ok && page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains(#"<script type="module" src="/console/app.js"></script>"#))
            let policy = page.headers[.contentSecurityPolicy] ?? ""
            #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"))
            #expect(!policy.contains("unsafe"))
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(page.headers[.setCookie] == nil)
            // Every module the page and the modules import is there, as a script.
            var pending = ["app.js"]
            var seen: Set<String> = []
            while let name = pending.popLast() {
                guard seen.insert(name).inserted else { continue }
                let file = try await client.call(.get, "/console/\(name)", token: nil)
                #expect(file.status == .ok && file.headers[.contentType] == "text/javascript; charset=utf-8", "\(name)")
                #expect(file.headers[.contentSecurityPolicy] != nil)
                for match in file.text.matches(of: /from "\.\/([a-z]+\.js)"/) { pending.append(String(match.1)) }
            }
            #expect(seen.count >= 9, "\(seen.sorted())")
            #expect(try await client.call(.get, "/console/console.css", token: nil).headers[.contentType] == "text/css; charset=utf-8")
            #expect(try await client.call(.get, "/console/missing.js", token: nil).status == .notFound)
            #expect(try await client.call(.get, "/console/..%2Fopenapi.json", token: nil).status == .notFound)
            let posted = try await client.call(.post, "/", token: nil)
            #expect(posted.status == .methodNotAllowed && posted.headers[.allow] == "GET")
        }
    }

    @Test("GET /api/v1/token says which token is presented and its scope, never its secret")
    func currentToken() async throws {
        try await AdminFixture.with { fixture, client in
            let write = try await client.call(.get, "/api/v1/token", token: fixture.writeToken)
            #expect(write.status == .ok && write.json?["scope"] as? String == "write")
            let id = try #require(write.json?["id"] as? String)
            // Presented as est_<id>_<secret>: the id comes back, the secret does not.
            #expect(fixture.writeToken.hasPrefix("est_\(id)_"))
            #expect(!write.text.contains(String(fixture.writeToken.dropFirst("est_\(id)_".count))))
            #expect(try await client.call(.get, "/api/v1/token", token: fixture.readToken).json?["scope"] as? String == "read")
            #expect(try await client.call(.get, "/api/v1/token", token: nil).status == .unauthorized)
            #expect(try await client.call(.get, "/api/v1/token", token: fixture.writeToken + "x").status == .unauthorized)
        }
    }

    @Test("GET /api/v1/services lists each service's processes with their state now")
    func services() async throws {
        try await AdminFixture.with { fixture, client in
            let now = Date()
            try await fixture.store.reportServiceRunning("smtp", host: "mx1", pid: 10, startedAt: now - 600, now: now)
            try await fixture.store.reportServiceRunning("relay", host: "mx2", pid: 11, startedAt: now - 600, now: now - 300)
            try await fixture.store.reportServiceRunning("imap", host: "mx1", pid: 10, startedAt: now - 600, now: now - 60)
            try await fixture.store.reportServiceStopped("imap", host: "mx1", pid: 10, now: now - 5)
            let reply = try await client.call(.get, "/api/v1/services", token: fixture.readToken)
            #expect(reply.status == .ok)
            #expect(reply.items.map { "\($0["service"] ?? "") \($0["host"] ?? "") \($0["pid"] ?? "") \($0["state"] ?? "")" } == [
                "imap mx1 10 stopped", "relay mx2 11 silent", "smtp mx1 10 running",
            ])
            #expect(reply.items.last?["stoppedAt"] is NSNull && reply.items.first?["stoppedAt"] is String)
        }
    }

    @Test("GET /api/v1/queue/activity: an entry per hour with its deliveries and bounces; hours bounded")
    func activity() async throws {
        try await AdminFixture.with { fixture, client in
            _ = try await QueueRoutesTests.populate(fixture.store)
            let reply = try await client.call(.get, "/api/v1/queue/activity?hours=3", token: fixture.readToken)
            let hours = reply.json?["hours"] as? [[String: any Sendable]] ?? []
            #expect(reply.status == .ok && hours.count == 3)
            // populate() delivered one recipient and bounced one, just now.
            #expect(hours.last?["delivered"] as? Int == 1 && hours.last?["bounced"] as? Int == 1, "\(reply.text)")
            #expect(hours.dropLast().allSatisfy { $0["delivered"] as? Int == 0 })
            #expect(try await client.call(.get, "/api/v1/queue/activity", token: fixture.readToken).json?["hours"] as? [Any] != nil)
            for bad in ["0", "169", "x"] {
                #expect(try await client.call(.get, "/api/v1/queue/activity?hours=\(bad)", token: fixture.readToken).status == .badRequest)
            }
        }
    }

    @Test("GET /api/v1/accounts?search= finds addresses and display names")
    func search() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            #expect(try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"example.org"}"#).status == .created)
            for (address, name) in [("alice@example.org", "Alice Ops"), ("bob@example.org", "Bob")] {
                let body = #"{"address":"\#(address)","password":"long enough password","displayName":"\#(name)"}"#
                #expect(try await client.call(.post, "/api/v1/accounts", token: t, json: body).status == .created)
            }
            for (query, want) in [
                ("search=OPS", ["alice@example.org"]), ("search=bob%40", ["bob@example.org"]),
                ("search=example&domain=example.org", ["alice@example.org", "bob@example.org"]), ("search=%25", []),
            ] {
                let items = try await client.call(.get, "/api/v1/accounts?\(query)", token: t).items
                #expect(items.compactMap { $0["address"] as? String } == want, "\(query)")
            }
            let tooLong = String(repeating: "a", count: 255)
            #expect(try await client.call(.get, "/api/v1/accounts?search=\(tooLong)", token: t).status == .badRequest)
        }
    }
}
