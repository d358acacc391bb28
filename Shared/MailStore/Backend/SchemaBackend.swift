/// The backend's schema: what `/readyz` and `estafeta migrate` report.
public protocol SchemaBackend: Sendable {
    /// The migrations applied to the database, in order.
    func appliedMigrations() async throws(MailStoreError) -> [String]
    /// True when the database answers and every migration this build knows is applied.
    func isReady() async -> Bool
}
