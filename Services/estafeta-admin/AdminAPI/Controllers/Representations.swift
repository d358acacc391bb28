import Foundation
import MailFormat
import MailStore

// The JSON shapes of the API (see openapi.json). Field names are part of the public contract.

struct DomainRepresentation: Encodable, Sendable {
    let name: String
    let accountCount: Int
    let createdAt: Date

    init(_ domain: Domain) {
        self.name = domain.name
        self.accountCount = domain.accountCount
        self.createdAt = domain.createdAt
    }
}

struct AccountRepresentation: Encodable, Sendable {
    struct Usage: Encodable, Sendable {
        let messages: Int64
        let bytes: Int64
        /// nil: no quota.
        let quotaBytes: Int64?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.messages, forKey: .messages)
            try container.encode(self.bytes, forKey: .bytes)
            try container.encode(self.quotaBytes, forKey: .quotaBytes)
        }
        enum CodingKeys: String, CodingKey { case messages, bytes, quotaBytes }
    }
    let address: String
    let displayName: String?
    let enabled: Bool
    let quotaBytes: Int64?
    let usage: Usage
    let createdAt: Date

    init(_ account: Account) {
        self.address = account.address.description
        self.displayName = account.displayName
        self.enabled = account.enabled
        self.quotaBytes = account.quotaBytes
        self.usage = Usage(messages: account.messageCount, bytes: account.usedBytes, quotaBytes: account.quotaBytes)
        self.createdAt = account.createdAt
    }

    // Encode nil quota and display name as JSON null rather than leaving the key out.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.address, forKey: .address)
        try container.encode(self.displayName, forKey: .displayName)
        try container.encode(self.enabled, forKey: .enabled)
        try container.encode(self.quotaBytes, forKey: .quotaBytes)
        try container.encode(self.usage, forKey: .usage)
        try container.encode(self.createdAt, forKey: .createdAt)
    }
    enum CodingKeys: String, CodingKey { case address, displayName, enabled, quotaBytes, usage, createdAt }
}

struct AliasRepresentation: Encodable, Sendable {
    let address: String
    let targets: [String]
    let catchAll: Bool

    init(_ alias: Alias) {
        self.address = alias.source
        self.targets = alias.targets
        self.catchAll = alias.isCatchAll
    }
}

struct MailboxRepresentation: Encodable, Sendable {
    let name: String
    let specialUse: String?
    let subscribed: Bool
    let messages: Int
    let unseen: Int
    let sizeBytes: Int64
    let uidValidity: UInt32
    let uidNext: UInt32

    init(_ status: MailboxStatus) {
        self.name = status.mailbox.name
        self.specialUse = status.mailbox.specialUse?.rawValue
        self.subscribed = status.mailbox.subscribed
        self.messages = status.messages
        self.unseen = status.unseen
        self.sizeBytes = status.sizeBytes
        self.uidValidity = status.mailbox.uidValidity
        self.uidNext = status.mailbox.uidNext
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.specialUse, forKey: .specialUse)
        try container.encode(self.subscribed, forKey: .subscribed)
        try container.encode(self.messages, forKey: .messages)
        try container.encode(self.unseen, forKey: .unseen)
        try container.encode(self.sizeBytes, forKey: .sizeBytes)
        try container.encode(self.uidValidity, forKey: .uidValidity)
        try container.encode(self.uidNext, forKey: .uidNext)
    }
    enum CodingKeys: String, CodingKey { case name, specialUse, subscribed, messages, unseen, sizeBytes, uidValidity, uidNext }
}

struct QueueMessageRepresentation: Encodable, Sendable {
    struct Recipient: Encodable, Sendable {
        let address: String
        let state: String
        let attempts: Int
        let nextAttemptAt: Date
        let lastReply: String?
        let leasedBy: String?
        let leaseExpiresAt: Date?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.address, forKey: .address)
            try container.encode(self.state, forKey: .state)
            try container.encode(self.attempts, forKey: .attempts)
            try container.encode(self.nextAttemptAt, forKey: .nextAttemptAt)
            try container.encode(self.lastReply, forKey: .lastReply)
            try container.encode(self.leasedBy, forKey: .leasedBy)
            try container.encode(self.leaseExpiresAt, forKey: .leaseExpiresAt)
        }
        enum CodingKeys: String, CodingKey { case address, state, attempts, nextAttemptAt, lastReply, leasedBy, leaseExpiresAt }
    }
    let id: Int64
    let sender: String
    let envelopeId: String?
    let ret: String?
    let authenticatedAs: String?
    let receivedAt: Date
    let size: Int64
    let recipients: [Recipient]

    init(_ detail: QueueMessageDetail) {
        self.id = detail.id.rawValue
        self.sender = detail.sender ?? ""
        self.envelopeId = detail.envelopeID
        self.ret = detail.returnContent
        self.authenticatedAs = detail.authenticatedAs
        self.receivedAt = detail.receivedAt
        self.size = detail.size
        self.recipients = detail.recipients.map {
            Recipient(
                address: $0.recipient, state: $0.state.rawValue, attempts: $0.attempts, nextAttemptAt: $0.nextAttemptAt,
                lastReply: $0.lastError, leasedBy: $0.leaseOwner, leaseExpiresAt: $0.leaseExpiresAt)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.sender, forKey: .sender)
        try container.encode(self.envelopeId, forKey: .envelopeId)
        try container.encode(self.ret, forKey: .ret)
        try container.encode(self.authenticatedAs, forKey: .authenticatedAs)
        try container.encode(self.receivedAt, forKey: .receivedAt)
        try container.encode(self.size, forKey: .size)
        try container.encode(self.recipients, forKey: .recipients)
    }
    enum CodingKeys: String, CodingKey { case id, sender, envelopeId, ret, authenticatedAs, receivedAt, size, recipients }
}

struct QueueStatsRepresentation: Encodable, Sendable {
    struct DomainDeferrals: Encodable, Sendable {
        let domain: String
        let deferred: Int
    }
    let counts: [String: Int]
    let oldestPendingAgeSeconds: Int?
    let deferralsByDomain: [DomainDeferrals]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.counts, forKey: .counts)
        try container.encode(self.oldestPendingAgeSeconds, forKey: .oldestPendingAgeSeconds)
        try container.encode(self.deferralsByDomain, forKey: .deferralsByDomain)
    }
    enum CodingKeys: String, CodingKey { case counts, oldestPendingAgeSeconds, deferralsByDomain }
}

struct QueueActivityRepresentation: Encodable, Sendable {
    struct Hour: Encodable, Sendable {
        let start: Date
        let delivered: Int
        let bounced: Int
    }
    let hours: [Hour]

    init(_ hours: [QueueActivityHour]) {
        self.hours = hours.map { Hour(start: $0.start, delivered: $0.delivered, bounced: $0.bounced) }
    }
}

struct ServiceProcessRepresentation: Encodable, Sendable {
    let service: String
    let host: String
    let pid: Int
    let state: String
    let startedAt: Date
    let seenAt: Date
    let stoppedAt: Date?

    init(_ process: ServiceProcess, now: Date) {
        self.service = process.service
        self.host = process.host
        self.pid = process.pid
        self.state = process.state(at: now).rawValue
        self.startedAt = process.startedAt
        self.seenAt = process.seenAt
        self.stoppedAt = process.stoppedAt
    }

    /// `stoppedAt` is always present: null while the process runs.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.service, forKey: .service)
        try container.encode(self.host, forKey: .host)
        try container.encode(self.pid, forKey: .pid)
        try container.encode(self.state, forKey: .state)
        try container.encode(self.startedAt, forKey: .startedAt)
        try container.encode(self.seenAt, forKey: .seenAt)
        try container.encode(self.stoppedAt, forKey: .stoppedAt)
    }
    enum CodingKeys: String, CodingKey { case service, host, pid, state, startedAt, seenAt, stoppedAt }
}

/// The token a request presents: what a client shows and whether it may write.
struct TokenRepresentation: Encodable, Sendable {
    let id: String
    let scope: String
    let description: String
    let createdAt: Date

    init(_ token: StoredAdminToken) {
        self.id = token.id
        self.scope = token.scope.rawValue
        self.description = token.description
        self.createdAt = token.createdAt
    }
}

struct AuditRepresentation: Encodable, Sendable {
    let id: Int64
    let token: String
    let action: String
    let target: String
    let detail: String?
    let at: Date

    init(_ entry: AuditEntry) {
        self.id = entry.id
        self.token = entry.tokenID
        self.action = entry.action
        self.target = entry.target
        self.detail = entry.detail
        self.at = entry.createdAt
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.token, forKey: .token)
        try container.encode(self.action, forKey: .action)
        try container.encode(self.target, forKey: .target)
        try container.encode(self.detail, forKey: .detail)
        try container.encode(self.at, forKey: .at)
    }
    enum CodingKeys: String, CodingKey { case id, token, action, target, detail, at }
}

struct CountRepresentation: Encodable, Sendable {
    let affectedRecipients: Int
}
