import MailFormat
import Testing

@Suite("AddressList")
struct AddressListTests {
    typealias Address = AddressList.Address

    @Test("display names quoted or not, the old comment form, comments inside an address, source routes")
    func forms() {
        #expect(
            AddressList(parsing: #""Doe, John" <john@example.org>, Jane Roe <jane@example.org>"#).addresses == [
                Address(displayName: "Doe, John", localPart: "john", domain: "example.org"),
                Address(displayName: "Jane Roe", localPart: "jane", domain: "example.org"),
            ])
        #expect(
            AddressList(parsing: "user@example.org (Real  Name)").addresses == [
                Address(displayName: "Real Name", localPart: "user", domain: "example.org")
            ])
        #expect(
            AddressList(parsing: "<user (a comment)@ (another) example.org>").addresses == [
                Address(displayName: nil, localPart: "user", domain: "example.org")
            ])
        #expect(
            AddressList(parsing: "<@relay.example,@other.example:user@example.org>").addresses == [
                Address(displayName: nil, localPart: "user", domain: "example.org")
            ])
        #expect(
            AddressList(parsing: #""Say \"hi\"" <"odd local"@example.org>"#).addresses == [
                Address(displayName: #"Say "hi""#, localPart: #""odd local""#, domain: "example.org")
            ])
    }

    @Test("groups, empty groups, addresses before and after them")
    func groups() {
        let list = AddressList(parsing: "first@example.org, team: a@example.org, b@example.org;, nobody:;, last@example.org")
        #expect(list.entries.map(\.group) == [nil, "team", "nobody", nil])
        #expect(list.entries.map { $0.members.map(\.address) } == [
            ["first@example.org"], ["a@example.org", "b@example.org"], [], ["last@example.org"],
        ])
    }

    @Test("garbage is kept as written, never a trap; a long list is cut at the limit")
    func lenient() {
        #expect(AddressList(parsing: "not an address").addresses.map(\.address) == ["not an address"])
        #expect(AddressList(parsing: "<unclosed@example.org").addresses.map(\.address) == ["unclosed@example.org"])
        #expect(AddressList(parsing: "(unclosed comment").addresses.isEmpty)
        #expect(AddressList(parsing: ",,,").addresses.isEmpty)
        let many = Array(repeating: "a@example.org", count: 5000).joined(separator: ",")
        #expect(AddressList(parsing: many, maximumAddresses: 100).addresses.count == 100)
    }
}
