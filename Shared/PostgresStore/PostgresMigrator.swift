import Logging
import PostgresNIO

/// The PostgreSQL schema, as versioned migrations like the SQLite one's: never edited once landed, each
/// in its own transaction. All of them run holding a session advisory lock, so that processes starting
/// together on several hosts migrate once; PostgreSQL releases the lock itself if the connection drops.
enum PostgresMigrator {
    /// `pg_advisory_lock`'s key for migrations: any fixed number the store uses for nothing else.
    static let lockKey: Int64 = 0x4573_7461_6665_7461  // "Estafeta"

    /// Text that names things (domains, addresses, mailboxes, flags) is `COLLATE "C"`: compared and
    /// sorted byte by byte, with `lower()` folding ASCII letters only, so that names match and list in
    /// the same order as in the SQLite file (its NOCASE collation folds ASCII only too) whatever the
    /// database's own locale is.
    static let migrations: [(identifier: String, statements: [String])] = [
        (
            "2026-12-03 the store's tables",
            [
                """
                CREATE TABLE counter (
                    name text COLLATE "C" PRIMARY KEY,
                    value bigint NOT NULL
                )
                """,
                """
                CREATE TABLE domain (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name text COLLATE "C" NOT NULL,
                    created_at timestamptz NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX domain_name ON domain (lower(name))",
                """
                CREATE TABLE account (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    domain_id bigint NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                    address text COLLATE "C" NOT NULL,
                    local_part text COLLATE "C" NOT NULL,
                    display_name text,
                    password_hash text NOT NULL,
                    quota_bytes bigint CHECK (quota_bytes IS NULL OR quota_bytes >= 0),
                    used_bytes bigint NOT NULL DEFAULT 0,
                    message_count bigint NOT NULL DEFAULT 0,
                    enabled boolean NOT NULL DEFAULT true,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX account_address ON account (lower(address))",
                "CREATE INDEX account_domain ON account (domain_id)",
                // source is local@domain, or @domain for the domain's catch-all.
                """
                CREATE TABLE alias (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    domain_id bigint NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                    source text COLLATE "C" NOT NULL,
                    created_at timestamptz NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX alias_source ON alias (lower(source))",
                "CREATE INDEX alias_domain ON alias (domain_id)",
                """
                CREATE TABLE alias_target (
                    alias_id bigint NOT NULL REFERENCES alias(id) ON DELETE CASCADE,
                    target text COLLATE "C" NOT NULL,
                    UNIQUE (alias_id, target)
                )
                """,
                """
                CREATE TABLE mailbox (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    account_id bigint NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    name text COLLATE "C" NOT NULL,
                    special_use text,
                    subscribed boolean NOT NULL DEFAULT true,
                    uid_validity bigint NOT NULL CHECK (uid_validity > 0),
                    uid_next bigint NOT NULL DEFAULT 1 CHECK (uid_next > 0),
                    highest_mod_seq bigint NOT NULL DEFAULT 1,
                    recent_floor bigint NOT NULL DEFAULT 1,
                    change_floor bigint NOT NULL DEFAULT 0,
                    message_count bigint NOT NULL DEFAULT 0,
                    unseen_count bigint NOT NULL DEFAULT 0,
                    deleted_count bigint NOT NULL DEFAULT 0,
                    size_bytes bigint NOT NULL DEFAULT 0,
                    created_at timestamptz NOT NULL,
                    UNIQUE (account_id, name)
                )
                """,
                // Content is stored once however many recipients and mailboxes share it, laid out as in
                // the SQLite file: 'inline' in `content`, 'chunks' in `message_chunk`, or 'upload' while
                // it is still arriving.
                """
                CREATE TABLE message_blob (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    layout text NOT NULL DEFAULT 'inline' CHECK (layout IN ('inline', 'chunks', 'upload')),
                    content bytea NOT NULL,
                    size bigint NOT NULL,
                    created_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX message_blob_upload ON message_blob (created_at) WHERE layout = 'upload'",
                // Stored uncompressed out of line: a slice of a large content (a reader's next piece) is
                // then read without decompressing all of it, as PostgreSQL's manual says of EXTERNAL.
                "ALTER TABLE message_blob ALTER COLUMN content SET STORAGE EXTERNAL",
                """
                CREATE TABLE message_header (
                    message_blob_id bigint PRIMARY KEY REFERENCES message_blob(id) ON DELETE CASCADE,
                    header bytea NOT NULL
                )
                """,
                """
                CREATE TABLE message_chunk (
                    message_blob_id bigint NOT NULL REFERENCES message_blob(id) ON DELETE CASCADE,
                    seq integer NOT NULL,
                    data bytea NOT NULL,
                    PRIMARY KEY (message_blob_id, seq)
                )
                """,
                "ALTER TABLE message_chunk ALTER COLUMN data SET STORAGE EXTERNAL",
                // header_prefix holds lines added at delivery (Return-Path, Delivered-To), so the shared
                // content is never copied.
                """
                CREATE TABLE mailbox_message (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    mailbox_id bigint NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
                    uid bigint NOT NULL CHECK (uid > 0),
                    message_blob_id bigint NOT NULL REFERENCES message_blob(id),
                    header_prefix bytea NOT NULL DEFAULT '',
                    size bigint NOT NULL,
                    internal_date timestamptz NOT NULL,
                    flags text COLLATE "C" NOT NULL DEFAULT '',
                    mod_seq bigint NOT NULL,
                    UNIQUE (mailbox_id, uid)
                )
                """,
                "CREATE INDEX mailbox_message_mod_seq ON mailbox_message (mailbox_id, mod_seq)",
                "CREATE INDEX mailbox_message_blob ON mailbox_message (message_blob_id)",
                // The account's usage and the mailbox's STATUS counts follow every change of its messages
                // inside the same transaction, kept by the database so that no code path can forget them.
                """
                CREATE FUNCTION mailbox_message_counts() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        UPDATE mailbox SET message_count = message_count - 1, size_bytes = size_bytes - OLD.size,
                            unseen_count = unseen_count - (position(' \\Seen ' IN ' ' || OLD.flags || ' ') = 0)::int,
                            deleted_count = deleted_count - (position(' \\Deleted ' IN ' ' || OLD.flags || ' ') > 0)::int
                        WHERE id = OLD.mailbox_id;
                        UPDATE account SET used_bytes = used_bytes - OLD.size, message_count = message_count - 1
                        WHERE id = (SELECT account_id FROM mailbox WHERE id = OLD.mailbox_id);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        UPDATE mailbox SET message_count = message_count + 1, size_bytes = size_bytes + NEW.size,
                            unseen_count = unseen_count + (position(' \\Seen ' IN ' ' || NEW.flags || ' ') = 0)::int,
                            deleted_count = deleted_count + (position(' \\Deleted ' IN ' ' || NEW.flags || ' ') > 0)::int
                        WHERE id = NEW.mailbox_id;
                        UPDATE account SET used_bytes = used_bytes + NEW.size, message_count = message_count + 1
                        WHERE id = (SELECT account_id FROM mailbox WHERE id = NEW.mailbox_id);
                    END IF;
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER mailbox_message_counts
                AFTER INSERT OR DELETE OR UPDATE OF flags, mailbox_id, size ON mailbox_message
                FOR EACH ROW EXECUTE FUNCTION mailbox_message_counts()
                """,
                // What IMAP IDLE and NOTIFY of other processes read. No foreign key on purpose: the
                // record of an expunge must not cascade away with its mailbox. `xid` is the writing
                // transaction's: ids are handed out before commit, so concurrent transactions commit
                // them out of order and a reader going by id would skip one; every transaction not
                // finished when a reader looked has an id at or above that look's snapshot xmin, so a
                // reader that goes on from there misses nothing (`PostgresMailboxes.mailboxesChanged`).
                """
                CREATE TABLE mailbox_change (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    mailbox_id bigint NOT NULL,
                    mod_seq bigint NOT NULL,
                    uid bigint NOT NULL,
                    kind text NOT NULL CHECK (kind IN ('append', 'flags', 'expunge')),
                    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
                    created_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX mailbox_change_mailbox ON mailbox_change (mailbox_id, mod_seq)",
                "CREATE INDEX mailbox_change_xid ON mailbox_change (xid)",
                // The store's signals (`StoreSignal`): a transaction that adds to the change feed or the
                // queue notifies the listeners on every host when it commits (several notifications of one
                // transaction are delivered as one).
                """
                CREATE FUNCTION notify_store_signal() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify(TG_ARGV[0], '');
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER mailbox_change_signal AFTER INSERT ON mailbox_change
                FOR EACH STATEMENT EXECUTE FUNCTION notify_store_signal('estafeta_mailboxes')
                """,
                """
                CREATE TABLE queue_message (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    message_blob_id bigint NOT NULL REFERENCES message_blob(id),
                    sender text,
                    envelope_id text,
                    return_content text,
                    authenticated_as text,
                    received_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX queue_message_blob ON queue_message (message_blob_id)",
                """
                CREATE TABLE queue_recipient (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    queue_message_id bigint NOT NULL REFERENCES queue_message(id) ON DELETE CASCADE,
                    recipient text NOT NULL,
                    original_recipient text,
                    notify text,
                    domain text COLLATE "C" NOT NULL,
                    expansion_depth integer NOT NULL DEFAULT 0,
                    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'deferred', 'delivered', 'bounced')),
                    attempts integer NOT NULL DEFAULT 0,
                    next_attempt_at timestamptz NOT NULL,
                    last_error text,
                    lease_owner text,
                    lease_expires_at timestamptz,
                    reported_at timestamptz,
                    delay_reported_at timestamptz,
                    updated_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX queue_recipient_due ON queue_recipient (state, next_attempt_at)",
                "CREATE INDEX queue_recipient_message ON queue_recipient (queue_message_id)",
                "CREATE INDEX queue_recipient_unreported ON queue_recipient (state, reported_at)",
                // New recipients (accepted, expanded, a report queued) and recipients made due again.
                """
                CREATE TRIGGER queue_recipient_signal AFTER INSERT OR UPDATE OF next_attempt_at ON queue_recipient
                FOR EACH STATEMENT EXECUTE FUNCTION notify_store_signal('estafeta_queue')
                """,
                """
                CREATE TABLE admin_token (
                    id text COLLATE "C" PRIMARY KEY,
                    secret_hash bytea NOT NULL,
                    scope text NOT NULL CHECK (scope IN ('read', 'write')),
                    description text NOT NULL DEFAULT '',
                    created_at timestamptz NOT NULL,
                    revoked_at timestamptz
                )
                """,
                """
                CREATE TABLE audit_log (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    token_id text NOT NULL,
                    action text NOT NULL,
                    target text NOT NULL,
                    detail text,
                    created_at timestamptz NOT NULL
                )
                """,
                // RFC 1939 §8: one POP3 session per maildrop, as a lease that expires.
                """
                CREATE TABLE maildrop_lock (
                    account_id bigint PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
                    owner text NOT NULL,
                    expires_at timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE login_failure (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    key text COLLATE "C" NOT NULL,
                    failed_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX login_failure_key ON login_failure (key, failed_at)",
                "CREATE INDEX login_failure_age ON login_failure (failed_at)",
            ]
        ),
        (
            "2026-12-04 local delivery in one call, leaner counting",
            [
                // A local delivery, exactly once, as one call (`PostgresQueue.deliverLocally`): the lease
                // checked under the recipient's row lock, the mailbox and then its account locked (the
                // order the counting trigger takes them in, so no deadlock with an APPEND), the quota
                // checked on the usage as committed, the message filed under the next UID and modseq with
                // its change-feed entry, and the recipient marked delivered. Sent as a statement of its
                // own it is a transaction of its own: one round trip where the same steps as separate
                // statements took five. A refusal changes nothing and says why in `outcome`.
                """
                CREATE FUNCTION deliver_leased_recipient(
                    recipient_id bigint, lease_holder text, delivered_at timestamptz, target_mailbox bigint, header_prefix bytea,
                    reported_at timestamptz, uid_limit bigint)
                RETURNS TABLE (outcome text, uid bigint, mod_seq bigint, size bigint, address text)
                LANGUAGE plpgsql AS $$
                DECLARE
                    content_blob bigint; filed_size bigint; target_account bigint; next_uid bigint; quota bigint; used bigint;
                    account_address text; new_uid bigint; new_mod_seq bigint;
                BEGIN
                    SELECT m.message_blob_id, b.size + length(header_prefix) INTO content_blob, filed_size
                    FROM queue_recipient r JOIN queue_message m ON m.id = r.queue_message_id
                        JOIN message_blob b ON b.id = m.message_blob_id
                    WHERE r.id = recipient_id AND r.lease_owner = lease_holder AND r.lease_expires_at > delivered_at
                      AND r.state IN ('queued', 'deferred')
                    FOR UPDATE OF r;
                    IF NOT FOUND THEN
                        RETURN QUERY SELECT 'lease lost', NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
                        RETURN;
                    END IF;
                    SELECT mb.account_id, mb.uid_next INTO target_account, next_uid FROM mailbox mb WHERE mb.id = target_mailbox FOR UPDATE;
                    IF NOT FOUND THEN
                        RETURN QUERY SELECT 'no mailbox', NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
                        RETURN;
                    END IF;
                    IF next_uid >= uid_limit THEN
                        RETURN QUERY SELECT 'no uid', NULL::bigint, NULL::bigint, NULL::bigint, NULL::text;
                        RETURN;
                    END IF;
                    SELECT a.address, a.quota_bytes, a.used_bytes INTO account_address, quota, used
                    FROM account a WHERE a.id = target_account FOR UPDATE;
                    IF quota IS NOT NULL AND used + filed_size > quota THEN
                        RETURN QUERY SELECT 'over quota', NULL::bigint, NULL::bigint, NULL::bigint, account_address;
                        RETURN;
                    END IF;
                    UPDATE mailbox mb SET uid_next = mb.uid_next + 1, highest_mod_seq = mb.highest_mod_seq + 1
                    WHERE mb.id = target_mailbox RETURNING mb.uid_next - 1, mb.highest_mod_seq INTO new_uid, new_mod_seq;
                    INSERT INTO mailbox_message (mailbox_id, uid, message_blob_id, header_prefix, size, internal_date, flags, mod_seq)
                    VALUES (target_mailbox, new_uid, content_blob, header_prefix, filed_size, delivered_at, '', new_mod_seq);
                    INSERT INTO mailbox_change (mailbox_id, mod_seq, uid, kind, created_at)
                    VALUES (target_mailbox, new_mod_seq, new_uid, 'append', now());
                    UPDATE queue_recipient r SET state = 'delivered', attempts = r.attempts + 1, lease_owner = NULL,
                        lease_expires_at = NULL, updated_at = delivered_at, reported_at = deliver_leased_recipient.reported_at
                    WHERE r.id = recipient_id;
                    RETURN QUERY SELECT 'delivered', new_uid, new_mod_seq, filed_size, account_address;
                END
                $$
                """,
                // The counting trigger with fewer statements (each one a whole executor run inside the
                // writing statement): a message's mailbox and account in one statement, and a flag change
                // in place (IMAP STORE, the most frequent change) one mailbox update instead of four.
                """
                CREATE OR REPLACE FUNCTION mailbox_message_counts() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'UPDATE' AND OLD.mailbox_id = NEW.mailbox_id THEN
                        IF OLD.flags = NEW.flags AND OLD.size = NEW.size THEN
                            RETURN NULL;
                        END IF;
                        WITH changed AS (
                            UPDATE mailbox SET size_bytes = size_bytes - OLD.size + NEW.size,
                                unseen_count = unseen_count + (position(' \\Seen ' IN ' ' || OLD.flags || ' ') > 0)::int
                                    - (position(' \\Seen ' IN ' ' || NEW.flags || ' ') > 0)::int,
                                deleted_count = deleted_count - (position(' \\Deleted ' IN ' ' || OLD.flags || ' ') > 0)::int
                                    + (position(' \\Deleted ' IN ' ' || NEW.flags || ' ') > 0)::int
                            WHERE id = NEW.mailbox_id RETURNING account_id
                        )
                        UPDATE account SET used_bytes = used_bytes - OLD.size + NEW.size
                        WHERE OLD.size <> NEW.size AND id = (SELECT account_id FROM changed);
                        RETURN NULL;
                    END IF;
                    IF TG_OP <> 'INSERT' THEN
                        WITH changed AS (
                            UPDATE mailbox SET message_count = message_count - 1, size_bytes = size_bytes - OLD.size,
                                unseen_count = unseen_count - (position(' \\Seen ' IN ' ' || OLD.flags || ' ') = 0)::int,
                                deleted_count = deleted_count - (position(' \\Deleted ' IN ' ' || OLD.flags || ' ') > 0)::int
                            WHERE id = OLD.mailbox_id RETURNING account_id
                        )
                        UPDATE account SET used_bytes = used_bytes - OLD.size, message_count = message_count - 1
                        WHERE id = (SELECT account_id FROM changed);
                    END IF;
                    IF TG_OP <> 'DELETE' THEN
                        WITH changed AS (
                            UPDATE mailbox SET message_count = message_count + 1, size_bytes = size_bytes + NEW.size,
                                unseen_count = unseen_count + (position(' \\Seen ' IN ' ' || NEW.flags || ' ') = 0)::int,
                                deleted_count = deleted_count + (position(' \\Deleted ' IN ' ' || NEW.flags || ' ') > 0)::int
                            WHERE id = NEW.mailbox_id RETURNING account_id
                        )
                        UPDATE account SET used_bytes = used_bytes + NEW.size, message_count = message_count + 1
                        WHERE id = (SELECT account_id FROM changed);
                    END IF;
                    RETURN NULL;
                END
                $$
                """,
            ]
        ),
        (
            "2026-12-05 subscriptions apart from mailboxes",
            [
                // A subscription is to a name, not to a mailbox (RFC 9051 §6.3.7): it outlives the
                // mailbox's deletion (LIST (SUBSCRIBED) then shows it \NonExistent) and comes back with a
                // mailbox created under the name again; a rename takes it along.
                """
                CREATE TABLE mailbox_subscription (
                    account_id bigint NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    name text NOT NULL,
                    PRIMARY KEY (account_id, name)
                )
                """,
                "INSERT INTO mailbox_subscription (account_id, name) SELECT account_id, name FROM mailbox WHERE subscribed",
                "ALTER TABLE mailbox DROP COLUMN subscribed",
            ]
        ),
        (
            "2026-12-06 when each message was filed",
            [
                // IMAP SAVEDATE (RFC 8514): the time of the transaction that files each message from now
                // on; messages filed earlier have none and are read with their internal date.
                "ALTER TABLE mailbox_message ADD COLUMN saved_at timestamptz",
                "ALTER TABLE mailbox_message ALTER COLUMN saved_at SET DEFAULT now()",
            ]
        ),
        (
            "2026-12-07 metadata",
            [
                // IMAP METADATA (RFC 5464): entries of the account's server scope, and of each mailbox
                // (they follow its id through RENAME and go with it).
                """
                CREATE TABLE server_metadata (
                    account_id bigint NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    name text NOT NULL,
                    value bytea NOT NULL,
                    PRIMARY KEY (account_id, name)
                )
                """,
                """
                CREATE TABLE mailbox_metadata (
                    mailbox_id bigint NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
                    name text NOT NULL,
                    value bytea NOT NULL,
                    PRIMARY KEY (mailbox_id, name)
                )
                """,
            ]
        ),
        (
            "2026-12-08 mailbox list changes in the feed",
            [
                // IMAP NOTIFY (RFC 5465 §5.4, §5.5) tells sessions on other hosts that a mailbox was
                // created, deleted or renamed, or a subscription changed: such an entry is of kind
                // 'mailboxes', names the account and no mailbox (mailbox_id 0, which no mailbox has).
                "ALTER TABLE mailbox_change ADD COLUMN account_id bigint",
                "ALTER TABLE mailbox_change DROP CONSTRAINT mailbox_change_kind_check",
                "ALTER TABLE mailbox_change ADD CONSTRAINT mailbox_change_kind_check CHECK (kind IN ('append', 'flags', 'expunge', 'mailboxes'))",
            ]
        ),
        (
            "2026-12-09 sort keys",
            [
                // IMAP SORT's keys of each content (`MessageSortKeys`), worked out at its first SORT and
                // kept: a later SORT of a large mailbox reads them instead of every header.
                "ALTER TABLE message_header ADD COLUMN sort_keys text"
            ]
        ),
        (
            "2026-12-10 dkim keys",
            [
                // Each local domain's DKIM keys (RFC 6376): the private half never leaves the store except
                // to the services that sign.
                """
                CREATE TABLE dkim_key (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    domain_id bigint NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                    selector text COLLATE "C" NOT NULL,
                    algorithm text NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
                    private_key bytea NOT NULL,
                    public_key bytea NOT NULL,
                    state text NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
                    created_at timestamptz NOT NULL,
                    activated_at timestamptz,
                    retired_at timestamptz
                )
                """,
                "CREATE UNIQUE INDEX dkim_key_selector ON dkim_key (domain_id, lower(selector))",
            ]
        ),
        (
            "2026-12-11 quarantined messages",
            [
                // A message whose author domain's DMARC policy asks for quarantine (RFC 7489 §6.3): local
                // recipients find it in their Junk mailbox.
                "ALTER TABLE queue_message ADD COLUMN quarantined boolean NOT NULL DEFAULT false"
            ]
        ),
        (
            "2026-12-12 mta-sts policies and tls session tallies",
            [
                // Destination domains' MTA-STS policies (RFC 8461 §5.1), kept until they expire; and for SMTP
                // TLS Reporting (RFC 8460) the relay's TLS sessions to domains with a policy, counted per
                // report period until the period's report goes out.
                """
                CREATE TABLE mta_sts_policy (
                    domain text PRIMARY KEY,
                    policy_id text NOT NULL,
                    policy text NOT NULL,
                    expires_at timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE tls_session_tally (
                    period_start timestamptz NOT NULL,
                    policy_domain text NOT NULL,
                    policy_type text NOT NULL,
                    policy text NOT NULL,
                    mx_host text NOT NULL,
                    result_type text NOT NULL,
                    receiving_ip text NOT NULL,
                    sessions bigint NOT NULL,
                    PRIMARY KEY (period_start, policy_domain, policy_type, mx_host, result_type, receiving_ip)
                )
                """
            ]
        ),
        (
            "2026-12-13 domain transport policies",
            [
                // What each local domain asks of its senders: the MTA-STS policy the admin service serves
                // (RFC 8461 §3.2) and the addresses its TLS reports go to (RFC 8460 §3). Lists are
                // space-separated.
                """
                CREATE TABLE domain_transport_policy (
                    domain_id bigint PRIMARY KEY REFERENCES domain(id) ON DELETE CASCADE,
                    mta_sts_mode text NOT NULL CHECK (mta_sts_mode IN ('none', 'testing', 'enforce')),
                    mta_sts_max_age bigint NOT NULL,
                    mta_sts_mx text NOT NULL,
                    tls_report_addresses text NOT NULL,
                    updated_at timestamptz NOT NULL
                )
                """
            ]
        ),
        (
            "2026-12-14 mail transfers",
            [
                // Imports and exports as their processes report them (MailStore+Transfers.swift). The account
                // is its address, not a reference: the record outlives an account removed since.
                """
                CREATE TABLE mail_transfer (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    kind text NOT NULL,
                    account text,
                    source text NOT NULL,
                    host text NOT NULL,
                    state text NOT NULL CHECK (state IN ('running', 'finished', 'failed')),
                    folders bigint NOT NULL,
                    messages bigint NOT NULL,
                    bytes bigint NOT NULL,
                    already_there bigint NOT NULL,
                    problems bigint NOT NULL,
                    detail text,
                    started_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                )
                """
            ]
        ),
        (
            "2026-12-15 service processes",
            [
                // Each service's processes as they report themselves (MailStore+ServiceProcesses.swift).
                """
                CREATE TABLE service_process (
                    service text NOT NULL,
                    host text NOT NULL,
                    pid bigint NOT NULL,
                    started_at timestamptz NOT NULL,
                    seen_at timestamptz NOT NULL,
                    stopped_at timestamptz,
                    PRIMARY KEY (service, host, pid)
                )
                """
            ]
        ),
    ]

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withConnection { connection in
            _ = try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                try await Self.applyMissing(connection, logger: logger)
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
            _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
        }
    }

    private static func applyMissing(_ connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migration (
                identifier text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var applied: Set<String> = []
        for try await (identifier,) in try await connection.query("SELECT identifier FROM schema_migration", logger: logger)
            .decode((String,).self)
        {
            applied.insert(identifier)
        }
        for migration in Self.migrations where !applied.contains(migration.identifier) {
            logger.notice("migrating the PostgreSQL store", metadata: ["migration": "\(migration.identifier)"])
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                _ = try await connection.query(
                    "INSERT INTO schema_migration (identifier) VALUES (\(migration.identifier))", logger: logger)
            }
        }
    }
}
