import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A request body read as a JSON object, with typed getters that name the field at fault.
///
/// Fields the endpoint does not know are refused (400), so that a typo such as `quota` for
/// `quotaBytes` is an error and not a silently ignored setting.
struct JSONRequestBody {
    private let object: [String: Any]

    static func read(
        _ request: Request, context: AdminRequestContext, maximumBytes: Int, allowedFields: Set<String>,
        required: Bool = true
    ) async throws -> JSONRequestBody {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumBytes)
        if buffer.readableBytes == 0 && !required { return JSONRequestBody(object: [:]) }
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw ProblemDetails(
                .unsupportedMediaType, "unsupported-media-type", "Send the request body as application/json")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [])
        } catch {
            throw ProblemDetails.malformedBody("the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw ProblemDetails.malformedBody("expected a JSON object") }
        if let unknown = object.keys.sorted().first(where: { !allowedFields.contains($0) }) {
            throw ProblemDetails.unknownField(unknown)
        }
        return JSONRequestBody(object: object)
    }

    func has(_ field: String) -> Bool { self.object[field] != nil }
    func isNull(_ field: String) -> Bool { self.object[field] is NSNull }

    func string(_ field: String) throws -> String {
        guard let value = try self.optionalString(field) else {
            throw ProblemDetails.invalidField(field, "\(field) is required")
        }
        return value
    }

    func optionalString(_ field: String) throws -> String? {
        guard let value = self.object[field], !(value is NSNull) else { return nil }
        guard let string = value as? String else { throw ProblemDetails.invalidField(field, "\(field) must be a string") }
        return string
    }

    func optionalBool(_ field: String) throws -> Bool? {
        guard let value = self.object[field], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, Self.isBoolean(number) else {
            throw ProblemDetails.invalidField(field, "\(field) must be true or false")
        }
        return number.boolValue
    }

    /// A non-negative whole number (byte counts).
    func optionalByteCount(_ field: String) throws -> Int64? {
        guard let value = self.object[field], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(number),
            let integer = Int64(exactly: number.doubleValue), integer >= 0, number.doubleValue <= 9.0e15
        else { throw ProblemDetails.invalidField(field, "\(field) must be a whole number of bytes, 0 or more") }
        return integer
    }

    /// A whole number of at most 32 bits (sizes such as a key's length).
    func optionalInteger(_ field: String) throws -> Int? {
        guard let value = self.object[field], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(number), let integer = Int32(exactly: number.doubleValue)
        else { throw ProblemDetails.invalidField(field, "\(field) must be a whole number") }
        return Int(integer)
    }

    /// JSONSerialization gives NSNumber for numbers and booleans alike (and `1 is Bool` holds);
    /// only JSON `true`/`false` come out with the C `char` type.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// An array of strings, possibly empty; nil when the field is absent or null.
    func optionalStringArray(_ field: String) throws -> [String]? {
        guard let value = self.object[field], !(value is NSNull) else { return nil }
        guard let array = value as? [Any], let strings = array as? [String] else {
            throw ProblemDetails.invalidField(field, "\(field) must be an array of strings")
        }
        return strings
    }

    func stringArray(_ field: String) throws -> [String] {
        guard let value = self.object[field], let array = value as? [Any], !array.isEmpty,
            let strings = array as? [String]
        else { throw ProblemDetails.invalidField(field, "\(field) must be a non-empty array of strings") }
        return strings
    }
}

/// Paging parameters shared by every collection: `limit` (1–500, default 100) and an opaque `cursor`
/// returned as `nextCursor` by the previous page. Collections are always in the order of their key.
struct PageRequest {
    let limit: Int
    /// The key of the last item of the previous page.
    let after: String?

    static let maximumLimit = 500

    init(_ request: Request) throws {
        let query = request.uri.queryParameters
        if let text = query.get("limit") {
            guard let limit = Int(text), (1...Self.maximumLimit).contains(limit) else {
                throw ProblemDetails.invalidParameter("limit", "limit must be a number from 1 to \(Self.maximumLimit)")
            }
            self.limit = limit
        } else {
            self.limit = 100
        }
        if let cursor = query.get("cursor"), !cursor.isEmpty {
            guard let key = Self.decodeCursor(cursor) else {
                throw ProblemDetails.invalidParameter("cursor", "cursor is not one this API returned")
            }
            self.after = key
        } else {
            self.after = nil
        }
    }

    /// `after` as the numeric id it is in collections keyed by id (audit entries, transfers).
    func afterID() throws -> Int64? {
        guard let key = self.after else { return nil }
        guard let id = Int64(key) else { throw ProblemDetails.invalidParameter("cursor", "cursor is not one this API returned") }
        return id
    }

    /// Cursors are the hex of the last key's UTF-8: opaque to clients, and any even-length hex string
    /// is a cursor (it names a position in key order even if no item has that key).
    static func encodeCursor(_ key: String) -> String {
        key.utf8.map { String(format: "%02x", $0) }.joined()
    }

    static func decodeCursor(_ cursor: String) -> String? {
        let digits = Array(cursor.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.hexValue(digits[index]), let low = Self.hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// One page of a collection. Fetch `limit + 1` items to know whether another page follows.
struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    let items: [Item]
    let nextCursor: String?

    init<Source>(_ fetched: [Source], limit: Int, key: (Source) -> String, map: (Source) -> Item) {
        let shown = Array(fetched.prefix(limit))
        self.items = shown.map(map)
        self.nextCursor = fetched.count > limit ? shown.last.map { PageRequest.encodeCursor(key($0)) } : nil
    }

    /// `nextCursor` is always present: null on the last page.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.items, forKey: .items)
        try container.encode(self.nextCursor, forKey: .nextCursor)
    }
    enum CodingKeys: String, CodingKey { case items, nextCursor }
}

enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, location: String? = nil) throws
        -> Response
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let location { headers[.location] = location }
        let data = try Self.encoder.encode(value)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func noContent() -> Response { Response(status: .noContent) }
}

extension Request {
    /// A path parameter, percent-decoded (`alice%40example.org` → `alice@example.org`).
    func pathParameter(_ name: String, context: AdminRequestContext) throws -> String {
        guard let raw = context.parameters.get(name), let decoded = raw.removingPercentEncoding, !decoded.isEmpty,
            !decoded.contains("\u{0}")
        else { throw ProblemDetails.invalidParameter(name, "invalid \(name) in the path") }
        return decoded
    }
}
