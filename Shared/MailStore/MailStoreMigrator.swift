import GRDB

/// The schema, as versioned migrations. A migration is never edited once it has landed: later changes
/// are new migrations. Each runs in its own transaction, so a process killed mid-migration leaves the
/// previous version behind and the next start runs it again.
enum MailStoreMigrator {
    static func make() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("2026-11-26 domains, accounts, aliases, mailboxes, messages, queue, changes") {
            db in
            try db.execute(
                sql: """
                    CREATE TABLE counter (
                        name TEXT PRIMARY KEY NOT NULL,
                        value INTEGER NOT NULL
                    );

                    CREATE TABLE domain (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        createdAt DATETIME NOT NULL
                    );

                    CREATE TABLE account (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        domainId INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                        address TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        localPart TEXT NOT NULL,
                        displayName TEXT,
                        passwordHash TEXT NOT NULL,
                        quotaBytes INTEGER CHECK (quotaBytes IS NULL OR quotaBytes >= 0),
                        usedBytes INTEGER NOT NULL DEFAULT 0,
                        messageCount INTEGER NOT NULL DEFAULT 0,
                        enabled BOOLEAN NOT NULL DEFAULT 1,
                        createdAt DATETIME NOT NULL,
                        updatedAt DATETIME NOT NULL
                    );
                    CREATE INDEX account_domain ON account(domainId);

                    -- source is local@domain, or @domain for the domain's catch-all.
                    CREATE TABLE alias (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        domainId INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                        source TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        createdAt DATETIME NOT NULL
                    );
                    CREATE INDEX alias_domain ON alias(domainId);
                    CREATE TABLE aliasTarget (
                        aliasId INTEGER NOT NULL REFERENCES alias(id) ON DELETE CASCADE,
                        target TEXT NOT NULL,
                        UNIQUE (aliasId, target)
                    );

                    CREATE TABLE mailbox (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        accountId INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        specialUse TEXT,
                        subscribed BOOLEAN NOT NULL DEFAULT 1,
                        uidValidity INTEGER NOT NULL CHECK (uidValidity > 0),
                        uidNext INTEGER NOT NULL DEFAULT 1 CHECK (uidNext > 0),
                        highestModSeq INTEGER NOT NULL DEFAULT 1,
                        createdAt DATETIME NOT NULL,
                        UNIQUE (accountId, name)
                    );

                    -- Message content, stored once however many recipients and mailboxes share it.
                    CREATE TABLE messageBlob (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        content BLOB NOT NULL,
                        size INTEGER NOT NULL,
                        createdAt DATETIME NOT NULL
                    );

                    -- One message in one mailbox. headerPrefix holds lines added at delivery
                    -- (Return-Path, Delivered-To) so that the shared blob never has to be copied.
                    CREATE TABLE mailboxMessage (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        mailboxId INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
                        uid INTEGER NOT NULL CHECK (uid > 0),
                        messageBlobId INTEGER NOT NULL REFERENCES messageBlob(id),
                        headerPrefix BLOB NOT NULL DEFAULT x'',
                        size INTEGER NOT NULL,
                        internalDate DATETIME NOT NULL,
                        flags TEXT NOT NULL DEFAULT '',
                        modSeq INTEGER NOT NULL,
                        UNIQUE (mailboxId, uid)
                    );
                    CREATE INDEX mailboxMessage_modSeq ON mailboxMessage(mailboxId, modSeq);
                    CREATE INDEX mailboxMessage_blob ON mailboxMessage(messageBlobId);

                    -- Quota accounting kept by SQLite itself, so no code path can forget it.
                    CREATE TRIGGER mailboxMessage_usage_insert AFTER INSERT ON mailboxMessage BEGIN
                        UPDATE account SET usedBytes = usedBytes + NEW.size, messageCount = messageCount + 1
                        WHERE id = (SELECT accountId FROM mailbox WHERE id = NEW.mailboxId);
                    END;
                    CREATE TRIGGER mailboxMessage_usage_delete AFTER DELETE ON mailboxMessage BEGIN
                        UPDATE account SET usedBytes = usedBytes - OLD.size, messageCount = messageCount - 1
                        WHERE id = (SELECT accountId FROM mailbox WHERE id = OLD.mailboxId);
                    END;

                    -- The change feed other processes poll (IMAP IDLE, NOTIFY). mailboxId has no foreign
                    -- key on purpose: the record of an expunge outlives nothing, but must not cascade.
                    CREATE TABLE mailboxChange (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        mailboxId INTEGER NOT NULL,
                        modSeq INTEGER NOT NULL,
                        uid INTEGER NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('append', 'flags', 'expunge')),
                        createdAt DATETIME NOT NULL
                    );
                    CREATE INDEX mailboxChange_mailbox ON mailboxChange(mailboxId, modSeq);

                    CREATE TABLE queueMessage (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        messageBlobId INTEGER NOT NULL REFERENCES messageBlob(id),
                        sender TEXT,
                        envelopeId TEXT,
                        returnContent TEXT,
                        authenticatedAs TEXT,
                        receivedAt DATETIME NOT NULL
                    );

                    CREATE TABLE queueRecipient (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        queueMessageId INTEGER NOT NULL REFERENCES queueMessage(id) ON DELETE CASCADE,
                        recipient TEXT NOT NULL,
                        originalRecipient TEXT,
                        notify TEXT,
                        state TEXT NOT NULL DEFAULT 'queued'
                            CHECK (state IN ('queued', 'deferred', 'delivered', 'bounced')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        nextAttemptAt DATETIME NOT NULL,
                        lastError TEXT,
                        leaseOwner TEXT,
                        leaseExpiresAt DATETIME,
                        updatedAt DATETIME NOT NULL
                    );
                    CREATE INDEX queueRecipient_due ON queueRecipient(state, nextAttemptAt);
                    CREATE INDEX queueRecipient_message ON queueRecipient(queueMessageId);
                    """)
        }
        migrator.registerMigration("2026-11-27 admin tokens and audit log") { db in
            try db.execute(
                sql: """
                    CREATE TABLE adminToken (
                        id TEXT PRIMARY KEY NOT NULL,
                        secretHash BLOB NOT NULL,
                        scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
                        description TEXT NOT NULL DEFAULT '',
                        createdAt DATETIME NOT NULL,
                        revokedAt DATETIME
                    );

                    CREATE TABLE auditLog (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        tokenId TEXT NOT NULL,
                        action TEXT NOT NULL,
                        target TEXT NOT NULL,
                        detail TEXT,
                        createdAt DATETIME NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("2026-11-27 delivery: recipient domain, alias expansion depth, bounce reports") { db in
            // `domain` lets the local worker and the relay lease only their own recipients (and the relay
            // group by destination); `expansionDepth` bounds alias chains; `reportedAt` marks a bounced
            // recipient whose DSN has been queued (or was not wanted), so each gets exactly one.
            try db.execute(
                sql: """
                    ALTER TABLE queueRecipient ADD COLUMN domain TEXT NOT NULL DEFAULT '';
                    UPDATE queueRecipient SET domain = lower(substr(recipient, instr(recipient, '@') + 1));
                    ALTER TABLE queueRecipient ADD COLUMN expansionDepth INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE queueRecipient ADD COLUMN reportedAt DATETIME;
                    CREATE INDEX queueRecipient_unreported ON queueRecipient(state, reportedAt);
                    """)
        }
        migrator.registerMigration("2026-11-27 delay warnings") { db in
            // Set when a "delayed" DSN went out (or was not wanted), so each recipient gets at most one.
            // Delivered recipients are from now on marked reported unless they wait for a success
            // notice; earlier ones never asked for one here.
            try db.execute(
                sql: """
                    ALTER TABLE queueRecipient ADD COLUMN delayReportedAt DATETIME;
                    UPDATE queueRecipient SET reportedAt = updatedAt WHERE state = 'delivered' AND reportedAt IS NULL;
                    """)
        }
        migrator.registerMigration("2026-11-27 POP3 maildrop locks") { db in
            // RFC 1939 §8: one POP3 session per maildrop. A lease (owner + expiry) rather than a lock that
            // sticks: a session that dies without QUIT, or whose process is killed, frees it on expiry.
            try db.execute(
                sql: """
                    CREATE TABLE maildropLock (
                        accountId INTEGER PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
                        owner TEXT NOT NULL,
                        expiresAt DATETIME NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("2026-11-27 IMAP recent floor") { db in
            // RFC 3501 §2.3.2: a message is \Recent in the first session told of it. UIDs at or above the
            // floor have not been claimed by any session yet; mail already stored is not recent.
            try db.execute(
                sql: """
                    ALTER TABLE mailbox ADD COLUMN recentFloor INTEGER NOT NULL DEFAULT 1;
                    UPDATE mailbox SET recentFloor = uidNext;
                    """)
        }
        migrator.registerMigration("2026-11-28 message headers apart, blob references indexed") { db in
            // Each content's header section (through its empty line) on its own, for what reads only
            // headers (IMAP header FETCH and ENVELOPE, SEARCH on header fields): SQLite reads a blob by
            // walking its overflow pages, so reading the header out of the whole content cost a copy of
            // every message (bench/imap.sh: SEARCH SUBJECT on 1,000 4 KB messages). The index lets an
            // expunge drop exactly the contents nothing else uses instead of scanning every blob.
            try db.execute(
                sql: """
                    CREATE TABLE messageHeader (
                        messageBlobId INTEGER PRIMARY KEY REFERENCES messageBlob(id) ON DELETE CASCADE,
                        header BLOB NOT NULL
                    );
                    CREATE INDEX queueMessage_blob ON queueMessage(messageBlobId);
                    """)
            let blobs = try Row.fetchCursor(db, sql: "SELECT id, content FROM messageBlob")
            while let blob = try blobs.next() {
                try MailStore.insertHeader(db, blobID: blob[0], content: blob[1])
            }
        }
        migrator.registerMigration("2026-11-28 mailbox counts") { db in
            // STATUS (MESSAGES, UNSEEN, DELETED, SIZE) from the mailbox row instead of a pass over its
            // messages (clients poll STATUS of every folder), kept by SQLite itself like the account's
            // usage. Flags match as the old per-message sums did.
            let unseen = { (row: String) in "(' ' || \(row).flags || ' ' NOT LIKE '% \\Seen %' ESCAPE '!')" }
            let deleted = { (row: String) in "(' ' || \(row).flags || ' ' LIKE '% \\Deleted %' ESCAPE '!')" }
            try db.execute(
                sql: """
                    ALTER TABLE mailbox ADD COLUMN messageCount INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE mailbox ADD COLUMN unseenCount INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE mailbox ADD COLUMN deletedCount INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE mailbox ADD COLUMN sizeBytes INTEGER NOT NULL DEFAULT 0;
                    UPDATE mailbox SET
                        messageCount = (SELECT count(*) FROM mailboxMessage m WHERE m.mailboxId = mailbox.id),
                        unseenCount = (SELECT coalesce(sum(\(unseen("m"))), 0) FROM mailboxMessage m WHERE m.mailboxId = mailbox.id),
                        deletedCount = (SELECT coalesce(sum(\(deleted("m"))), 0) FROM mailboxMessage m WHERE m.mailboxId = mailbox.id),
                        sizeBytes = (SELECT coalesce(sum(size), 0) FROM mailboxMessage m WHERE m.mailboxId = mailbox.id);

                    CREATE TRIGGER mailboxMessage_counts_insert AFTER INSERT ON mailboxMessage BEGIN
                        UPDATE mailbox SET messageCount = messageCount + 1, sizeBytes = sizeBytes + NEW.size,
                            unseenCount = unseenCount + \(unseen("NEW")), deletedCount = deletedCount + \(deleted("NEW"))
                        WHERE id = NEW.mailboxId;
                    END;
                    CREATE TRIGGER mailboxMessage_counts_delete AFTER DELETE ON mailboxMessage BEGIN
                        UPDATE mailbox SET messageCount = messageCount - 1, sizeBytes = sizeBytes - OLD.size,
                            unseenCount = unseenCount - \(unseen("OLD")), deletedCount = deletedCount - \(deleted("OLD"))
                        WHERE id = OLD.mailboxId;
                    END;
                    -- STORE: only the flag counts move.
                    CREATE TRIGGER mailboxMessage_counts_flags AFTER UPDATE OF flags ON mailboxMessage
                    WHEN OLD.flags <> NEW.flags AND OLD.mailboxId = NEW.mailboxId AND OLD.size = NEW.size BEGIN
                        UPDATE mailbox SET
                            unseenCount = unseenCount + \(unseen("NEW")) - \(unseen("OLD")),
                            deletedCount = deletedCount + \(deleted("NEW")) - \(deleted("OLD"))
                        WHERE id = NEW.mailboxId;
                    END;
                    -- No code moves a message or changes its size in place; should any, the counts follow.
                    CREATE TRIGGER mailboxMessage_counts_move AFTER UPDATE OF mailboxId, size ON mailboxMessage
                    WHEN OLD.mailboxId <> NEW.mailboxId OR OLD.size <> NEW.size BEGIN
                        UPDATE mailbox SET messageCount = messageCount - 1, sizeBytes = sizeBytes - OLD.size,
                            unseenCount = unseenCount - \(unseen("OLD")), deletedCount = deletedCount - \(deleted("OLD"))
                        WHERE id = OLD.mailboxId;
                        UPDATE mailbox SET messageCount = messageCount + 1, sizeBytes = sizeBytes + NEW.size,
                            unseenCount = unseenCount + \(unseen("NEW")), deletedCount = deletedCount + \(deleted("NEW"))
                        WHERE id = NEW.mailboxId;
                    END;
                    """)
        }
        migrator.registerMigration("2026-11-28 flags listing index") { db in
            // IMAP SELECT lists every message's UID and flags: from this index alone, without a look-up
            // of each row in the table (1,000 messages: ~0.18 ms less per SELECT in SQLite).
            try db.execute(sql: "CREATE INDEX mailboxMessage_flags ON mailboxMessage(mailboxId, uid, flags)")
        }
        migrator.registerMigration("2026-12-03 login failures") { db in
            // Failed logins, one row each, under the client's network and under the account tried: kept
            // here rather than in each process so that every protocol, every replica and a restarted
            // process see the same count. Rows older than the lockout window are deleted as new ones come.
            try db.execute(
                sql: """
                    CREATE TABLE loginFailure (
                        key TEXT NOT NULL,
                        failedAt DATETIME NOT NULL
                    );
                    CREATE INDEX loginFailure_key ON loginFailure(key, failedAt);
                    CREATE INDEX loginFailure_age ON loginFailure(failedAt);
                    """)
        }
        migrator.registerMigration("2026-12-03 change feed floor") { db in
            // The change feed is pruned behind a horizon; a mailbox's floor is the highest modseq whose
            // entries may be gone, so a session that has read the feed only up to below it knows it
            // cannot catch up from the feed.
            try db.execute(sql: "ALTER TABLE mailbox ADD COLUMN changeFloor INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("2026-12-03 content in chunks") { db in
            // Content too large to hold in memory is written in pieces as it arrives, each piece a row,
            // so that a session never holds a whole message (and a PostgreSQL store can keep the same
            // rows). `layout` says where a content's bytes are: 'inline' in `messageBlob.content` (most
            // mail, written in one go), 'chunks' in `messageChunk` in `seq` order, or 'upload' while it
            // is still arriving: no message refers to it yet, and one nobody has written to for long
            // was abandoned (its client or its process went away) and is deleted by the purge.
            try db.execute(
                sql: """
                    ALTER TABLE messageBlob ADD COLUMN layout TEXT NOT NULL DEFAULT 'inline'
                        CHECK (layout IN ('inline', 'chunks', 'upload'));
                    CREATE TABLE messageChunk (
                        messageBlobId INTEGER NOT NULL REFERENCES messageBlob(id) ON DELETE CASCADE,
                        seq INTEGER NOT NULL,
                        data BLOB NOT NULL,
                        PRIMARY KEY (messageBlobId, seq)
                    );
                    CREATE INDEX messageBlob_upload ON messageBlob(layout, createdAt) WHERE layout = 'upload';
                    """)
        }
        migrator.registerMigration("2026-12-05 subscriptions apart from mailboxes") { db in
            // A subscription is to a name, not to a mailbox (RFC 9051 §6.3.7): it outlives the mailbox's
            // deletion (LIST (SUBSCRIBED) then shows it \NonExistent) and comes back with a mailbox
            // created under the name again; a rename takes it along.
            try db.execute(
                sql: """
                    CREATE TABLE mailboxSubscription (
                        accountId INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        PRIMARY KEY (accountId, name)
                    );
                    INSERT INTO mailboxSubscription(accountId, name) SELECT accountId, name FROM mailbox WHERE subscribed;
                    ALTER TABLE mailbox DROP COLUMN subscribed;
                    """)
        }
        migrator.registerMigration("2026-12-06 when each message was filed") { db in
            // IMAP SAVEDATE (RFC 8514): set as each message is filed; messages filed earlier have none
            // and are read with their internal date.
            try db.execute(sql: "ALTER TABLE mailboxMessage ADD COLUMN savedAt DATETIME")
        }
        migrator.registerMigration("2026-12-07 metadata") { db in
            // IMAP METADATA (RFC 5464): entries of the account's server scope, and of each mailbox (they
            // follow its id through RENAME and go with it).
            try db.execute(
                sql: """
                    CREATE TABLE serverMetadata (
                        accountId INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        value BLOB NOT NULL,
                        PRIMARY KEY (accountId, name)
                    );
                    CREATE TABLE mailboxMetadata (
                        mailboxId INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        value BLOB NOT NULL,
                        PRIMARY KEY (mailboxId, name)
                    );
                    """)
        }
        migrator.registerMigration("2026-12-08 mailbox list changes in the feed") { db in
            // IMAP NOTIFY (RFC 5465 §5.4, §5.5) tells sessions of other processes that a mailbox was
            // created, deleted or renamed, or a subscription changed: such an entry is of kind
            // 'mailboxes', names the account and no mailbox (mailboxId 0, which no mailbox has). The
            // table is rebuilt because SQLite cannot change a CHECK constraint in place; ids and the id
            // counter are kept, so a process's position in the feed stays valid.
            try db.execute(
                sql: """
                    CREATE TABLE mailboxChangeWithAccounts (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        mailboxId INTEGER NOT NULL,
                        modSeq INTEGER NOT NULL,
                        uid INTEGER NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('append', 'flags', 'expunge', 'mailboxes')),
                        createdAt DATETIME NOT NULL,
                        accountId INTEGER
                    );
                    INSERT INTO mailboxChangeWithAccounts(id, mailboxId, modSeq, uid, kind, createdAt)
                        SELECT id, mailboxId, modSeq, uid, kind, createdAt FROM mailboxChange;
                    -- Pruning may have left the newest ids behind; new ids go on from the old counter.
                    UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'mailboxChange'))
                        WHERE name = 'mailboxChangeWithAccounts';
                    INSERT INTO sqlite_sequence(name, seq)
                        SELECT 'mailboxChangeWithAccounts', seq FROM sqlite_sequence WHERE name = 'mailboxChange'
                        AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'mailboxChangeWithAccounts');
                    DROP TABLE mailboxChange;
                    ALTER TABLE mailboxChangeWithAccounts RENAME TO mailboxChange;
                    CREATE INDEX mailboxChange_mailbox ON mailboxChange(mailboxId, modSeq);
                    """)
        }
        migrator.registerMigration("2026-12-09 sort keys") { db in
            // IMAP SORT's keys of each content (`MessageSortKeys`), worked out at its first SORT and kept:
            // a later SORT of a large mailbox reads them instead of every header.
            try db.execute(sql: "ALTER TABLE messageHeader ADD COLUMN sortKeys TEXT")
        }
        migrator.registerMigration("2026-12-10 dkim keys") { db in
            // Each local domain's DKIM keys (RFC 6376): the private half never leaves the store except to
            // the services that sign.
            try db.execute(
                sql: """
                    CREATE TABLE dkimKey (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        domainId INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,
                        selector TEXT NOT NULL COLLATE NOCASE,
                        algorithm TEXT NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
                        privateKey BLOB NOT NULL,
                        publicKey BLOB NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
                        createdAt DATETIME NOT NULL,
                        activatedAt DATETIME,
                        retiredAt DATETIME,
                        UNIQUE (domainId, selector)
                    );
                    """)
        }
        migrator.registerMigration("2026-12-11 quarantined messages") { db in
            // A message whose author domain's DMARC policy asks for quarantine (RFC 7489 §6.3): local
            // recipients find it in their Junk mailbox.
            try db.execute(sql: "ALTER TABLE queueMessage ADD COLUMN quarantined BOOLEAN NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("2026-12-12 mta-sts policies and tls session tallies") { db in
            // Destination domains' MTA-STS policies (RFC 8461 §5.1), kept until they expire; and for SMTP
            // TLS Reporting (RFC 8460) the relay's TLS sessions to domains with a policy, counted per
            // report period until the period's report goes out.
            try db.execute(
                sql: """
                    CREATE TABLE mtaStsPolicy (
                        domain TEXT PRIMARY KEY,
                        policyId TEXT NOT NULL,
                        policy TEXT NOT NULL,
                        expiresAt DATETIME NOT NULL
                    ) WITHOUT ROWID;
                    """)
            try db.execute(
                sql: """
                    CREATE TABLE tlsSessionTally (
                        periodStart DATETIME NOT NULL,
                        policyDomain TEXT NOT NULL,
                        policyType TEXT NOT NULL,
                        policy TEXT NOT NULL,
                        mxHost TEXT NOT NULL,
                        resultType TEXT NOT NULL,
                        receivingIP TEXT NOT NULL,
                        sessions INTEGER NOT NULL,
                        PRIMARY KEY (periodStart, policyDomain, policyType, mxHost, resultType, receivingIP)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("2026-12-13 domain transport policies") { db in
            // What each local domain asks of its senders: the MTA-STS policy the admin service serves
            // (RFC 8461 §3.2) and the addresses its TLS reports go to (RFC 8460 §3). Lists are
            // space-separated.
            try db.execute(
                sql: """
                    CREATE TABLE domainTransportPolicy (
                        domainId INTEGER PRIMARY KEY REFERENCES domain(id) ON DELETE CASCADE,
                        mtaStsMode TEXT NOT NULL CHECK (mtaStsMode IN ('none', 'testing', 'enforce')),
                        mtaStsMaxAge INTEGER NOT NULL,
                        mtaStsMx TEXT NOT NULL,
                        tlsReportAddresses TEXT NOT NULL,
                        updatedAt DATETIME NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("2026-12-14 mail transfers") { db in
            // Imports and exports as their processes report them (MailStore+Transfers.swift). The account
            // is its address, not a reference: the record outlives an account removed since.
            try db.execute(
                sql: """
                    CREATE TABLE mailTransfer (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        account TEXT,
                        source TEXT NOT NULL,
                        host TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'failed')),
                        folders INTEGER NOT NULL,
                        messages INTEGER NOT NULL,
                        bytes INTEGER NOT NULL,
                        alreadyThere INTEGER NOT NULL,
                        problems INTEGER NOT NULL,
                        detail TEXT,
                        startedAt DATETIME NOT NULL,
                        updatedAt DATETIME NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("2026-12-15 service processes") { db in
            // Each service's processes as they report themselves (MailStore+ServiceProcesses.swift).
            try db.execute(
                sql: """
                    CREATE TABLE serviceProcess (
                        service TEXT NOT NULL,
                        host TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        startedAt DATETIME NOT NULL,
                        seenAt DATETIME NOT NULL,
                        stoppedAt DATETIME,
                        PRIMARY KEY (service, host, pid)
                    );
                    """)
        }
        return migrator
    }
}

extension MailStoreMigrator {
    /// For migration tests (through `@testable import`, as only this module may touch GRDB): a new file
    /// at `path` with the schema as it was after `identifier`, then `sql` run on it.
    static func writeEarlierFile(at path: String, migratedUpTo identifier: String, then sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try Self.make().migrate(queue, upTo: identifier)
        try queue.write { db in try db.execute(sql: sql) }
        try queue.close()
    }
}
