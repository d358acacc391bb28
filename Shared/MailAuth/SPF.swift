import Foundation
import MailDNS

/// Sender Policy Framework (RFC 7208): may `address` send mail for the domain of `sender`?
///
/// `check_host()` of §4 with its limits (§4.6.4): at most 10 mechanisms and modifiers that query DNS
/// per evaluation (includes and redirects counted with their own), at most 2 of them answered with no
/// records, at most 10 MX or PTR names looked at each. `exp=` is ignored (explanations are for
/// rejection messages, which we write ourselves).
public struct SPFChecker: Sendable {
    public enum Result: String, Sendable {
        case none, neutral, pass, fail, softfail, temperror, permerror
    }

    public struct Outcome: Sendable, Equatable {
        public let result: Result
        /// The domain checked (`smtp.mailfrom` or `smtp.helo` in Authentication-Results).
        public let domain: String
        public let reason: String?
    }

    public static let maximumLookups = 10
    public static let maximumVoidLookups = 2

    let dns: any DNSLookup
    /// The whole evaluation's time (§4.6.4 asks for at least 20 s): ten `mx` mechanisms of ten hosts
    /// each whose look-ups time out would otherwise hold the message for many minutes.
    let timeLimit: Duration

    public init(dns: any DNSLookup, timeLimit: Duration = .seconds(20)) {
        self.dns = dns
        self.timeLimit = timeLimit
    }

    /// The MAIL FROM identity (§2.4); for the null sender, `postmaster@` the HELO name.
    public func check(address: IPAddress, sender: String?, helo: String) async -> Outcome {
        var localPart = "postmaster"
        var domain = helo.lowercased()
        if let sender, let at = sender.lastIndex(of: "@") {
            localPart = String(sender[..<at])
            domain = sender[sender.index(after: at)...].lowercased()
        }
        guard Self.isCheckable(domain) else { return Outcome(result: .none, domain: domain, reason: "not a domain name") }
        var state = Evaluation(
            address: address, sender: "\(localPart)@\(domain)", localPart: localPart, senderDomain: domain, helo: helo,
            deadline: .now + self.timeLimit)
        do throws(Stop) {
            let result = try await self.checkHost(domain, &state, depth: 0)
            return Outcome(result: result, domain: domain, reason: nil)
        } catch {
            return Outcome(result: error.result, domain: domain, reason: error.reason)
        }
    }

    /// A result that ends the evaluation at once (§4.6.4, §5: temporary errors and errors in records).
    struct Stop: Error {
        let result: Result
        let reason: String
        static func permanent(_ reason: String) -> Stop { Stop(result: .permerror, reason: reason) }
        static func temporary(_ reason: String) -> Stop { Stop(result: .temperror, reason: reason) }
    }

    struct Evaluation {
        let address: IPAddress
        let sender: String
        let localPart: String
        let senderDomain: String
        let helo: String
        let deadline: ContinuousClock.Instant
        var lookups = 0
        var voidLookups = 0

        /// Before each DNS question: past the time limit the result is `temperror`.
        func checkTime() throws(Stop) {
            if ContinuousClock.now > self.deadline { throw .temporary("SPF evaluation took too long") }
        }

        mutating func countLookup() throws(Stop) {
            try self.checkTime()
            self.lookups += 1
            if self.lookups > SPFChecker.maximumLookups { throw .permanent("more than \(SPFChecker.maximumLookups) DNS lookups") }
        }

        mutating func countVoid() throws(Stop) {
            self.voidLookups += 1
            if self.voidLookups > SPFChecker.maximumVoidLookups { throw .permanent("more than 2 void lookups") }
        }
    }

    private func checkHost(_ domain: String, _ state: inout Evaluation, depth: Int) async throws(Stop) -> Result {
        // The lookup limit ends any loop well before this; the depth is a second guard.
        guard depth <= Self.maximumLookups else { throw .permanent("include loop") }
        guard let record = try await self.record(domain) else { return .none }
        let terms = try SPFRecord(parsing: record)
        for directive in terms.directives {
            if try await self.matches(directive.mechanism, domain: domain, &state, depth: depth) {
                return directive.qualifier
            }
        }
        if let redirect = terms.redirect {
            try state.countLookup()
            let target = try self.expand(redirect, domain: domain, state)
            let result = try await self.checkHost(target, &state, depth: depth + 1)
            // §6.1: a redirect to a domain without a record is an error in the record.
            if result == .none { throw .permanent("redirect to \(target), which has no SPF record") }
            return result
        }
        return .neutral
    }

    /// The domain's one SPF record (§4.5); nil when it has none.
    private func record(_ domain: String) async throws(Stop) -> String? {
        switch await self.dns.txt(domain) {
        case .temporaryFailure(let reason): throw .temporary(reason)
        case .nameDoesNotExist, .noData: return nil
        case .records(let texts):
            let records = texts.filter { $0.lowercased() == "v=spf1" || $0.lowercased().hasPrefix("v=spf1 ") }
            guard records.count <= 1 else { throw .permanent("\(domain) has more than one SPF record") }
            return records.first
        }
    }

    private func matches(_ mechanism: SPFRecord.Mechanism, domain: String, _ state: inout Evaluation, depth: Int)
        async throws(Stop) -> Bool
    {
        switch mechanism {
        case .all:
            return true
        case .ip4(let network, let length):
            return state.address.isV4 && state.address.matches(network, prefixLength: length)
        case .ip6(let network, let length):
            return !state.address.isV4 && state.address.matches(network, prefixLength: length)
        case .include(let spec):
            try state.countLookup()
            let target = try self.expand(spec, domain: domain, state)
            switch try await self.checkHost(target, &state, depth: depth + 1) {
            case .pass: return true
            case .fail, .softfail, .neutral: return false
            case .temperror: throw .temporary("include:\(target)")
            case .permerror, .none: throw .permanent("include:\(target) has no usable SPF record")
            }
        case .a(let spec, let v4, let v6):
            try state.countLookup()
            let target = try spec.map { (s) throws(Stop) in try self.expand(s, domain: domain, state) } ?? domain
            return try await self.addressesMatch(target, v4: v4, v6: v6, &state, countingVoid: true)
        case .mx(let spec, let v4, let v6):
            try state.countLookup()
            let target = try spec.map { (s) throws(Stop) in try self.expand(s, domain: domain, state) } ?? domain
            let exchanges: [MXRecord]
            switch await self.dns.mx(target) {
            case .temporaryFailure(let reason): throw .temporary(reason)
            case .nameDoesNotExist, .noData:
                try state.countVoid()
                return false
            case .records(let records): exchanges = records
            }
            // §4.6.4: more than 10 MX names is an error.
            guard exchanges.count <= 10 else { throw .permanent("\(target) has more than 10 MX records") }
            for exchange in exchanges where !exchange.exchange.isEmpty {
                try state.checkTime()
                if try await self.addressesMatch(exchange.exchange, v4: v4, v6: v6, &state, countingVoid: false) { return true }
            }
            return false
        case .ptr(let spec):
            try state.countLookup()
            let target = try spec.map { (s) throws(Stop) in try self.expand(s, domain: domain, state) } ?? domain
            for name in await self.validatedNames(state) where name == target || name.hasSuffix("." + target) {
                return true
            }
            return false
        case .exists(let spec):
            try state.countLookup()
            let target = try self.expand(spec, domain: domain, state)
            switch await self.dns.ipv4(target) {
            case .temporaryFailure(let reason): throw .temporary(reason)
            case .nameDoesNotExist, .noData:
                try state.countVoid()
                return false
            case .records: return true
            }
        }
    }

    private func addressesMatch(_ name: String, v4: Int, v6: Int, _ state: inout Evaluation, countingVoid: Bool)
        async throws(Stop) -> Bool
    {
        let answer = state.address.isV4 ? await self.dns.ipv4(name) : await self.dns.ipv6(name)
        switch answer {
        case .temporaryFailure(let reason): throw .temporary(reason)
        case .nameDoesNotExist, .noData:
            if countingVoid { try state.countVoid() }
            return false
        case .records(let addresses):
            let length = state.address.isV4 ? v4 : v6
            return addresses.contains { state.address.matches($0, prefixLength: length) }
        }
    }

    /// The client's names whose addresses include it (§5.5), at most 10 looked at; failures count as
    /// no name (the `ptr` mechanism never errs, §4.6.4).
    private func validatedNames(_ state: Evaluation) async -> [String] {
        guard case .records(let names) = await self.dns.ptr(state.address.reverseName) else { return [] }
        var validated: [String] = []
        for name in names.prefix(10) where ContinuousClock.now <= state.deadline {
            let answer = state.address.isV4 ? await self.dns.ipv4(name) : await self.dns.ipv6(name)
            if case .records(let addresses) = answer, addresses.contains(state.address.octets) { validated.append(name.lowercased()) }
        }
        return validated
    }

    /// Macro expansion of a domain-spec (§7), then trimmed from the left to 253 octets (§7.3).
    func expand(_ spec: String, domain: String, _ state: Evaluation) throws(Stop) -> String {
        var output = ""
        var rest = Substring(spec)
        while let percent = rest.firstIndex(of: "%") {
            output += rest[..<percent]
            rest = rest[rest.index(after: percent)...]
            guard let next = rest.first else { throw .permanent("macro at the end of \(spec)") }
            rest = rest.dropFirst()
            switch next {
            case "%": output += "%"
            case "_": output += " "
            case "-": output += "%20"
            case "{":
                guard let close = rest.firstIndex(of: "}") else { throw .permanent("unclosed macro in \(spec)") }
                output += try self.macro(rest[..<close], domain: domain, state)
                rest = rest[rest.index(after: close)...]
            default: throw .permanent("bad macro in \(spec)")
            }
        }
        output += rest
        var labels = output.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        if labels.last == "" { labels.removeLast() }
        while labels.joined(separator: ".").utf8.count > 253, labels.count > 1 { labels.removeFirst() }
        let result = labels.joined(separator: ".")
        guard !result.isEmpty, !labels.contains(""), labels.allSatisfy({ $0.utf8.count <= 63 }) else {
            throw .permanent("\(spec) does not expand to a domain name")
        }
        return result
    }

    private func macro(_ body: Substring, domain: String, _ state: Evaluation) throws(Stop) -> String {
        guard let letter = body.first else { throw .permanent("empty macro") }
        let value: String
        switch letter.lowercased() {
        case "s": value = state.sender
        case "l": value = state.localPart
        case "o": value = state.senderDomain
        case "d": value = domain
        case "i": value = state.address.macroForm
        case "p": value = "unknown"  // §7.3 discourages it; "unknown" is what it gives without a validated name.
        case "v": value = state.address.isV4 ? "in-addr" : "ip6"
        case "h": value = state.helo
        default: throw .permanent("macro letter \(letter) not allowed here")
        }
        var transform = body.dropFirst()
        let digits = transform.prefix { $0.isASCIIDigit }
        transform = transform.dropFirst(digits.count)
        let reverse = transform.first == "r" || transform.first == "R"
        if reverse { transform = transform.dropFirst() }
        let delimiters = transform.isEmpty ? Set<Character>(["."]) : Set(transform)
        guard delimiters.allSatisfy({ ".-+,/_=".contains($0) }) else { throw .permanent("bad macro delimiter") }
        var parts = value.split(omittingEmptySubsequences: false) { delimiters.contains($0) }.map(String.init)
        if reverse { parts.reverse() }
        if !digits.isEmpty {
            guard let count = Int(digits), count > 0 else { throw .permanent("macro keeps no parts") }
            parts = Array(parts.suffix(count))
        }
        let joined = parts.joined(separator: ".")
        // An upper-case letter asks for URL escaping (§7.3).
        guard letter.isUppercase else { return joined }
        return joined.addingPercentEncoding(withAllowedCharacters: .init(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? joined
    }

    static func isCheckable(_ domain: String) -> Bool {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && domain.utf8.count <= 253 && labels.allSatisfy { !$0.isEmpty && $0.utf8.count <= 63 }
    }
}

/// An SPF record's terms (§4.6, §12 ABNF).
struct SPFRecord {
    enum Mechanism: Equatable {
        case all
        case include(String)
        case a(String?, v4: Int, v6: Int)
        case mx(String?, v4: Int, v6: Int)
        case ptr(String?)
        case ip4([UInt8], Int)
        case ip6([UInt8], Int)
        case exists(String)
    }
    struct Directive {
        let qualifier: SPFChecker.Result
        let mechanism: Mechanism
    }

    var directives: [Directive] = []
    var redirect: String?

    init(parsing record: String) throws(SPFChecker.Stop) {
        let terms = record.split(separator: " ").dropFirst()  // "v=spf1"
        guard terms.count <= 100 else { throw .permanent("record too long") }
        var sawExplanation = false
        for term in terms {
            let lowered = term.lowercased()
            // A modifier is name=value where the name starts with a letter and has no ':' or '/' first.
            if let equals = term.firstIndex(of: "="), !term[..<equals].contains(where: { $0 == ":" || $0 == "/" }),
                term.first?.isLetter == true
            {
                let name = term[..<equals].lowercased()
                let value = String(term[term.index(after: equals)...])
                switch name {
                case "redirect":
                    guard self.redirect == nil else { throw .permanent("redirect= twice") }
                    guard !value.isEmpty else { throw .permanent("empty redirect=") }
                    self.redirect = value
                case "exp":
                    guard !sawExplanation else { throw .permanent("exp= twice") }
                    sawExplanation = true
                default:
                    // Unknown modifiers are ignored (§6), if well formed.
                    guard name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                        throw .permanent("malformed modifier \(name)")
                    }
                }
                continue
            }
            var body = Substring(lowered)
            var qualifier = SPFChecker.Result.pass
            switch body.first {
            case "+": qualifier = .pass; body = body.dropFirst()
            case "-": qualifier = .fail; body = body.dropFirst()
            case "~": qualifier = .softfail; body = body.dropFirst()
            case "?": qualifier = .neutral; body = body.dropFirst()
            default: break
            }
            // Domain-specs keep their case for macros like %{L}; the term's name is compared lower-cased.
            let original = term.dropFirst(term.count - body.count)
            self.directives.append(Directive(qualifier: qualifier, mechanism: try Self.mechanism(body, original: original)))
        }
        // §6.1: a redirect is used only without an "all".
        if self.directives.contains(where: { $0.mechanism == .all }) { self.redirect = nil }
    }

    private static func mechanism(_ lowered: Substring, original: Substring) throws(SPFChecker.Stop) -> Mechanism {
        let nameEnd = lowered.firstIndex { $0 == ":" || $0 == "/" } ?? lowered.endIndex
        let name = lowered[..<nameEnd]
        let rest = original[original.index(original.startIndex, offsetBy: lowered.distance(from: lowered.startIndex, to: nameEnd))...]
        func argument() -> String? {
            guard rest.first == ":" else { return nil }
            return String(rest.dropFirst())
        }
        func required() throws(SPFChecker.Stop) -> String {
            guard let value = argument(), !value.isEmpty else { throw .permanent("\(name) needs a domain") }
            return value
        }
        /// `domain-spec`, then `/n` and `//n` prefix lengths.
        func domainAndLengths() throws(SPFChecker.Stop) -> (String?, Int, Int) {
            var text = Substring(rest)
            var v4 = 32
            var v6 = 128
            if let double = text.range(of: "//") {
                guard let length = Int(text[double.upperBound...]), (0...128).contains(length) else { throw .permanent("bad ip6 prefix length") }
                v6 = length
                text = text[..<double.lowerBound]
            }
            if let slash = text.lastIndex(of: "/") {
                guard let length = Int(text[text.index(after: slash)...]), (0...32).contains(length) else { throw .permanent("bad ip4 prefix length") }
                v4 = length
                text = text[..<slash]
            }
            if text.isEmpty { return (nil, v4, v6) }
            guard text.first == ":", text.count > 1 else { throw .permanent("malformed \(name)") }
            return (String(text.dropFirst()), v4, v6)
        }
        switch name {
        case "all":
            guard rest.isEmpty else { throw .permanent("all takes no argument") }
            return .all
        case "include": return .include(try required())
        case "exists": return .exists(try required())
        case "a":
            let (domain, v4, v6) = try domainAndLengths()
            return .a(domain, v4: v4, v6: v6)
        case "mx":
            let (domain, v4, v6) = try domainAndLengths()
            return .mx(domain, v4: v4, v6: v6)
        case "ptr":
            guard rest.isEmpty || rest.first == ":" else { throw .permanent("malformed ptr") }
            return .ptr(argument())
        case "ip4", "ip6":
            guard let value = argument() else { throw .permanent("\(name) needs an address") }
            let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let isV4 = name == "ip4"
            guard let address = IPAddress(String(parts[0])), address.isV4 == isV4 else { throw .permanent("bad address \(value)") }
            let maximum = isV4 ? 32 : 128
            var length = maximum
            if parts.count == 2 {
                guard let parsed = Int(parts[1]), (0...maximum).contains(parsed) else { throw .permanent("bad prefix length \(value)") }
                length = parsed
            }
            return isV4 ? .ip4(address.octets, length) : .ip6(address.octets, length)
        default:
            throw .permanent("unknown mechanism \(name)")
        }
    }
}

/// An IPv4 or IPv6 address as octets; an IPv4-mapped IPv6 address is taken as the IPv4 one.
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public let octets: [UInt8]

    public var isV4: Bool { self.octets.count == 4 }

    public init?(_ text: String) {
        var address4 = in_addr()
        var address6 = in6_addr()
        if inet_pton(AF_INET, text, &address4) == 1 {
            self.octets = withUnsafeBytes(of: &address4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &address6) == 1 {
            let bytes = withUnsafeBytes(of: &address6) { Array($0) }
            if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                self.octets = Array(bytes.suffix(4))
            } else {
                self.octets = bytes
            }
        } else {
            return nil
        }
    }

    public var description: String {
        if self.isV4 { return self.octets.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(self.octets[$0]) << 8 | UInt16(self.octets[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    func matches(_ network: [UInt8], prefixLength: Int) -> Bool {
        guard network.count == self.octets.count else { return false }
        var remaining = prefixLength
        for (mine, theirs) in zip(self.octets, network) {
            guard remaining > 0 else { return true }
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if mine & mask != theirs & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// `%{i}`: dotted quad, or dot-separated nibbles for IPv6 (§7.3).
    var macroForm: String {
        if self.isV4 { return self.description }
        return self.octets.flatMap { [String($0 >> 4, radix: 16), String($0 & 0x0F, radix: 16)] }.joined(separator: ".")
    }

    /// The name its PTR records are at.
    var reverseName: String {
        if self.isV4 { return self.octets.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa" }
        return self.macroForm.split(separator: ".").reversed().joined(separator: ".") + ".ip6.arpa"
    }
}
