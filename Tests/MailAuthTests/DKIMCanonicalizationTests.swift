import Crypto
import Foundation
import MailAuth
import Testing

/// RFC 6376 §3.4.5's example, and the edge cases of the body's end.
@Suite struct DKIMCanonicalizationTests {
    static let exampleHeader = Array("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n".utf8)
    static let exampleBody = Array(" C \r\nD \t E\r\n\r\n\r\n".utf8)

    static func bodyHash(_ body: [UInt8], _ canonicalization: DKIMCanonicalization, pieces: Int = 1, limit: Int? = nil) -> (Data, Int) {
        var hasher = DKIMBodyHasher(canonicalization: canonicalization, limit: limit)
        let size = max(1, body.count / pieces)
        var rest = body[...]
        while !rest.isEmpty {
            hasher.add(rest.prefix(size))
            rest = rest.dropFirst(size)
        }
        let hash = hasher.finish()
        return (hash, hasher.canonicalLength)
    }

    static func sha256(_ text: String) -> Data { Data(SHA256.hash(data: Array(text.utf8))) }

    @Test func relaxedHeaderFields() {
        let fields = DKIMHeaderField.fields(of: Self.exampleHeader)
        #expect(fields.map(\.name) == ["A", "B"])
        #expect(String(decoding: fields[0].canonicalized(.relaxed), as: UTF8.self) == "a:X\r\n")
        #expect(String(decoding: fields[1].canonicalized(.relaxed), as: UTF8.self) == "b:Y Z\r\n")
        #expect(String(decoding: fields[1].canonicalized(.simple), as: UTF8.self) == "B : Y\t\r\n\tZ  \r\n")
        // Only the blanks after the name's colon go; a colon inside the value keeps the space after it.
        let subject = DKIMHeaderField.fields(of: Array("Subject:  Re:  hello \r\n\tworld\r\n".utf8))
        #expect(String(decoding: subject[0].canonicalized(.relaxed), as: UTF8.self) == "subject:Re: hello world\r\n")
    }

    @Test(arguments: [1, 3, 7, 40])
    func exampleBodies(pieces: Int) {
        #expect(Self.bodyHash(Self.exampleBody, .relaxed, pieces: pieces).0 == Self.sha256(" C\r\nD E\r\n"))
        #expect(Self.bodyHash(Self.exampleBody, .simple, pieces: pieces).0 == Self.sha256(" C \r\nD \t E\r\n"))
    }

    @Test func bodyEnds() {
        // An empty body: one CRLF under simple, nothing under relaxed.
        #expect(Self.bodyHash([], .simple).0 == Self.sha256("\r\n"))
        #expect(Self.bodyHash([], .relaxed).0 == Self.sha256(""))
        #expect(Self.bodyHash(Array("\r\n\r\n".utf8), .simple).0 == Self.sha256("\r\n"))
        #expect(Self.bodyHash(Array("\r\n\r\n".utf8), .relaxed).0 == Self.sha256(""))
        // A last line without CRLF gets one; blank-only lines at the end are empty under relaxed.
        #expect(Self.bodyHash(Array("abc".utf8), .relaxed).0 == Self.sha256("abc\r\n"))
        #expect(Self.bodyHash(Array("abc\r\n  \r\n".utf8), .relaxed).0 == Self.sha256("abc\r\n"))
        #expect(Self.bodyHash(Array("abc\r\n  \r\n".utf8), .simple).0 == Self.sha256("abc\r\n  \r\n"))
        #expect(Self.bodyHash(Array("abc\r\n   ".utf8), .relaxed).0 == Self.sha256("abc\r\n"))
        // A lone CR is content.
        #expect(Self.bodyHash(Array("a\rb\r\n".utf8), .relaxed).0 == Self.sha256("a\rb\r\n"))
    }

    @Test func bodyLengthLimit() {
        let (hash, length) = Self.bodyHash(Array("hello world\r\nmore\r\n".utf8), .relaxed, pieces: 5, limit: 5)
        #expect(hash == Self.sha256("hello"))
        #expect(length == 19)
    }

    @Test func tagLists() throws {
        let tags = try DKIMTagList(parsing: " v=1; a = rsa-sha256 ;\r\n\tb=ab c\r\n d=; ")
        #expect(tags["v"] == "1")
        #expect(tags["a"] == "rsa-sha256")
        #expect(tags.compact("b") == "abcd=")
        #expect(throws: DKIMTagList.ParseError.duplicate("v")) { try DKIMTagList(parsing: "v=1; v=2") }
        #expect(throws: DKIMTagList.ParseError.self) { try DKIMTagList(parsing: "v=1; novalue") }
        #expect(throws: DKIMTagList.ParseError.self) { try DKIMTagList(parsing: "1v=1") }
    }
}
