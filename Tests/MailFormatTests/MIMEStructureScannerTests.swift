import Foundation
import MailFormat
import Testing

@Suite("MIME structure read a piece at a time")
struct MIMEStructureScannerTests {
    /// Messages made of the corners MIME parsing has: reused and prefixed boundaries, missing closing
    /// delimiters, headers cut short by a delimiter, bare LF and lone CR line ends, enclosed messages,
    /// digests, and text that ends without a line end.
    static func randomMessage(_ random: inout some RandomNumberGenerator, depth: Int = 0) -> String {
        let ends = ["\r\n", "\r\n", "\n", "\r\r\n"]
        func end() -> String { ends.randomElement(using: &random) ?? "\r\n" }
        func text() -> String {
            let lines = ["plain text", "", "--b", "--b--", "--bb", "  ", "\r", "=41=42", "SGVsbG8=", "--c junk", "--b  \t"]
            return (0..<Int.random(in: 0...4, using: &random)).map { _ in (lines.randomElement(using: &random) ?? "") + end() }.joined()
        }
        let boundary = ["b", "c", "bb", "b"].randomElement(using: &random) ?? "b"
        switch depth < 4 ? Int.random(in: 0...5, using: &random) : 0 {
        case 0, 1:
            let type = ["", "Content-Type: text/html; charset=utf-8" + end(), "Content-Type: application/pdf" + end(), "Content-Type: garbage" + end()]
            return (type.randomElement(using: &random) ?? "") + "Subject: s" + end() + (Bool.random(using: &random) ? end() : "") + text()
        case 2, 3:
            var message = "Content-Type: multipart/" + (Bool.random(using: &random) ? "mixed" : "digest") + "; boundary=\"\(boundary)\"" + end()
            if Bool.random(using: &random) { message += end() }
            message += text()
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                message += "--\(boundary)" + (Bool.random(using: &random) ? " " : "") + end() + Self.randomMessage(&random, depth: depth + 1)
                if Bool.random(using: &random) { message += end() }
            }
            if Bool.random(using: &random) { message += "--\(boundary)--" + end() + text() }
            return message
        default:
            return "Content-Type: message/rfc822" + end() + (Bool.random(using: &random) ? end() : "") + Self.randomMessage(&random, depth: depth + 1)
        }
    }

    static func scanned(_ bytes: [UInt8], cuts: [Int], maximumParts: Int = 5_000, maximumDepth: Int = 30) -> MIMEEntity {
        var scanner = MIMEStructureScanner(maximumDepth: maximumDepth, maximumParts: maximumParts)
        var start = 0
        for cut in cuts.sorted() + [bytes.count] where cut >= start {
            scanner.feed(bytes[start..<cut])
            start = cut
        }
        return scanner.finish()
    }

    @Test("the same structure whatever pieces the message comes in")
    func piecesDoNotMatter() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = Array(Self.randomMessage(&random).utf8)
            let parts = Int.random(in: 1...40, using: &random)
            let depth = Int.random(in: 1...6, using: &random)
            let whole = MIMEParser.parse(bytes, maximumDepth: depth, maximumParts: parts)
            let cuts = (0..<Int.random(in: 0...8, using: &random)).map { _ in Int.random(in: 0...bytes.count, using: &random) }
            let oneByOne = Self.scanned(bytes, cuts: Array(0...bytes.count), maximumParts: parts, maximumDepth: depth)
            #expect(Self.scanned(bytes, cuts: cuts, maximumParts: parts, maximumDepth: depth) == whole, "\(bytes)")
            #expect(oneByOne == whole, "\(String(decoding: bytes, as: UTF8.self))")
        }
    }
}
