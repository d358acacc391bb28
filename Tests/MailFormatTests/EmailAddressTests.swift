import MailFormat
import Testing

@Suite("EmailAddress")
struct EmailAddressTests {
    @Test("domains are lower-cased, local parts keep their case")
    func normalisation() throws {
        let address = try EmailAddress(parsing: "John.Doe@Example.ORG.")
        #expect(address.localPart == "John.Doe")
        #expect(address.domain == "example.org")
        #expect(address.description == "John.Doe@example.org")
    }

    @Test(
        "valid addresses",
        arguments: [
            "a@b.c", "first.last+tag@example.org", "\"john smith\"@example.org", "user@xn--bcher-kva.example",
            "用户@例子.广告", "o'brien@example.org", "x@host-1.test",
        ])
    func valid(_ text: String) throws {
        _ = try EmailAddress(parsing: text)
    }

    @Test(
        "invalid addresses",
        arguments: [
            "", "plain", "@example.org", "user@", "user@@example.org", ".user@example.org", "user.@example.org",
            "us..er@example.org", "us er@example.org", "user@exa mple.org", "user@-example.org", "user@example-.org",
            "user@example..org", "user@[192.0.2.1]", "\"unterminated@example.org", "a\r\nb@example.org",
            String(repeating: "a", count: 65) + "@example.org",
            "user@" + String(repeating: "a", count: 64) + ".org",
        ])
    func invalid(_ text: String) {
        #expect(throws: EmailAddressError.self) { try EmailAddress(parsing: text) }
    }

    @Test("SMTPUTF8 is needed only for non-ASCII addresses")
    func smtputf8() throws {
        #expect(try !EmailAddress(parsing: "a@b.c").requiresSMTPUTF8)
        #expect(try EmailAddress(parsing: "josé@b.c").requiresSMTPUTF8)
        #expect(try EmailAddress(parsing: "a@bücher.example").requiresSMTPUTF8)
    }
}
