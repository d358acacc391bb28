import Credentials
import Testing

@Suite("crypt(3) password hashes")
struct PasswordHashTests {
    @Test("new hashes are yescrypt, salted, and verify")
    func yescryptRoundTrip() async throws {
        let first = try await PasswordHasher.hash("correct horse battery staple")
        let second = try await PasswordHasher.hash("correct horse battery staple")
        #expect(first.encoded.hasPrefix("$y$"))
        #expect(first.scheme == .yescrypt)
        #expect(first != second, "each hash gets its own salt")
        #expect(await PasswordHasher.verify("correct horse battery staple", against: first))
        #expect(await !PasswordHasher.verify("correct horse battery stapler", against: first))
        #expect(await !PasswordHasher.verify("", against: first))
    }

    // Made by OpenSSL (`openssl passwd -6 -salt estafetasalt 'correct horse'`), not by libxcrypt.
    @Test("SHA512-CRYPT ($6$) hashes from elsewhere verify")
    func sha512Crypt() async throws {
        let hash = try #require(
            PasswordHash(
                encoded:
                    "$6$estafetasalt$KTvTczp7uXsLud5mnzorGaYiL1/E57FhgnVLKkBCtiI..vHLmP0gIVYvGr8gbI.p20Gz4LdBQiN6BG2py8SV./"
            ))
        #expect(hash.scheme == .sha512Crypt)
        #expect(await PasswordHasher.verify("correct horse", against: hash))
        #expect(await !PasswordHasher.verify("correct horsE", against: hash))
    }

    // The crypt_blowfish test vector for "U*U" at cost 5.
    @Test("bcrypt ($2b$ and $2y$) hashes verify")
    func bcrypt() async throws {
        for prefix in ["$2b$", "$2y$", "$2a$"] {
            let hash = try #require(PasswordHash(encoded: prefix + "05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
            #expect(hash.scheme == .bcrypt)
            #expect(await PasswordHasher.verify("U*U", against: hash))
            #expect(await !PasswordHasher.verify("U*V", against: hash))
        }
    }

    @Test("SHA512-CRYPT and bcrypt can also be made")
    func otherSchemes() async throws {
        let sha = try await PasswordHasher.hash("pw", scheme: .sha512Crypt)
        #expect(sha.encoded.hasPrefix("$6$"))
        #expect(await PasswordHasher.verify("pw", against: sha))
        let blowfish = try await PasswordHasher.hash("pw", scheme: .bcrypt, cost: 5)
        #expect(blowfish.encoded.hasPrefix("$2b$05$"))
        #expect(await PasswordHasher.verify("pw", against: blowfish))
    }

    @Test("Dovecot passwd-file scheme prefixes are understood; plain and unknown schemes are refused")
    func importing() throws {
        let sha = try #require(PasswordHash(importing: "{SHA512-CRYPT}$6$estafetasalt$KTvTczp7uXsLud5mnzorGaYiL1/E57FhgnVLKkBCtiI..vHLmP0gIVYvGr8gbI.p20Gz4LdBQiN6BG2py8SV./"))
        #expect(sha.encoded.hasPrefix("$6$"))
        #expect(PasswordHash(importing: "{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW") != nil)
        #expect(PasswordHash(importing: "{PLAIN}secret") == nil)
        #expect(PasswordHash(importing: "{MD5}abc") == nil)
        #expect(PasswordHash(encoded: "secret") == nil)
        #expect(PasswordHash(encoded: "$1$md5crypt$abc") == nil, "MD5-CRYPT is too weak to accept")
    }

    @Test("a password with NUL never verifies (crypt would truncate it)")
    func nulInPassword() async throws {
        let hash = try await PasswordHasher.hash("abc")
        #expect(await !PasswordHasher.verify("abc\u{0}def", against: hash))
        await #expect(throws: PasswordHashError.hashingFailed) { try await PasswordHasher.hash("abc\u{0}") }
    }

    @Test("the hash never shows in descriptions")
    func redacted() async throws {
        let hash = try await PasswordHasher.hash("pw")
        #expect(!"\(hash)".contains(hash.encoded))
    }
}
