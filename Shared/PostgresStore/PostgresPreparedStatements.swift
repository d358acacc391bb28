import Foundation
import Logging
import MailFormat
import MailStore
import PostgresNIO

/// A statement that PostgreSQL parses and plans once per connection and afterwards only executes.
/// Every accepted and delivered message goes through the statements below: parsing and planning them
/// anew each time was the larger part of the database's work per message. Each is one statement (where
/// it changes several tables, data-modifying `WITH` parts), so it is also one round trip.
protocol PreparedStoreStatement: PostgresPreparedStatement where Row == PostgresRow {
    var bindings: PostgresBindings { get }
}

/// Each statement names itself (`static let name`): the protocol's default name is worked out from the
/// type at every execution.
extension PreparedStoreStatement {
    func makeBindings() -> PostgresBindings { self.bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

extension PostgresConnection {
    /// Every row of a prepared statement's answer.
    func rows<Statement: PreparedStoreStatement>(_ statement: Statement, _ logger: Logger) async throws -> [PostgresRow] {
        let rows: AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow> = try await self.execute(statement, logger: logger)
        var collected: [PostgresRow] = []
        for try await row in rows { collected.append(row) }
        return collected
    }
}

/// Queues a message with its recipients and, unless it is already stored (a sealed upload: $1), stores
/// its content and header section with it. Recipients' optional columns go as text plus whether they
/// are there: the arrays cannot carry NULLs.
struct QueueAcceptanceStatement: PreparedStoreStatement {
    static let name = "estafeta_queue_acceptance"
    static let sql = """
        WITH new_blob AS (
            INSERT INTO message_blob (layout, content, size, created_at)
            SELECT 'inline', $2::bytea, $3::bigint, $4::timestamptz WHERE $1::bigint IS NULL
            RETURNING id
        ), new_header AS (
            INSERT INTO message_header (message_blob_id, header) SELECT id, $5::bytea FROM new_blob
        ), blob AS (
            SELECT id FROM new_blob UNION ALL SELECT $1::bigint WHERE $1::bigint IS NOT NULL
        ), message AS (
            INSERT INTO queue_message (message_blob_id, sender, envelope_id, return_content, authenticated_as, received_at, quarantined)
            SELECT id, $6::text, $7::text, $8::text, $9::text, $4::timestamptz, $16::boolean FROM blob
            RETURNING id
        ), recipients AS (
            INSERT INTO queue_recipient (queue_message_id, recipient, domain, original_recipient, notify, state,
                                         next_attempt_at, updated_at)
            SELECT message.id, r.recipient, r.domain, CASE WHEN r.has_original THEN r.original END,
                CASE WHEN r.has_notify THEN r.notify END, 'queued', $4::timestamptz, $4::timestamptz
            FROM message, unnest($10::text[], $11::text[], $12::text[], $13::boolean[], $14::text[], $15::boolean[])
                WITH ORDINALITY AS r(recipient, domain, original, has_original, notify, has_notify, position)
            ORDER BY r.position
        )
        SELECT id FROM message
        """
    let bindings: PostgresBindings

    init(storedID: Int64?, content: Data?, header: Data?, envelope: Envelope, receivedAt: Date) throws {
        var bindings = PostgresBindings(capacity: 15)
        bindings.append(storedID)
        try bindings.append(content)
        bindings.append(Int64(content?.count ?? 0))
        bindings.append(receivedAt)
        try bindings.append(header)
        bindings.append(envelope.sender?.description)
        bindings.append(envelope.envelopeID)
        bindings.append(envelope.returnContent)
        bindings.append(envelope.authenticatedAs)
        let recipients = envelope.recipients
        bindings.append(recipients.map(\.address.description))
        bindings.append(recipients.map { $0.address.domain.lowercased() })
        bindings.append(recipients.map { $0.originalRecipient ?? "" })
        bindings.append(recipients.map { $0.originalRecipient != nil })
        bindings.append(recipients.map { $0.notify ?? "" })
        bindings.append(recipients.map { $0.notify != nil })
        bindings.append(envelope.quarantined)
        self.bindings = bindings
    }
}

/// Queues several messages arriving together, each with its content, header section and recipients, in
/// one statement (so one round trip and one commit). Ids are drawn from the tables' sequences first, so
/// that each row is tied to its message by position; recipients name their message by that position
/// ($13). Optional columns go as text plus whether they are there, as above.
struct QueueAcceptanceBatchStatement: PreparedStoreStatement {
    static let name = "estafeta_queue_acceptance_batch"
    static let sql = """
        WITH input AS MATERIALIZED (
            SELECT i.*, nextval(pg_get_serial_sequence('message_blob', 'id')) AS blob_id,
                nextval(pg_get_serial_sequence('queue_message', 'id')) AS message_id
            FROM unnest($1::bytea[], $2::bigint[], $3::bytea[], $4::timestamptz[], $5::text[], $6::boolean[], $7::text[],
                        $8::boolean[], $9::text[], $10::boolean[], $11::text[], $12::boolean[], $20::boolean[])
                WITH ORDINALITY AS i(content, size, header, received_at, sender, has_sender, envelope_id, has_envelope_id,
                                     return_content, has_return_content, authenticated_as, has_authenticated_as, quarantined,
                                     position)
        ), blobs AS (
            INSERT INTO message_blob (id, layout, content, size, created_at) OVERRIDING SYSTEM VALUE
            SELECT blob_id, 'inline', content, size, received_at FROM input
        ), headers AS (
            INSERT INTO message_header (message_blob_id, header) SELECT blob_id, header FROM input
        ), messages AS (
            INSERT INTO queue_message (id, message_blob_id, sender, envelope_id, return_content, authenticated_as, received_at,
                                       quarantined)
            OVERRIDING SYSTEM VALUE
            SELECT message_id, blob_id, CASE WHEN has_sender THEN sender END, CASE WHEN has_envelope_id THEN envelope_id END,
                CASE WHEN has_return_content THEN return_content END,
                CASE WHEN has_authenticated_as THEN authenticated_as END, received_at, quarantined
            FROM input
        ), recipients AS (
            INSERT INTO queue_recipient (queue_message_id, recipient, domain, original_recipient, notify, state,
                                         next_attempt_at, updated_at)
            SELECT input.message_id, r.recipient, r.domain, CASE WHEN r.has_original THEN r.original END,
                CASE WHEN r.has_notify THEN r.notify END, 'queued', input.received_at, input.received_at
            FROM unnest($13::bigint[], $14::text[], $15::text[], $16::text[], $17::boolean[], $18::text[], $19::boolean[])
                WITH ORDINALITY AS r(message, recipient, domain, original, has_original, notify, has_notify, position)
            JOIN input ON input.position = r.message
            ORDER BY r.position
        )
        SELECT position, message_id FROM input ORDER BY position
        """
    let bindings: PostgresBindings

    /// One message: its content, header section, envelope and arrival.
    struct Message {
        var content: Data
        var header: Data
        var envelope: Envelope
        var receivedAt: Date
    }

    init(_ messages: [Message]) {
        var bindings = PostgresBindings(capacity: 19)
        bindings.append(messages.map { ByteBuffer(bytes: $0.content) })
        bindings.append(messages.map { Int64($0.content.count) })
        bindings.append(messages.map { ByteBuffer(bytes: $0.header) })
        bindings.append(messages.map(\.receivedAt))
        Self.appendOptional(messages.map { $0.envelope.sender?.description }, to: &bindings)
        Self.appendOptional(messages.map(\.envelope.envelopeID), to: &bindings)
        Self.appendOptional(messages.map(\.envelope.returnContent), to: &bindings)
        Self.appendOptional(messages.map(\.envelope.authenticatedAs), to: &bindings)
        let recipients = messages.enumerated().flatMap { index, message in message.envelope.recipients.map { (Int64(index + 1), $0) } }
        bindings.append(recipients.map(\.0))
        bindings.append(recipients.map(\.1.address.description))
        bindings.append(recipients.map { $0.1.address.domain.lowercased() })
        Self.appendOptional(recipients.map(\.1.originalRecipient), to: &bindings)
        Self.appendOptional(recipients.map(\.1.notify), to: &bindings)
        bindings.append(messages.map(\.envelope.quarantined))
        self.bindings = bindings
    }

    /// Optional text as two arrays, the text (empty when absent) and whether it is there.
    private static func appendOptional(_ values: [String?], to bindings: inout PostgresBindings) {
        bindings.append(values.map { $0 ?? "" })
        bindings.append(values.map { $0 != nil })
    }
}

/// Leases up to $2 due recipients to $3 until $4, passing over rows another worker is claiming. $5 is
/// the scope: `all`, `local` (recipients in a local domain) or `remote`.
struct DueLeaseStatement: PreparedStoreStatement {
    static let name = "estafeta_due_lease"
    static let sql = """
        WITH due AS (
            SELECT r.id FROM queue_recipient r
            WHERE r.state IN ('queued', 'deferred') AND r.next_attempt_at <= $1::timestamptz
              AND (r.lease_expires_at IS NULL OR r.lease_expires_at <= $1::timestamptz)
              AND ($5::text = 'all' OR (r.domain IN (SELECT lower(name) FROM domain)) = ($5::text = 'local'))
            ORDER BY r.next_attempt_at, r.id
            LIMIT $2::bigint
            FOR UPDATE OF r SKIP LOCKED
        )
        UPDATE queue_recipient r SET lease_owner = $3::text, lease_expires_at = $4::timestamptz, updated_at = $1::timestamptz
        FROM due, queue_message m
        WHERE r.id = due.id AND m.id = r.queue_message_id
        RETURNING r.id, r.queue_message_id, r.recipient, r.attempts, r.original_recipient, r.notify, r.expansion_depth,
            m.sender, m.received_at, m.envelope_id, m.return_content, r.next_attempt_at
        """
    let bindings: PostgresBindings

    init(now: Date, limit: Int64, owner: String, expiresAt: Date, scope: String) {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(now)
        bindings.append(limit)
        bindings.append(owner)
        bindings.append(expiresAt)
        bindings.append(scope)
        self.bindings = bindings
    }
}

/// A queued message's header section and size.
struct QueuedHeaderStatement: PreparedStoreStatement {
    static let name = "estafeta_queued_header"
    static let sql = """
        SELECT h.header, b.size FROM queue_message m JOIN message_blob b ON b.id = m.message_blob_id
        JOIN message_header h ON h.message_blob_id = b.id WHERE m.id = $1::bigint
        """
    let bindings: PostgresBindings

    init(message: Int64) {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(message)
        self.bindings = bindings
    }
}

/// What an address is here, kind first: 0 its domain is local, 1 an alias target, 2 the account, 3 a
/// catch-all target ($1 the domain, $2 the address, $3 `@domain`).
struct RecipientResolutionStatement: PreparedStoreStatement {
    static let name = "estafeta_recipient_resolution"
    static let sql = "\(Self.rows) ORDER BY 1, 2"
    /// The resolution's rows, unordered: `PostgresDirectory.resolution(from:)` reads them.
    static let rows = """
        SELECT 0, NULL::text, NULL::bigint, NULL::boolean, NULL::bigint, NULL::bigint FROM domain
        WHERE lower(name) = lower($1::text COLLATE "C")
        UNION ALL
        SELECT 1, t.target, NULL, NULL, NULL, NULL FROM alias a JOIN alias_target t ON t.alias_id = a.id
        WHERE lower(a.source) = lower($2::text COLLATE "C")
        UNION ALL
        SELECT 2, NULL, id, enabled, quota_bytes, used_bytes FROM account
        WHERE lower(address) = lower($2::text COLLATE "C")
        UNION ALL
        SELECT 3, t.target, NULL, NULL, NULL, NULL FROM alias a JOIN alias_target t ON t.alias_id = a.id
        WHERE lower(a.source) = lower($3::text COLLATE "C")
        """
    let bindings: PostgresBindings

    init(address: EmailAddress) {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(address.domain)
        bindings.append(address.description)
        bindings.append("@" + address.domain)
        self.bindings = bindings
    }
}

/// A local delivery's plan (`LocalDeliveryPlan`) in one read: the recipient's resolution ($1–$3 as
/// above, kinds 0–3), the account's INBOX (kind 4, its id in the third column) and the queued message
/// $4's size and header section (kind 5, in the third and seventh columns).
struct LocalDeliveryPlanStatement: PreparedStoreStatement {
    static let name = "estafeta_local_delivery_plan"
    static let sql = """
        SELECT r.*, NULL::bytea FROM (\(RecipientResolutionStatement.rows)) r
        UNION ALL
        SELECT * FROM (
            -- INBOX, or a quarantined message's Junk mailbox when the account has one.
            SELECT 4, NULL, mb.id, NULL::boolean, NULL::bigint, NULL::bigint, NULL::bytea
            FROM account a JOIN mailbox mb ON mb.account_id = a.id JOIN queue_message q ON q.id = $4::bigint
            WHERE lower(a.address) = lower($2::text COLLATE "C")
                AND (mb.name = 'INBOX' OR (q.quarantined AND mb.special_use = '\\Junk'))
            ORDER BY mb.name = 'INBOX', mb.id LIMIT 1
        ) destination
        UNION ALL
        SELECT 5, NULL, b.size, NULL, NULL, NULL, h.header FROM queue_message m JOIN message_blob b ON b.id = m.message_blob_id
            JOIN message_header h ON h.message_blob_id = b.id
        WHERE m.id = $4::bigint
        ORDER BY 1, 2
        """
    let bindings: PostgresBindings

    init(recipient: EmailAddress, message: Int64) {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(recipient.domain)
        bindings.append(recipient.description)
        bindings.append("@" + recipient.domain)
        bindings.append(message)
        self.bindings = bindings
    }
}

/// An account's mailbox by its stored name (`PostgresMailboxes.mailboxColumns`).
struct MailboxByNameStatement: PreparedStoreStatement {
    static let name = "estafeta_mailbox_by_name"
    static let sql = "SELECT \(PostgresMailboxes.mailboxColumns) FROM mailbox WHERE account_id = $1::bigint AND name = $2::text"
    let bindings: PostgresBindings

    init(account: Int64, name: String) {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(account)
        bindings.append(name)
        self.bindings = bindings
    }
}

/// A local delivery (the schema's `deliver_leased_recipient`): the lease checked, the message filed, the
/// quota checked and the recipient marked delivered, in one call.
struct LocalDeliveryStatement: PreparedStoreStatement {
    static let name = "estafeta_local_delivery"
    static let sql = """
        SELECT d.outcome, d.uid, d.mod_seq, d.size, d.address, m.message_blob_id, now()
        FROM deliver_leased_recipient($1::bigint, $2::text, $3::timestamptz, $4::bigint, $5::bytea, $6::timestamptz, $7::bigint) d
        LEFT JOIN queue_recipient r ON r.id = $1::bigint LEFT JOIN queue_message m ON m.id = r.queue_message_id
        """
    let bindings: PostgresBindings

    init(recipient: Int64, owner: String, now: Date, mailbox: Int64, headerPrefix: Data, reportedAt: Date?) throws {
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(recipient)
        bindings.append(owner)
        bindings.append(now)
        bindings.append(mailbox)
        try bindings.append(headerPrefix)
        bindings.append(reportedAt)
        bindings.append(Int64(UInt32.max))
        self.bindings = bindings
    }
}

/// Files a stored content in mailbox $1 under its next UID and modseq (the `UPDATE … RETURNING` locks
/// the mailbox row until commit, so two hosts cannot take the same UID) and records the append in the
/// change feed. No row: the mailbox is gone or has no UID left.
struct MessageFilingStatement: PreparedStoreStatement {
    static let name = "estafeta_message_filing"
    static let sql = """
        WITH next AS (
            UPDATE mailbox SET uid_next = uid_next + 1, highest_mod_seq = highest_mod_seq + 1
            WHERE id = $1::bigint AND uid_next < $2::bigint
            RETURNING uid_next - 1 AS uid, highest_mod_seq AS mod_seq
        ), filed AS (
            INSERT INTO mailbox_message (mailbox_id, uid, message_blob_id, header_prefix, size, internal_date, flags, mod_seq)
            SELECT $1::bigint, uid, $3::bigint, $4::bytea, $5::bigint, $6::timestamptz, $7::text, mod_seq FROM next
        ), change AS (
            INSERT INTO mailbox_change (mailbox_id, mod_seq, uid, kind, created_at)
            SELECT $1::bigint, mod_seq, uid, 'append', now() FROM next
        )
        SELECT uid, mod_seq, now() FROM next
        """
    let bindings: PostgresBindings

    init(mailbox: Int64, blob: Int64, headerPrefix: Data, size: Int64, internalDate: Date, flags: String) throws {
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(mailbox)
        bindings.append(Int64(UInt32.max))
        bindings.append(blob)
        try bindings.append(headerPrefix)
        bindings.append(size)
        bindings.append(internalDate)
        bindings.append(flags)
        self.bindings = bindings
    }
}

/// A delivery attempt's outcome for a recipient, if $7's lease on it still holds: under READ COMMITTED
/// an UPDATE that waited for the row evaluates its condition again on the row as committed.
struct OutcomeStatement: PreparedStoreStatement {
    static let name = "estafeta_outcome"
    static let sql = """
        UPDATE queue_recipient SET state = $1::text, attempts = attempts + 1, next_attempt_at = $2::timestamptz,
            last_error = coalesce($3::text, last_error), lease_owner = NULL, lease_expires_at = NULL, updated_at = $4::timestamptz,
            reported_at = coalesce($5::timestamptz, reported_at)
        WHERE id = $6::bigint AND lease_owner = $7::text AND lease_expires_at > $4::timestamptz
          AND state IN ('queued', 'deferred')
        RETURNING id
        """
    let bindings: PostgresBindings

    init(state: String, nextAttempt: Date, error: String?, now: Date, reportedAt: Date?, recipient: Int64, owner: String) throws {
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(state)
        bindings.append(nextAttempt)
        bindings.append(error)
        bindings.append(now)
        bindings.append(reportedAt)
        bindings.append(recipient)
        bindings.append(owner)
        self.bindings = bindings
    }
}

/// A mailbox's messages in a UID range with their added header lines, their stored header sections
/// (`PostgresMailboxes.messageColumns` first), the content ids and `'inline'`: what header FETCH and
/// SEARCH read.
struct HeaderListingStatement: PreparedStoreStatement {
    static let name = "estafeta_header_listing"
    static let sql = """
        SELECT \(PostgresMailboxes.messageColumns("m.")), m.header_prefix, h.header, m.message_blob_id, 'inline'
        FROM mailbox_message m JOIN message_header h ON h.message_blob_id = m.message_blob_id
        WHERE m.mailbox_id = $1::bigint AND m.uid BETWEEN $2::bigint AND $3::bigint
        ORDER BY m.uid
        """
    let bindings: PostgresBindings

    init(mailbox: Int64, uids: ClosedRange<UInt32>) {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(mailbox)
        bindings.append(Int64(uids.lowerBound))
        bindings.append(Int64(uids.upperBound))
        self.bindings = bindings
    }
}

/// As `HeaderListingStatement`, with the whole stored content when it is at most $4 bytes (NULL
/// otherwise) and its layout: what body FETCH, POP3 RETR and body SEARCH read.
struct ContentListingStatement: PreparedStoreStatement {
    static let name = "estafeta_content_listing"
    static let sql = """
        SELECT \(PostgresMailboxes.messageColumns("m.")), m.header_prefix, CASE WHEN b.size <= $4::bigint THEN b.content END,
            b.id, b.layout
        FROM mailbox_message m JOIN message_blob b ON b.id = m.message_blob_id
        WHERE m.mailbox_id = $1::bigint AND m.uid BETWEEN $2::bigint AND $3::bigint
        ORDER BY m.uid
        """
    let bindings: PostgresBindings

    init(mailbox: Int64, uids: ClosedRange<UInt32>, largest: Int64) {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(mailbox)
        bindings.append(Int64(uids.lowerBound))
        bindings.append(Int64(uids.upperBound))
        bindings.append(largest)
        self.bindings = bindings
    }
}

/// A mailbox's change feed above modseq $2, at most $3 entries, and first a row of kind `pruned` when
/// entries above $2 may have been pruned: one statement, so one snapshot. Every IMAP command that
/// reports other sessions' changes reads it.
struct MailboxChangesStatement: PreparedStoreStatement {
    static let name = "estafeta_mailbox_changes"
    static let sql = """
        SELECT change_floor, 0::bigint, 'pruned' FROM mailbox WHERE id = $1::bigint AND change_floor > $2::bigint
        UNION ALL
        (SELECT mod_seq, uid, kind FROM mailbox_change WHERE mailbox_id = $1::bigint AND mod_seq > $2::bigint
         ORDER BY mod_seq, id LIMIT $3::bigint)
        """
    let bindings: PostgresBindings

    init(mailbox: Int64, since: Int64, limit: Int64) {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(mailbox)
        bindings.append(since)
        bindings.append(limit)
        self.bindings = bindings
    }
}

/// Stores a whole content with its header section apart (what header-only reads take); its id.
struct ContentInsertStatement: PreparedStoreStatement {
    static let name = "estafeta_content_insert"
    static let sql = """
        WITH blob AS (
            INSERT INTO message_blob (layout, content, size, created_at)
            VALUES ('inline', $1::bytea, $2::bigint, $3::timestamptz)
            RETURNING id
        ), header AS (
            INSERT INTO message_header (message_blob_id, header) SELECT id, $4::bytea FROM blob
        )
        SELECT id FROM blob
        """
    let bindings: PostgresBindings

    init(content: Data, header: Data, now: Date) throws {
        var bindings = PostgresBindings(capacity: 4)
        try bindings.append(content)
        bindings.append(Int64(content.count))
        bindings.append(now)
        try bindings.append(header)
        self.bindings = bindings
    }
}

/// Claims `\Recent` for the messages of mailbox $1 below UID $2: the floor as it was, raised to $2 if
/// it was lower, the row locked while it is read so that one session claims each message.
struct RecentClaimStatement: PreparedStoreStatement {
    static let name = "estafeta_recent_claim"
    static let sql = """
        WITH old AS (
            SELECT recent_floor FROM mailbox WHERE id = $1::bigint FOR UPDATE
        ), raised AS (
            UPDATE mailbox SET recent_floor = $2::bigint WHERE id = $1::bigint AND recent_floor < $2::bigint
        )
        SELECT recent_floor FROM old
        """
    let bindings: PostgresBindings

    init(mailbox: Int64, below uidLimit: Int64) {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(mailbox)
        bindings.append(uidLimit)
        self.bindings = bindings
    }
}
