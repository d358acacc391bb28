import Foundation
import Logging
import MailAuth
import MailDNS
import MailStore
import NIOCore
import NIOSSL
import ServiceHost

/// The MTA-STS policies (RFC 8461) of destination domains: discovered through `_mta-sts.<domain>`
/// TXT records, fetched over HTTPS from `mta-sts.<domain>` with a verified certificate, and kept for
/// their `max_age` so that a later attacker who strips the TXT record or blocks the fetch cannot
/// turn delivery back to unauthenticated TLS (§5.1).
///
/// Policies are kept in the store (so a restarted relay, or another relay host, applies them too) and
/// in memory in front of it.
actor MTASTSPolicies {
    struct Cached {
        var policy: MTASTSPolicy
        var id: String
        var expires: Date
    }

    private let resolver: DNSResolver
    private let fetcher: MTASTSPolicyFetcher
    private let store: MailStore
    private let logger: Logger
    private var cache: [String: Cached] = [:]
    /// A failed fetch is not repeated for every message to the domain (§3.3 lets senders limit how
    /// often they fetch): the record id that failed and when to try it again.
    private var failures: [String: (id: String, retryAfter: Date)] = [:]
    private var fetches: [String: Task<Result<MTASTSPolicy, ResolvedHTTPS.Failure>, Never>] = [:]
    /// Domains the store had no policy for, and until when that answer stands: most domains have none,
    /// and their mail should not cost a store read per message.
    private var knownAbsent: [String: Date] = [:]

    static let capacity = 10_000
    static let failureBackoff: TimeInterval = 300

    init(resolver: DNSResolver, tlsConfiguration: TLSConfiguration, port: Int, store: MailStore, logger: Logger) {
        self.resolver = resolver
        self.store = store
        self.fetcher = MTASTSPolicyFetcher(https: ResolvedHTTPS(resolver: resolver, tlsConfiguration: tlsConfiguration), port: port)
        self.logger = logger
    }

    /// The policy that applies to mail for `domain` now, or nil when it has none (or none could be
    /// learnt and none is cached).
    func policy(for domain: String, now: Date = Date()) async -> MTASTSPolicy? {
        let domain = domain.lowercased()
        let cached = await self.kept(domain, now: now)
        let record: MTASTSRecord?
        switch await self.resolver.txt("_mta-sts.\(domain)") {
        case .records(let texts): record = MTASTSRecord.select(texts)
        case .nameDoesNotExist, .noData: record = nil
        case .temporaryFailure: return cached?.policy
        }
        // §5.1: a record that vanished does not withdraw a policy before it expires.
        guard let record else { return cached?.policy }
        if let cached, cached.id == record.id { return cached.policy }
        if let failure = self.failures[domain], failure.id == record.id, failure.retryAfter > now { return cached?.policy }

        let result = await self.fetch(domain)
        switch result {
        case .success(let policy):
            self.failures[domain] = nil
            let expires = now.addingTimeInterval(TimeInterval(policy.maxAge))
            self.remember(domain, Cached(policy: policy, id: record.id, expires: expires), now: now)
            do {
                try await self.store.saveMTASTSPolicy(
                    StoredMTASTSPolicy(domain: domain, id: record.id, policy: policy.lines.joined(separator: "\n"), expiresAt: expires), now: now)
            } catch {
                self.logger.warning("cannot keep the MTA-STS policy in the store", metadata: ["domain": "\(domain)", "error": "\(error)"])
            }
            self.logger.info("MTA-STS policy learnt", metadata: ["domain": "\(domain)", "mode": "\(policy.mode)", "id": "\(record.id)"])
            return policy
        case .failure(let error):
            if self.failures.count >= Self.capacity { self.failures = self.failures.filter { $0.value.retryAfter > now } }
            self.failures[domain] = (record.id, now.addingTimeInterval(Self.failureBackoff))
            self.logger.warning(
                "cannot fetch the MTA-STS policy; using the cached one if any", metadata: ["domain": "\(domain)", "error": "\(error)"])
            return cached?.policy
        }
    }

    /// The unexpired policy kept for `domain`: in memory, else in the store (put in memory then).
    private func kept(_ domain: String, now: Date) async -> Cached? {
        if let cached = self.cache[domain], cached.expires > now { return cached }
        if let until = self.knownAbsent[domain], until > now { return nil }
        do {
            guard let stored = try await self.store.mtaSTSPolicy(for: domain, now: now),
                let policy = try? MTASTSPolicy(parsing: Array(stored.policy.utf8))
            else {
                if self.knownAbsent.count >= Self.capacity { self.knownAbsent = self.knownAbsent.filter { $0.value > now } }
                self.knownAbsent[domain] = now.addingTimeInterval(Self.failureBackoff)
                return nil
            }
            let cached = Cached(policy: policy, id: stored.id, expires: stored.expiresAt)
            self.remember(domain, cached, now: now)
            return cached
        } catch {
            self.logger.warning("cannot read the kept MTA-STS policy", metadata: ["domain": "\(domain)", "error": "\(error)"])
            return nil
        }
    }

    /// One fetch per domain at a time: concurrent deliveries to the domain wait for the same answer.
    private func fetch(_ domain: String) async -> Result<MTASTSPolicy, ResolvedHTTPS.Failure> {
        if let running = self.fetches[domain] { return await running.value }
        let task = Task { await self.fetcher.fetch(domain) }
        self.fetches[domain] = task
        let result = await task.value
        self.fetches[domain] = nil
        return result
    }

    private func remember(_ domain: String, _ entry: Cached, now: Date) {
        self.knownAbsent[domain] = nil
        self.cache[domain] = entry
        guard self.cache.count > Self.capacity else { return }
        self.cache = self.cache.filter { $0.value.expires > now }
        while self.cache.count > Self.capacity, let soonest = self.cache.min(by: { $0.value.expires < $1.value.expires }) {
            self.cache[soonest.key] = nil
        }
    }
}
