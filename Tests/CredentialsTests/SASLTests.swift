import Credentials
import Foundation
import Testing

@Suite("SASL PLAIN and LOGIN decoding")
struct SASLTests {
    private func plain(_ text: String) throws(SASL.DecodingError) -> SASL.PlainCredentials {
        try SASL.plain(Array(text.utf8))
    }

    @Test("PLAIN with and without an authorization identity")
    func valid() throws {
        #expect(try self.plain("\u{0}alice@example.org\u{0}pw") == SASL.PlainCredentials(
            authorizationID: "", authenticationID: "alice@example.org", password: "pw"))
        #expect(try self.plain("admin\u{0}alice\u{0}pw").authorizationID == "admin")
        let encoded = Data("\u{0}alice\u{0}secret".utf8).base64EncodedString()
        #expect(try SASL.plain(SASL.decodeBase64(encoded)).password == "secret")
    }

    @Test("malformed PLAIN payloads and base64 are refused without a trap")
    func malformed() {
        for bad in ["authcid\u{0}pass", "\u{0}\u{0}", "\u{0}user\u{0}", "a\u{0}b\u{0}c\u{0}d", "", "\u{0}\u{0}pw"] {
            #expect(throws: SASL.DecodingError.malformed) { try self.plain(bad) }
        }
        let huge = "\u{0}user\u{0}" + String(repeating: "p", count: 100_000)
        #expect(throws: SASL.DecodingError.malformed) { try self.plain(huge) }
        #expect(throws: SASL.DecodingError.malformed) { try SASL.plain([0, 0x61, 0, 0xFF, 0xFE]) }
        #expect(throws: SASL.DecodingError.invalidBase64) { try SASL.decodeBase64("!!!notbase64") }
        #expect((try? SASL.decodeBase64("=")) == [])
    }

    @Test("LOGIN fields")
    func login() throws {
        #expect(try SASL.loginField(Array("alice".utf8)) == "alice")
        #expect(throws: SASL.DecodingError.malformed) { try SASL.loginField([]) }
        #expect(throws: SASL.DecodingError.malformed) { try SASL.loginField([0x61, 0]) }
    }
}
