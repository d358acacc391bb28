import Credentials
import Foundation
import HTTPTypes
import HummingbirdTesting
import MailFormat
import MailStore
import NIOCore
import Testing

@Suite("Admin API: domains, accounts, aliases, mailboxes")
struct AccountRoutesTests {
    @Test("domains: create, read, duplicate, invalid, delete refused while accounts exist unless forced")
    func domains() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            let created = try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"Example.ORG"}"#)
            #expect(created.status == .created)
            #expect(created.headers[.location] == "/api/v1/domains/example.org")
            #expect(created.json?["name"] as? String == "example.org")
            #expect(try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"example.org"}"#).problem == "domain-exists")
            let invalid = try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"not a domain"}"#)
            #expect(invalid.status == .badRequest && invalid.json?["field"] as? String == "name")
            #expect(try await client.call(.get, "/api/v1/domains/example.org", token: t).json?["accountCount"] as? Int == 0)
            #expect(try await client.call(.get, "/api/v1/domains/nope.example", token: t).status == .notFound)

            _ = try await client.call(
                .post, "/api/v1/accounts", token: t, json: #"{"address":"a@example.org","password":"long enough pw"}"#)
            let refused = try await client.call(.delete, "/api/v1/domains/example.org", token: t)
            #expect(refused.status == .conflict && refused.problem == "domain-not-empty")
            #expect(try await client.call(.delete, "/api/v1/domains/example.org?force=maybe", token: t).status == .badRequest)
            #expect(try await client.call(.delete, "/api/v1/domains/example.org?force=true", token: t).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/accounts/a@example.org", token: t).status == .notFound)
        }
    }

    @Test("accounts: create with quota and display name, validation names the field, duplicates conflict")
    func createAccounts() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            _ = try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"example.org"}"#)
            let created = try await client.call(
                .post, "/api/v1/accounts", token: t,
                json: #"{"address":"Alice@Example.org","password":"correct horse battery","quotaBytes":1000000,"displayName":"Alice A."}"#)
            #expect(created.status == .created)
            #expect(created.headers[.location] == "/api/v1/accounts/Alice@example.org")
            let usage = created.json?["usage"] as? [String: any Sendable]
            #expect(usage?["messages"] as? Int == 0 && usage?["quotaBytes"] as? Int == 1_000_000)
            // The password works for logins elsewhere: the store holds a yescrypt hash of it.
            let credentials = try #require(try await fixture.store.credentials(for: EmailAddress(parsing: "alice@example.org")))
            #expect(credentials.passwordHash.scheme == .yescrypt)
            #expect(await PasswordHasher.verify("correct horse battery", against: credentials.passwordHash))

            let cases: [(String, String, String)] = [
                (#"{"address":"bob@example.org","password":"short"}"#, "weak-password", "password"),
                (#"{"address":"not-an-address","password":"long enough pw"}"#, "invalid-field", "address"),
                (#"{"address":"bob@unknown.example","password":"long enough pw"}"#, "unknown-domain", "address"),
                (#"{"address":"alice@example.org","password":"long enough pw"}"#, "account-exists", "address"),
                (#"{"address":"bob@example.org","password":"long enough pw","quota":5}"#, "unknown-field", "quota"),
                (#"{"address":"bob@example.org","password":"long enough pw","quotaBytes":-5}"#, "invalid-field", "quotaBytes"),
                (#"{"address":"bob@example.org","password":"long enough pw","quotaBytes":true}"#, "invalid-field", "quotaBytes"),
                (#"{"address":"bob@example.org","password":42}"#, "invalid-field", "password"),
                (#"{"address":"bob@example.org","password":"long enough pw","displayName":"x\r\nBcc: evil@example.net"}"#, "invalid-field", "displayName"),
                (#"{"password":"long enough pw"}"#, "invalid-field", "address"),
            ]
            for (body, problem, field) in cases {
                let reply = try await client.call(.post, "/api/v1/accounts", token: t, json: body)
                #expect(reply.problem == problem, "\(body) → \(reply.text)")
                #expect(reply.json?["field"] as? String == field, "\(body) → \(reply.text)")
                #expect((400..<500).contains(Int(reply.status.code)))
            }
        }
    }

    @Test("accounts: an existing crypt(3) hash is imported as is, with or without a Dovecot scheme prefix")
    func importHashes() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            _ = try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"example.org"}"#)
            // Made by `openssl passwd -6 -salt estafetaTestSalt 'imported password'`, as a Dovecot passwd-file has it.
            let sha512 = "$6$estafetaTestSalt$ajomn0E55qb5Grw8vO6GpNShpvNqv48EggO3aCTwb9mjBdIvgjLgyGG0LP90aIV.jLDHtTrwwhXCLBSQxyadM/"
            let created = try await client.call(
                .post, "/api/v1/accounts", token: t,
                json: #"{"address":"carol@example.org","passwordHash":"{SHA512-CRYPT}\#(sha512)"}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.json?["passwordHash"] == nil)
            let address = try EmailAddress(parsing: "carol@example.org")
            var credentials = try #require(try await fixture.store.credentials(for: address))
            #expect(credentials.passwordHash.encoded == sha512)
            #expect(await PasswordHasher.verify("imported password", against: credentials.passwordHash))
            #expect(await !PasswordHasher.verify("imported passwore", against: credentials.passwordHash))

            // PATCH takes a bare crypt(3) string too (from `openssl passwd -5 -salt abc x`).
            let patched = try await client.call(
                .patch, "/api/v1/accounts/carol@example.org", token: t,
                json: #"{"passwordHash":"$5$abc$sCOGUciM.GdmYMCUvmUcgu03oRH87O0clF96.9mwWGB"}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            credentials = try #require(try await fixture.store.credentials(for: address))
            #expect(credentials.passwordHash.scheme == .sha256Crypt)
            #expect(await PasswordHasher.verify("x", against: credentials.passwordHash))

            let cases: [(String, String)] = [
                (#"{"address":"dan@example.org","password":"long enough pw","passwordHash":"\#(sha512)"}"#, "passwordHash"),
                (#"{"address":"dan@example.org","passwordHash":"{PLAIN}secret"}"#, "passwordHash"),
                (#"{"address":"dan@example.org","passwordHash":"$1$md5$notaccepted"}"#, "passwordHash"),
                (#"{"address":"dan@example.org","passwordHash":"$6$a:b"}"#, "passwordHash"),
                (#"{"address":"dan@example.org"}"#, "password"),
            ]
            for (body, field) in cases {
                let reply = try await client.call(.post, "/api/v1/accounts", token: t, json: body)
                #expect(reply.status == .badRequest, "\(body) → \(reply.text)")
                #expect(reply.json?["field"] as? String == field, "\(body) → \(reply.text)")
            }
            #expect(try await client.call(.get, "/api/v1/accounts/dan@example.org", token: t).status == .notFound)
        }
    }

    @Test("accounts: PATCH is all or nothing; disable, remove quota, change password; DELETE removes the mail")
    func updateAndDelete() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            _ = try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"example.org"}"#)
            _ = try await client.call(
                .post, "/api/v1/accounts", token: t,
                json: #"{"address":"alice@example.org","password":"first password","quotaBytes":100}"#)
            let patched = try await client.call(
                .patch, "/api/v1/accounts/alice%40example.org", token: t,
                json: #"{"enabled":false,"quotaBytes":null,"password":"second password"}"#)
            #expect(patched.status == .ok)
            #expect(patched.json?["enabled"] as? Bool == false)
            #expect(patched.json?["quotaBytes"] is NSNull)
            let address = try EmailAddress(parsing: "alice@example.org")
            let credentials = try #require(try await fixture.store.credentials(for: address))
            #expect(credentials.enabled == false)
            #expect(await PasswordHasher.verify("second password", against: credentials.passwordHash))
            // A bad field in a PATCH changes nothing at all.
            let bad = try await client.call(.patch, "/api/v1/accounts/alice@example.org", token: t, json: #"{"enabled":"yes"}"#)
            #expect(bad.status == .badRequest && bad.json?["field"] as? String == "enabled")
            #expect(try await client.call(.patch, "/api/v1/accounts/nobody@example.org", token: t, json: "{}").status == .notFound)

            // Mail in the account, and a queue row it sent: DELETE removes the mail, keeps the queue row.
            let account = try await fixture.store.account(address)
            let inbox = try await fixture.store.mailbox(named: "INBOX", of: account.id)
            _ = try await fixture.store.appendMessage(Data("Subject: x\r\n\r\nhello\r\n".utf8), to: inbox.id)
            let sent = try await fixture.store.acceptMessage(
                Data("Subject: out\r\n\r\n".utf8),
                envelope: Envelope(sender: address, recipients: [.init(address: try EmailAddress(parsing: "x@remote.example"))]))
            let mailboxes = try await client.call(.get, "/api/v1/accounts/alice@example.org/mailboxes", token: t)
            let inboxRow = mailboxes.items.first { $0["name"] as? String == "INBOX" }
            #expect(inboxRow?["messages"] as? Int == 1 && (inboxRow?["sizeBytes"] as? Int ?? 0) > 0)
            #expect(mailboxes.items.count == 6)
            #expect(try await client.call(.get, "/api/v1/accounts/alice@example.org", token: t).json.flatMap {
                ($0["usage"] as? [String: any Sendable])?["messages"] as? Int } == 1)
            #expect(try await client.call(.delete, "/api/v1/accounts/alice@example.org", token: t).status == .noContent)
            #expect(try await client.call(.delete, "/api/v1/accounts/alice@example.org", token: t).status == .notFound)
            #expect(try await fixture.store.queueMessage(sent.id) != nil)
        }
    }

    @Test("collections page with limit and cursor, in key order, and filter by domain")
    func paging() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            for domain in ["a.example", "b.example"] {
                _ = try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"\#(domain)"}"#)
            }
            let hash = try await PasswordHasher.hash("pw", scheme: .sha512Crypt)
            for index in 0..<7 {
                try await fixture.store.createAccount(try EmailAddress(parsing: "user\(index)@a.example"), passwordHash: hash)
            }
            try await fixture.store.createAccount(try EmailAddress(parsing: "other@b.example"), passwordHash: hash)
            var seen: [String] = []
            var uri = "/api/v1/accounts?domain=a.example&limit=3"
            for _ in 0..<5 {
                let page = try await client.call(.get, uri, token: t)
                #expect(page.status == .ok)
                seen += page.items.compactMap { $0["address"] as? String }
                guard let cursor = page.json?["nextCursor"] as? String else {
                    #expect(page.json?["nextCursor"] is NSNull)
                    break
                }
                uri = "/api/v1/accounts?domain=a.example&limit=3&cursor=\(cursor)"
            }
            #expect(seen == (0..<7).map { "user\($0)@a.example" })
            #expect(try await client.call(.get, "/api/v1/accounts", token: t).items.count == 8)
            for bad in ["limit=0", "limit=501", "limit=ten", "cursor=%25%25%25"] {
                let reply = try await client.call(.get, "/api/v1/accounts?\(bad)", token: t)
                #expect(reply.status == .badRequest && reply.problem == "invalid-parameter", "\(bad)")
            }
            let domains = try await client.call(.get, "/api/v1/domains?limit=1", token: t)
            #expect(domains.items.count == 1 && domains.json?["nextCursor"] is String)
        }
    }

    @Test("aliases and catch-alls: create, list, delete; targets must be addresses")
    func aliases() async throws {
        try await AdminFixture.with { fixture, client in
            let t = fixture.writeToken
            _ = try await client.call(.post, "/api/v1/domains", token: t, json: #"{"name":"example.org"}"#)
            let alias = try await client.call(
                .post, "/api/v1/aliases", token: t,
                json: #"{"address":"sales@example.org","targets":["a@example.org","b@remote.example"]}"#)
            #expect(alias.status == .created && alias.json?["catchAll"] as? Bool == false)
            let catchAll = try await client.call(
                .post, "/api/v1/aliases", token: t, json: #"{"address":"@example.org","targets":["a@example.org"]}"#)
            #expect(catchAll.status == .created && catchAll.json?["catchAll"] as? Bool == true)
            #expect(
                try await fixture.store.resolveRecipient(EmailAddress(parsing: "x@example.org")) == .catchAll(targets: ["a@example.org"]))
            let list = try await client.call(.get, "/api/v1/aliases?domain=example.org", token: t)
            #expect(list.items.compactMap { $0["address"] as? String } == ["@example.org", "sales@example.org"])
            let badTarget = try await client.call(
                .post, "/api/v1/aliases", token: t, json: #"{"address":"x@example.org","targets":["nope"]}"#)
            #expect(badTarget.status == .badRequest && badTarget.json?["field"] as? String == "targets")
            let empty = try await client.call(.post, "/api/v1/aliases", token: t, json: #"{"address":"x@example.org","targets":[]}"#)
            #expect(empty.json?["field"] as? String == "targets")
            #expect(try await client.call(.post, "/api/v1/aliases", token: t, json: #"{"address":"sales@example.org","targets":["a@example.org"]}"#).status == .conflict)
            #expect(try await client.call(.delete, "/api/v1/aliases/sales@example.org", token: t).status == .noContent)
            #expect(try await client.call(.delete, "/api/v1/aliases/sales@example.org", token: t).status == .notFound)
            #expect(try await client.call(.delete, "/api/v1/aliases/%40example.org", token: t).status == .noContent)
        }
    }
}
