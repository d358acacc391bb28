import Foundation
import Hummingbird
import MailMigration
import MailStore

/// `GET /api/v1/transfers[/{id}]`: imports and exports as the processes that run them report them
/// (`estafeta import …` on any host, exports over this API), with their counts and rates.
extension AdminRoutes {
    @Sendable func listTransfers(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let page = try PageRequest(request)
        let transfers = try await self.store.transfers(after: try page.afterID(), limit: page.limit + 1)
        let now = Date()
        return try JSONResponse.make(
            Page(transfers, limit: page.limit, key: { String($0.id) }, map: { TransferRepresentation($0, now: now) }))
    }

    @Sendable func getTransfer(_ request: Request, context: AdminRequestContext) async throws -> Response {
        guard let id = Int64(try request.pathParameter("id", context: context)), id > 0 else {
            throw ProblemDetails.invalidParameter("id", "a transfer id is a positive number")
        }
        guard let transfer = try await self.store.transfer(id) else {
            throw ProblemDetails(.notFound, "unknown-transfer", "No such transfer", detail: String(id))
        }
        return try JSONResponse.make(TransferRepresentation(transfer, now: Date()))
    }
}

struct TransferRepresentation: Encodable, Sendable {
    let transfer: MailTransfer
    let state: String
    let seconds: Double

    /// A run still `running` that has not reported for three heartbeats belongs to a process that ended
    /// without saying so (killed, or its host lost): shown as `interrupted`. Run again, an import goes on
    /// where it stopped.
    init(_ transfer: MailTransfer, now: Date) {
        self.transfer = transfer
        let silent = now.timeIntervalSince(transfer.updatedAt)
        let limit = 3 * Double(TransferRecorder.heartbeat.components.seconds)
        self.state = transfer.state == .running && silent > limit ? "interrupted" : transfer.state.rawValue
        let end = transfer.state == .running && self.state == "running" ? now : transfer.updatedAt
        self.seconds = max(0, end.timeIntervalSince(transfer.startedAt))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let transfer = self.transfer
        try container.encode(transfer.id, forKey: .id)
        try container.encode(transfer.kind, forKey: .kind)
        try container.encode(transfer.account, forKey: .account)
        try container.encode(transfer.source, forKey: .source)
        try container.encode(transfer.host, forKey: .host)
        try container.encode(self.state, forKey: .state)
        try container.encode(transfer.counts.folders, forKey: .folders)
        try container.encode(transfer.counts.messages, forKey: .messages)
        try container.encode(transfer.counts.bytes, forKey: .bytes)
        try container.encode(transfer.counts.alreadyThere, forKey: .alreadyThere)
        try container.encode(transfer.counts.problems, forKey: .problems)
        try container.encode(transfer.detail, forKey: .detail)
        try container.encode(transfer.startedAt, forKey: .startedAt)
        try container.encode(transfer.updatedAt, forKey: .updatedAt)
        // Rates over the whole run so far; 0 before the first second.
        let seconds = self.seconds
        try container.encode(seconds >= 1 ? (Double(transfer.counts.messages) / seconds).rounded() : 0, forKey: .messagesPerSecond)
        try container.encode(seconds >= 1 ? (Double(transfer.counts.bytes) / seconds).rounded() : 0, forKey: .bytesPerSecond)
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, account, source, host, state, folders, messages, bytes, alreadyThere, problems, detail, startedAt,
            updatedAt, messagesPerSecond, bytesPerSecond
    }
}
