import CompressNIO
import Foundation
import MailFormat
import MailStore
import NIOCore

/// An aggregate TLS report (RFC 8460 §4) for one destination domain and period, made from the relay's
/// session counts: the JSON document, gzipped, and the mail that carries it (§5.3).
struct TLSReport {
    let submitter: String
    let key: TLSReportKey
    let periodEnd: Date
    let tallies: [TLSSessionTally]

    var reportID: String {
        "\(Int(self.key.periodStart.timeIntervalSince1970))-\(self.key.policyDomain)@\(self.submitter)"
    }

    /// RFC 3339 in UTC (`2026-12-04T00:00:00Z`), as §4.4's date-range asks.
    private static func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }

    /// §4.4: one entry per policy (type and text), with its successful and failed session totals and
    /// the failures by result type, MX host and address.
    var json: Data {
        var policies: [[String: Any]] = []
        let grouped = Dictionary(grouping: self.tallies) { [$0.policyType, $0.policy] }
        for groupKey in grouped.keys.sorted(by: { $0.joined(separator: "\n") < $1.joined(separator: "\n") }) {
            let group = grouped[groupKey] ?? []
            let lines = groupKey[1].split(separator: "\n").map(String.init)
            var policy: [String: Any] = [
                "policy-type": groupKey[0], "policy-string": lines, "policy-domain": self.key.policyDomain,
            ]
            if groupKey[0] == "sts" {
                policy["mx-host"] = lines.filter { $0.hasPrefix("mx: ") }.map { String($0.dropFirst(4)) }
            }
            let failures = group.filter { !$0.resultType.isEmpty }
            policies.append([
                "policy": policy,
                "summary": [
                    "total-successful-session-count": group.filter { $0.resultType.isEmpty }.reduce(0) { $0 + $1.sessions },
                    "total-failure-session-count": failures.reduce(0) { $0 + $1.sessions },
                ],
                "failure-details": failures.map {
                    [
                        "result-type": $0.resultType, "receiving-mx-hostname": $0.mxHost, "receiving-ip": $0.receivingIP,
                        "failed-session-count": $0.sessions,
                    ] as [String: Any]
                },
            ])
        }
        let document: [String: Any] = [
            "organization-name": self.submitter,
            "date-range": ["start-datetime": Self.timestamp(self.key.periodStart), "end-datetime": Self.timestamp(self.periodEnd)],
            "contact-info": "postmaster@\(self.submitter)",
            "report-id": self.reportID,
            "policies": policies,
        ]
        // Built from strings and integers only: serialisation cannot fail.
        return (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    /// The JSON document gzipped (`application/tlsrpt+gzip`, §5.3 and §5.4).
    func gzipped() throws -> Data {
        var input = ByteBuffer(bytes: self.json)
        let compressor = CompressionAlgorithm.gzip().compressor
        try compressor.startStream()
        defer { try? compressor.finishStream() }
        var output = ByteBuffer()
        output.reserveCapacity(compressor.maxSize(from: input))
        try compressor.streamDeflate(from: &input, to: &output, flush: .finish)
        return Data(output.readableBytesView)
    }

    /// §5.3: a multipart/report of type tlsrpt with the gzipped report attached, named
    /// `submitter!policy-domain!begin!end.json.gz`, and the TLS-Report-Domain and -Submitter fields.
    func mail(to recipient: String, date: Date) throws -> Data {
        let begin = Int(self.key.periodStart.timeIntervalSince1970)
        let end = Int(self.periodEnd.timeIntervalSince1970)
        let boundary = "=_estafeta_tlsrpt_\(begin)_\(UInt32.random(in: 0...UInt32.max))"
        let attachment = try self.gzipped().base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        let domain = self.key.policyDomain
        let lines = [
            "From: TLS reporting <MAILER-DAEMON@\(self.submitter)>",
            "To: <\(recipient)>",
            "Subject: Report Domain: \(domain) Submitter: \(self.submitter) Report-ID: <\(self.reportID)>",
            "Date: \(MessageDate.format(date))",
            "Message-ID: <tlsrpt.\(begin).\(UInt32.random(in: 0...UInt32.max))@\(self.submitter)>",
            "TLS-Report-Domain: \(domain)",
            "TLS-Report-Submitter: \(self.submitter)",
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=\"tlsrpt\";",
            "\tboundary=\"\(boundary)\"",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=us-ascii",
            "",
            "This is an aggregate TLS report (RFC 8460) from \(self.submitter) for \(domain),",
            "covering \(Self.timestamp(self.key.periodStart)) to \(Self.timestamp(self.periodEnd)).",
            "",
            "--\(boundary)",
            "Content-Type: application/tlsrpt+gzip",
            "Content-Transfer-Encoding: base64",
            "Content-Disposition: attachment;",
            "\tfilename=\"\(self.submitter)!\(domain)!\(begin)!\(end).json.gz\"",
            "",
            attachment,
            "--\(boundary)--",
            "",
        ]
        return Data(lines.joined(separator: "\r\n").utf8)
    }
}
