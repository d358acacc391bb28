import AsyncHTTPClient
import Foundation
import Logging
import MailAuth
import MailDNS
import MailFormat
import MailStore
import NIOCore
import NIOHTTP1
import ServiceHost
import ServiceLifecycle

/// Sends the TLS reports (RFC 8460) owed for report periods that have ended: for each destination
/// domain with sessions counted, to the addresses and URLs its `_smtp._tls` TXT record names, by mail
/// (queued like any message, DKIM-signed as the reporting host's domain) or by HTTPS POST. The counts
/// are taken out of the store first, so one relay reports them; a domain without a record gets none.
struct TLSReporter: Service {
    let store: MailStore
    let resolver: DNSResolver
    let https: ResolvedHTTPS
    let hostname: String
    let period: Duration
    let signer: DKIMDomainSigner
    let logger: Logger

    /// A domain's record names at most this many destinations that get its report: a record listing
    /// thousands must not turn the relay into a sender of thousands of messages.
    static let maximumDestinations = 5

    /// How often ended periods are looked for: a fifth of the period, between a second and a minute.
    var checkInterval: Duration { .seconds(min(60, max(1, self.period.components.seconds / 5))) }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await self.reportEnded()
            let interval = self.checkInterval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func reportEnded(now: Date = Date()) async {
        let current = TLSSessionRecorder.periodStart(of: now, period: self.period)
        let due: [TLSReportKey]
        do {
            due = try await self.store.tlsReportsDue(periodsStartedBefore: current)
        } catch {
            self.logger.warning("cannot read the TLS reports due", metadata: ["error": "\(error)"])
            return
        }
        for key in due {
            let record: TLSRPTRecord?
            switch await self.resolver.txt("_smtp._tls.\(key.policyDomain)") {
            case .records(let texts): record = TLSRPTRecord.select(texts)
            case .noData, .nameDoesNotExist: record = nil
            case .temporaryFailure: continue  // the counts wait for the next look
            }
            do {
                let tallies = try await self.store.takeTLSSessionTallies(key)
                guard let record, !tallies.isEmpty else { continue }
                let report = TLSReport(
                    submitter: self.hostname, key: key,
                    periodEnd: key.periodStart.addingTimeInterval(TimeInterval(self.period.components.seconds)), tallies: tallies)
                for destination in record.destinations.prefix(Self.maximumDestinations) {
                    await self.send(report, to: destination, now: now)
                }
            } catch {
                self.logger.warning("cannot take the TLS session counts", metadata: ["domain": "\(key.policyDomain)", "error": "\(error)"])
            }
        }
    }

    private func send(_ report: TLSReport, to destination: TLSRPTRecord.Destination, now: Date) async {
        let domain = report.key.policyDomain
        do {
            switch destination {
            case .mail(let address):
                let recipient = try EmailAddress(parsing: address)
                let content = try await self.signer.signedReport(try report.mail(to: address, date: now), hostname: self.hostname, logger: self.logger)
                // From the null reverse-path: a report that cannot be delivered is not reported back (RFC 5321 §6.1).
                _ = try await self.store.acceptMessage(content, envelope: Envelope(sender: nil, recipients: [.init(address: recipient)]))
                self.logger.notice("TLS report queued", metadata: ["domain": "\(domain)", "to": "\(address)"])
            case .https(let url):
                guard let host = URL(string: url)?.host else { return }
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/tlsrpt+gzip")
                request.body = .bytes(ByteBuffer(bytes: try report.gzipped()))
                let status = try await self.https.perform(request, host: host, timeout: .seconds(60)) { $0.status }
                guard (200..<300).contains(status.code) else {
                    self.logger.warning("TLS report refused", metadata: ["domain": "\(domain)", "url": "\(url)", "status": "\(status.code)"])
                    return
                }
                self.logger.notice("TLS report posted", metadata: ["domain": "\(domain)", "url": "\(url)"])
            }
        } catch {
            self.logger.warning("cannot send a TLS report", metadata: ["domain": "\(domain)", "destination": "\(destination)", "error": "\(error)"])
        }
    }
}
