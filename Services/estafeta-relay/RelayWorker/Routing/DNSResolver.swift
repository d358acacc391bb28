import CUnbound
import Foundation
import NIOPosix

/// What a DNS question got.
enum DNSAnswer<Record: Sendable>: Sendable {
    case records([Record])
    /// The name exists but has no records of this type.
    case noData
    /// NXDOMAIN: the name does not exist (a permanent answer).
    case nameDoesNotExist
    /// SERVFAIL, a timeout, no server: try again later.
    case temporaryFailure(String)
}

struct MXRecord: Sendable, Equatable {
    var preference: UInt16
    /// Without the trailing dot; "" for the null MX "." (RFC 7505).
    var exchange: String
}

/// MX, A and AAAA look-ups through libunbound, off the event loops (libunbound's calls block).
///
/// With `server` set ("127.0.0.1:5353") every question goes to that resolver (tests run dnsmasq on
/// loopback; operators may point at a local validating resolver); otherwise the system's
/// /etc/resolv.conf servers are used. libunbound does UDP with TCP fallback on truncation.
final class DNSResolver: @unchecked Sendable {
    // One context shared by all look-ups: libunbound's context is thread-safe and keeps a cache.
    private let context: OpaquePointer
    private let pool: NIOThreadPool

    enum SetupError: Error, CustomStringConvertible {
        case failed(String)
        var description: String { switch self { case .failed(let detail): "DNS resolver setup failed: \(detail)" } }
    }

    /// `ub_resolve` blocks for the whole look-up (seconds when a server does not answer), so look-ups
    /// get threads of their own: a slow domain must not hold up other work or other domains.
    init(server: String?, threads: Int = 16) throws(SetupError) {
        guard let context = ub_ctx_create() else { throw .failed("ub_ctx_create") }
        self.context = context
        self.pool = NIOThreadPool(numberOfThreads: threads)
        self.pool.start()
        if let server, !server.isEmpty {
            // libunbound writes a forwarder's port as address@port.
            let forwarder: String
            if let colon = server.lastIndex(of: ":"), !server.hasPrefix("[") || server.contains("]:") {
                let host = server[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                forwarder = "\(host)@\(server[server.index(after: colon)...])"
            } else {
                forwarder = server
            }
            let status = ub_ctx_set_fwd(context, forwarder)
            guard status == 0 else {
                ub_ctx_delete(context)
                throw .failed("forwarder \(server): \(String(cString: ub_strerror(status)))")
            }
        } else {
            let status = ub_ctx_resolvconf(context, "/etc/resolv.conf")
            guard status == 0 else {
                ub_ctx_delete(context)
                throw .failed("/etc/resolv.conf: \(String(cString: ub_strerror(status)))")
            }
        }
    }

    deinit { ub_ctx_delete(self.context) }

    func mx(_ domain: String) async -> DNSAnswer<MXRecord> {
        await self.query(domain, type: 15) { rdata in
            guard rdata.count >= 3 else { return nil }
            let preference = UInt16(rdata[0]) << 8 | UInt16(rdata[1])
            guard let name = Self.name(rdata.dropFirst(2)) else { return nil }
            return MXRecord(preference: preference, exchange: name)
        }
    }

    /// IPv4 and IPv6 addresses of `host`, as text; IPv6 first only when there is no IPv4.
    func addresses(_ host: String) async -> DNSAnswer<String> {
        let v4 = await self.query(host, type: 1) { rdata in
            rdata.count == 4 ? rdata.map(String.init).joined(separator: ".") : nil
        }
        let v6 = await self.query(host, type: 28) { rdata -> String? in
            guard rdata.count == 16 else { return nil }
            let bytes = Array(rdata)
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
        switch (v4, v6) {
        case (.records(let a), .records(let aaaa)): return .records(a + aaaa)
        case (.records(let a), _): return .records(a)
        case (_, .records(let aaaa)): return .records(aaaa)
        case (.temporaryFailure(let reason), _), (_, .temporaryFailure(let reason)): return .temporaryFailure(reason)
        case (.nameDoesNotExist, _): return .nameDoesNotExist
        default: return .noData
        }
    }

    private func query<Record: Sendable>(
        _ name: String, type: Int32, _ parse: @escaping @Sendable (Data) -> Record?
    ) async -> DNSAnswer<Record> {
        do {
            return try await self.pool.runIfActive { [self] in
                let context = self.context
                var result: UnsafeMutablePointer<ub_result>?
                let status = ub_resolve(context, name, type, 1, &result)
                defer { if let result { ub_resolve_free(result) } }
                guard status == 0, let answer = result?.pointee else {
                    return .temporaryFailure("resolver error: \(String(cString: ub_strerror(status)))")
                }
                if answer.nxdomain != 0 { return .nameDoesNotExist }
                // rcode 2 is SERVFAIL; other failures (REFUSED, ...) are temporary too.
                if answer.rcode != 0 { return .temporaryFailure("DNS rcode \(answer.rcode) for \(name)") }
                guard answer.havedata != 0, let data = answer.data, let lengths = answer.len else { return .noData }
                var records: [Record] = []
                var index = 0
                while let pointer = data[index] {
                    let rdata = Data(bytes: pointer, count: Int(lengths[index]))
                    if let record = parse(rdata) { records.append(record) }
                    index += 1
                }
                return records.isEmpty ? .noData : .records(records)
            }
        } catch {
            return .temporaryFailure("resolver unavailable: \(error)")
        }
    }

    /// An uncompressed wire-format name (libunbound hands out rdata names uncompressed).
    static func name(_ wire: Data) -> String? {
        var labels: [String] = []
        var index = wire.startIndex
        while index < wire.endIndex {
            let length = Int(wire[index])
            index += 1
            if length == 0 { return labels.joined(separator: ".") }
            guard length < 64, index + length <= wire.endIndex else { return nil }
            labels.append(String(decoding: wire[index..<(index + length)], as: UTF8.self).lowercased())
            index += length
        }
        return nil
    }
}
