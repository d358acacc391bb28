import CUnbound
import Foundation
import NIOPosix
import Synchronization

/// DNS look-ups through libunbound, off the event loops (libunbound's calls block), each bounded by
/// `timeout`: a server that never answers costs a waiting caller no more than that (the blocked thread
/// is freed when libunbound gives up on its own).
///
/// With `server` set ("127.0.0.1:5353") every question goes to that resolver (tests run dnsmasq on
/// loopback; operators may point at a local validating resolver); otherwise the system's
/// /etc/resolv.conf servers are used. libunbound does UDP with TCP fallback on truncation.
public final class DNSResolver: DNSLookup, @unchecked Sendable {
    // One context shared by all look-ups: libunbound's context is thread-safe and keeps a cache.
    private let context: OpaquePointer
    private let pool: NIOThreadPool
    private let timeout: Duration
    private let cache = AnswerCache(capacity: 10_000)

    public enum SetupError: Error, CustomStringConvertible {
        case failed(String)
        public var description: String { switch self { case .failed(let detail): "DNS resolver setup failed: \(detail)" } }
    }

    /// `ub_resolve` blocks for the whole look-up (seconds when a server does not answer), so look-ups
    /// get threads of their own: a slow domain must not hold up other work or other domains.
    ///
    /// With `trustAnchorFile` (DS or DNSKEY records in zone-file form, such as the root's key in
    /// /usr/share/dns/root.key) answers are validated with DNSSEC: `secure` tells which were, and a
    /// bogus answer is a failure.
    public init(server: String?, trustAnchorFile: String? = nil, threads: Int = 16, timeout: Duration = .seconds(20)) throws(SetupError) {
        guard let context = ub_ctx_create() else { throw .failed("ub_ctx_create") }
        self.context = context
        self.timeout = timeout
        self.pool = NIOThreadPool(numberOfThreads: threads)
        self.pool.start()
        if let trustAnchorFile, !trustAnchorFile.isEmpty {
            let status = ub_ctx_add_ta_file(context, trustAnchorFile)
            guard status == 0 else {
                ub_ctx_delete(context)
                throw .failed("trust anchor \(trustAnchorFile): \(String(cString: ub_strerror(status)))")
            }
        }
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

    /// Stops the look-up threads, for a resolver made for one job (the admin DNS check makes one per
    /// check, so that neither its cache nor libunbound's answers with what was there before).
    public func shutdown() async {
        try? await self.pool.shutdownGracefully()
    }

    public func mx(_ domain: String) async -> DNSAnswer<MXRecord> {
        await self.securedMX(domain).answer
    }

    public func txt(_ name: String) async -> DNSAnswer<String> {
        await self.query(name, type: 16) { rdata in
            // One or more <length, octets> character-strings (RFC 1035 §3.3.14), joined.
            var text = [UInt8]()
            var index = rdata.startIndex
            while index < rdata.endIndex {
                let length = Int(rdata[index])
                index += 1
                guard index + length <= rdata.endIndex else { return nil }
                text += rdata[index..<(index + length)]
                index += length
            }
            return String(decoding: text, as: UTF8.self)
        }
    }

    public func ipv4(_ name: String) async -> DNSAnswer<[UInt8]> {
        await self.query(name, type: 1) { rdata in rdata.count == 4 ? Array(rdata) : nil }
    }

    public func ipv6(_ name: String) async -> DNSAnswer<[UInt8]> {
        await self.query(name, type: 28) { rdata in rdata.count == 16 ? Array(rdata) : nil }
    }

    public func ptr(_ name: String) async -> DNSAnswer<String> {
        await self.query(name, type: 12) { rdata in Self.name(rdata) }
    }

    /// IPv4 and IPv6 addresses of `host`, as text; IPv6 first only when there is no IPv4.
    public func addresses(_ host: String) async -> DNSAnswer<String> {
        // Both at once: a server that does not answer costs one time-out, not two.
        async let v4 = self.query(host, type: 1) { rdata in
            rdata.count == 4 ? rdata.map(String.init).joined(separator: ".") : nil
        }
        async let v6 = self.query(host, type: 28) { rdata -> String? in
            guard rdata.count == 16 else { return nil }
            let bytes = Array(rdata)
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
        switch await (v4, v6) {
        case (.records(let a), .records(let aaaa)): return .records(a + aaaa)
        case (.records(let a), _): return .records(a)
        case (_, .records(let aaaa)): return .records(aaaa)
        case (.temporaryFailure(let reason), _), (_, .temporaryFailure(let reason)): return .temporaryFailure(reason)
        case (.nameDoesNotExist, _): return .nameDoesNotExist
        default: return .noData
        }
    }

    /// MX records, and whether DNSSEC validated them (RFC 7672 §2.2.1 trusts MX host names only then).
    public func securedMX(_ domain: String) async -> (answer: DNSAnswer<MXRecord>, secure: Bool) {
        let (raw, secure) = await self.lookup(domain, type: 15)
        return (raw.parsed { rdata in
            guard rdata.count >= 3, let name = Self.name(rdata.dropFirst(2)) else { return nil }
            return MXRecord(preference: UInt16(rdata[rdata.startIndex]) << 8 | UInt16(rdata[rdata.startIndex + 1]), exchange: name)
        }, secure)
    }

    /// Whether both address look-ups of `host` were validated (a denial counts when it was).
    public func addressesAreSecure(_ host: String) async -> Bool {
        async let v4 = self.lookup(host, type: 1)
        async let v6 = self.lookup(host, type: 28)
        let (a, aaaa) = await (v4, v6)
        return a.secure && aaaa.secure
    }

    /// TLSA records (RFC 6698) of `name` (`_25._tcp.mx.example.org`) as (usage, selector, matching
    /// type, data), and whether DNSSEC validated the answer.
    public func tlsa(_ name: String) async -> (answer: DNSAnswer<TLSARecord>, secure: Bool) {
        let (raw, secure) = await self.lookup(name, type: 52)
        return (raw.parsed { rdata in
            guard rdata.count >= 4 else { return nil }
            return TLSARecord(usage: rdata[rdata.startIndex], selector: rdata[rdata.startIndex + 1],
                              matchingType: rdata[rdata.startIndex + 2], data: [UInt8](rdata.dropFirst(3)))
        }, secure)
    }

    private func query<Record: Sendable>(
        _ name: String, type: Int32, _ parse: @escaping @Sendable (Data) -> Record?
    ) async -> DNSAnswer<Record> {
        await self.lookup(name, type: type).answer.parsed(parse)
    }

    private func lookup(_ name: String, type: Int32) async -> (answer: RawAnswer, secure: Bool) {
        // A name that cannot be one (too long, empty labels) is not asked about.
        guard !name.isEmpty, name.utf8.count <= 253, !name.contains(".."), !name.hasPrefix(".") else { return (.nameDoesNotExist, false) }
        let key = AnswerCache.Key(name: name.lowercased(), type: type)
        if let cached = self.cache.answer(for: key) { return cached }
        // Not a task group: it would wait for the blocked look-up however long it takes.
        let pending = FirstAnswer()
        let timeout = self.timeout
        return await withCheckedContinuation { continuation in
            pending.wait(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                pending.answer((.temporaryFailure("DNS look-up of \(name) timed out"), false))
            }
            Task {
                let (answer, ttl, secure) = await self.blockingQuery(name, type: type)
                self.cache.keep(answer, secure: secure, for: key, ttl: ttl)
                pending.answer((answer, secure))
                timer.cancel()
            }
        }
    }

    /// One look-up and the answer's TTL. libunbound's synchronous call sets up a worker (and seeds its
    /// random numbers) each time, which costs more than a cached answer is worth: `cache` keeps answers.
    private func blockingQuery(_ name: String, type: Int32) async -> (RawAnswer, Int, Bool) {
        do {
            return try await self.pool.runIfActive { [self] in
                let context = self.context
                var result: UnsafeMutablePointer<ub_result>?
                let status = ub_resolve(context, name, type, 1, &result)
                defer { if let result { ub_resolve_free(result) } }
                guard status == 0, let answer = result?.pointee else {
                    return (.temporaryFailure("resolver error: \(String(cString: ub_strerror(status)))"), 0, false)
                }
                let ttl = Int(answer.ttl)
                let secure = answer.secure != 0
                // DNSSEC says the answer was tampered with (or the zone is broken): not to be believed.
                if answer.bogus != 0 {
                    let why = answer.why_bogus.map { String(cString: $0) } ?? "validation failed"
                    return (.temporaryFailure("DNSSEC-bogus answer for \(name): \(why)"), 0, false)
                }
                if answer.nxdomain != 0 { return (.nameDoesNotExist, ttl, secure) }
                // rcode 2 is SERVFAIL; other failures (REFUSED, ...) are temporary too.
                if answer.rcode != 0 { return (.temporaryFailure("DNS rcode \(answer.rcode) for \(name)"), 0, false) }
                guard answer.havedata != 0, let data = answer.data, let lengths = answer.len else { return (.noData, ttl, secure) }
                var records: [Data] = []
                var index = 0
                while let pointer = data[index] {
                    records.append(Data(bytes: pointer, count: Int(lengths[index])))
                    index += 1
                }
                return (records.isEmpty ? .noData : .records(records), ttl, secure)
            }
        } catch {
            return (.temporaryFailure("resolver unavailable: \(error)"), 0, false)
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

/// An answer before its records are read: what the cache keeps.
enum RawAnswer: Sendable {
    case records([Data])
    case noData
    case nameDoesNotExist
    case temporaryFailure(String)

    func parsed<Record>(_ parse: (Data) -> Record?) -> DNSAnswer<Record> {
        switch self {
        case .records(let records):
            let parsed = records.compactMap(parse)
            return parsed.isEmpty ? .noData : .records(parsed)
        case .noData: return .noData
        case .nameDoesNotExist: return .nameDoesNotExist
        case .temporaryFailure(let reason): return .temporaryFailure(reason)
        }
    }
}

/// Answers kept for their TTL (at most an hour, and never failures), up to `capacity` of them: a
/// domain that sends many messages is looked up once for all of them.
final class AnswerCache: Sendable {
    struct Key: Hashable, Sendable {
        let name: String
        let type: Int32
    }
    private struct Entry {
        let answer: RawAnswer
        let secure: Bool
        let expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[Key: Entry]>([:])
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func answer(for key: Key) -> (answer: RawAnswer, secure: Bool)? {
        self.entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > .now else {
                entries[key] = nil
                return nil
            }
            return (entry.answer, entry.secure)
        }
    }

    func keep(_ answer: RawAnswer, secure: Bool, for key: Key, ttl: Int) {
        if case .temporaryFailure = answer { return }
        guard ttl > 0 else { return }
        let expires = ContinuousClock.now + .seconds(min(ttl, 3600))
        self.entries.withLock { entries in
            if entries.count >= self.capacity {
                // Full: the expired go, and if that is not enough, everything (simple, and rare).
                let now = ContinuousClock.now
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = Entry(answer: answer, secure: secure, expires: expires)
        }
    }
}

/// The first of the look-up's answer and its timeout resumes the waiting caller; the other is dropped.
private final class FirstAnswer: Sendable {
    private let waiting = Mutex<CheckedContinuation<(answer: RawAnswer, secure: Bool), Never>?>(nil)

    func wait(_ continuation: CheckedContinuation<(answer: RawAnswer, secure: Bool), Never>) {
        self.waiting.withLock { $0 = continuation }
    }

    func answer(_ answer: (answer: RawAnswer, secure: Bool)) {
        self.waiting.withLock { $0.take() }?.resume(returning: answer)
    }
}
