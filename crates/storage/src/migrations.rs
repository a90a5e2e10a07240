//! Schema migrations, applied in order; `PRAGMA user_version` records how many have run.

/// What a conversation shows on a line of its own (`window::SHOWN`), as a condition on the content
/// type of `$of` (`""`, `"NEW."` or `"OLD."`): every type but attachment chunks, a group's traffic
/// (records, answers, presence, chunks), reactions and edits (shown with their message) and
/// receipts. A chain of `!=`: for `NOT IN` SQLite built a table of the list each time it tested a
/// row, which a partial index's condition and a trigger's do on every insert.
macro_rules! shown {
    ($of:literal) => {
        concat!(
            $of,
            "content_type != 'courier/chunk' AND ",
            $of,
            "content_type != 'courier/group-record' AND ",
            $of,
            "content_type != 'courier/group-answer' AND ",
            $of,
            "content_type != 'courier/group-presence' AND ",
            $of,
            "content_type != 'courier/group-chunk' AND ",
            $of,
            "content_type != 'courier/reaction' AND ",
            $of,
            "content_type != 'courier/edit' AND ",
            $of,
            "content_type != 'courier/receipt'"
        )
    };
}
pub(crate) use shown;

/// What a read receipt names and the unseen counts count (`receipts::UNSEEN_SHOWN`), as [`shown`]
/// words it: a message shown on a line of its own that is not a timer line or a retraction.
macro_rules! unseen_counted {
    ($of:literal) => {
        concat!(
            $crate::migrations::shown!($of),
            " AND ",
            $of,
            "content_type != 'courier/timer' AND ",
            $of,
            "content_type != 'courier/delete'"
        )
    };
}
pub(crate) use unseen_counted;

/// Each entry moves the schema one version forward. Never edit a shipped entry: add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: contacts (the identity issue adds keys and verification in a later migration), the outbox and
    // the inbox. Ids are content hashes; an outgoing message is unacked until the peer acks it.
    "CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        alias TEXT NOT NULL UNIQUE
    );
    CREATE TABLE outgoing (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        id BLOB NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        type_version INTEGER NOT NULL,
        body BLOB NOT NULL,
        times_sent INTEGER NOT NULL DEFAULT 0,
        due_ms INTEGER NOT NULL DEFAULT 0,
        acked INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (contact_id, id)
    );
    CREATE INDEX outgoing_due ON outgoing (contact_id, acked, due_ms, timestamp_ms);
    CREATE TABLE incoming (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        id BLOB NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        type_version INTEGER NOT NULL,
        body BLOB NOT NULL,
        received_seq INTEGER NOT NULL,
        PRIMARY KEY (contact_id, id)
    );",
    // 2: the user's identity (one row, secrets only ever inside this encrypted file) and contacts added
    // by link that have not completed the handshake yet.
    "CREATE TABLE identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        handshake_secret BLOB NOT NULL,
        signing_secret BLOB NOT NULL
    );
    CREATE TABLE pending_contacts (
        id INTEGER PRIMARY KEY,
        alias TEXT NOT NULL UNIQUE,
        handshake_public BLOB NOT NULL UNIQUE,
        added_ms INTEGER NOT NULL
    );",
    // 3: what a completed handshake leaves: the contact's public key, the root secret every transport's
    // keys derive from (with our role and the period they start at), and whether the user verified
    // the safety number.
    "ALTER TABLE contacts ADD COLUMN handshake_public BLOB;
    ALTER TABLE contacts ADD COLUMN root_secret BLOB;
    ALTER TABLE contacts ADD COLUMN is_alice INTEGER;
    ALTER TABLE contacts ADD COLUMN start_period INTEGER;
    ALTER TABLE contacts ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
    CREATE UNIQUE INDEX contacts_handshake_public ON contacts (handshake_public);",
    // 4: without an index, finding the next arrival number scanned the whole inbox on every message.
    "CREATE INDEX incoming_received_seq ON incoming (received_seq);",
    // 5: the LAN node. Keys start at a time both sides agreed in the handshake (ms, not a period: each
    // transport has its own period length). Stream numbers already used and streams already seen are
    // stored, so a restart neither reuses an outgoing stream number nor accepts a replayed stream.
    // `peer` is 'c' + contact id or 'p' + pending contact id; rows go with their contact (see
    // `remove_contact`, `complete_handshake`).
    "ALTER TABLE contacts RENAME COLUMN start_period TO start_ms;
    CREATE TABLE stream_state (
        peer TEXT NOT NULL,
        transport TEXT NOT NULL,
        period INTEGER NOT NULL,
        next_outgoing INTEGER NOT NULL DEFAULT 0,
        window_base INTEGER NOT NULL DEFAULT 0,
        window_seen INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (peer, transport, period)
    );",
    // 6: `send` looks up the newest timestamp to a contact on every message; without this index that
    // read every row of the conversation.
    "CREATE INDEX outgoing_timestamp ON outgoing (contact_id, timestamp_ms);",
    // 7: forward secrecy. A contact's keys per transport are kept as the secret of the oldest period
    // still needed, overwritten as periods pass; the handshake's root secret is no longer stored for
    // new contacts (older rows keep theirs until their keys are first saved here).
    "CREATE TABLE transport_secrets (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        transport TEXT NOT NULL,
        period INTEGER NOT NULL,
        secret BLOB NOT NULL,
        PRIMARY KEY (contact_id, transport)
    );",
    // 8: type negotiation. Each message carries its sender's fallback text for readers without the
    // plugin; each contact's announced content types and version ranges are kept to pick a version.
    "ALTER TABLE outgoing ADD COLUMN fallback TEXT NOT NULL DEFAULT '';
    ALTER TABLE incoming ADD COLUMN fallback TEXT NOT NULL DEFAULT '';
    CREATE TABLE peer_content_types (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        content_type TEXT NOT NULL,
        min_version INTEGER NOT NULL,
        max_version INTEGER NOT NULL,
        PRIMARY KEY (contact_id, content_type)
    );",
    // 9: how each contact said it can be reached, per transport (e.g. its LAN address), so a node can
    // dial a contact that neither mDNS nor a static peer list finds.
    "CREATE TABLE peer_properties (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        transport TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (contact_id, transport, key)
    );",
    // 10: attachment chunks move out of the database into sealed packs beside it (`chunk_packs.rs`):
    // SQLCipher wrote each chunk four times over (WAL, checkpoint) in 4 KiB encrypted pages. A packed
    // row keeps an empty body and where its record is; rows from before keep their body.
    "ALTER TABLE outgoing ADD COLUMN pack_offset INTEGER;
    ALTER TABLE outgoing ADD COLUMN pack_len INTEGER;
    ALTER TABLE incoming ADD COLUMN pack_offset INTEGER;
    ALTER TABLE incoming ADD COLUMN pack_len INTEGER;
    CREATE TABLE pack_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key BLOB NOT NULL
    );",
    // 11: simplex links (a drive, a mailbox). Nobody answers a simplex stream, so a message read from
    // one is acked on our next stream to its sender: these are the incoming messages whose ack is
    // still to be written, oldest first by rowid. A duplicate read again puts its id back.
    "CREATE TABLE acks_due (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        id BLOB NOT NULL,
        PRIMARY KEY (contact_id, id)
    );",
    // 12: one key chain per latency class instead of one per transport, so a transport configured
    // after the handshake reaches the contact: the step of the oldest period still held, overwritten
    // as periods pass. Contacts from before keep their `transport_secrets` rows and the transports
    // they had; a transport added later reaches only contacts made since.
    "CREATE TABLE chain_secrets (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        class_ms INTEGER NOT NULL,
        period INTEGER NOT NULL,
        secret BLOB NOT NULL,
        PRIMARY KEY (contact_id, class_ms)
    );",
    // 13: the onion service's identity (an Ed25519 seed), made on first use; here, so a stolen
    // disk or a wipe takes it with the rest, and Tor's own files on disk hold none.
    "ALTER TABLE identity ADD COLUMN onion_secret BLOB;",
    // 14: whether the user has seen an incoming message (a front end's unread count).
    "ALTER TABLE incoming ADD COLUMN seen INTEGER NOT NULL DEFAULT 0;",
    // 15: the key a front end gave a send (an API client's `Idempotency-Key`), kept with what it
    // queued for a week, so a retry after a crash or a restart queues nothing more.
    "CREATE TABLE send_keys (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        id BLOB NOT NULL,
        added_ms INTEGER NOT NULL,
        PRIMARY KEY (contact_id, key)
    );",
    // 16: disappearing messages. Each contact's timer, as the latest timer message of the
    // conversation set it (its sender's timestamp and id break a tie, so both sides agree); for each
    // message, the timer it was sent or received under and when it is deleted (from the ack, or from
    // arrival); and the ids of messages deleted, so a copy sent again is acked and not stored.
    "ALTER TABLE contacts ADD COLUMN timer_secs INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE contacts ADD COLUMN timer_ts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE contacts ADD COLUMN timer_id BLOB NOT NULL DEFAULT x'';
    ALTER TABLE outgoing ADD COLUMN disappear_ms INTEGER;
    ALTER TABLE outgoing ADD COLUMN expires_ms INTEGER;
    ALTER TABLE incoming ADD COLUMN expires_ms INTEGER;
    CREATE INDEX outgoing_expiry ON outgoing (expires_ms) WHERE expires_ms IS NOT NULL;
    CREATE INDEX incoming_expiry ON incoming (expires_ms) WHERE expires_ms IS NOT NULL;
    CREATE TABLE forgotten (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        id BLOB NOT NULL,
        PRIMARY KEY (contact_id, id)
    );",
    // 17: erasure by key rotation. Deleting a row (a message that disappeared or was deleted, a
    // contact, an address a contact no longer has) or replacing a transport key leaves the old bytes
    // in stale pages on the disk, under the database key; `owed` says the key must be rotated
    // (`rotation.rs`) so that those pages become noise. Triggers, so no delete path can forget it;
    // none on what every session writes unchanged.
    "CREATE TABLE erasure (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        owed INTEGER NOT NULL
    );
    INSERT INTO erasure (id, owed) VALUES (1, 0);
    CREATE TRIGGER erase_outgoing AFTER DELETE ON outgoing
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_incoming AFTER DELETE ON incoming
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_contact AFTER DELETE ON contacts
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_pending AFTER DELETE ON pending_contacts
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_properties AFTER DELETE ON peer_properties
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_changed_property AFTER UPDATE OF value ON peer_properties
        WHEN OLD.value IS NOT NEW.value
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_chain_step AFTER UPDATE OF secret ON chain_secrets
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_transport_step AFTER UPDATE OF secret ON transport_secrets
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;",
    // 18: costs that do not grow with the history (#27); each query these serve has its plan pinned
    // in `query_plans.rs`. A window of a conversation reads the rows it shows, newest first, chunks
    // left out by the index itself; what is due to a contact is read in queue order among its
    // unacked messages only (the old index sorted every due row for each batch); unseen messages
    // and the attachments still in flight are found among themselves; expired send keys by age.
    // `changed` numbers every change of an outgoing message's state (queued, sent, acked) in
    // commit order, by trigger so no path can forget it: a reader asks what changed since it last
    // looked instead of re-reading every unacked message.
    "CREATE INDEX outgoing_shown ON outgoing (contact_id, timestamp_ms)
        WHERE content_type != 'courier/chunk';
    CREATE INDEX incoming_shown ON incoming (contact_id, timestamp_ms, received_seq)
        WHERE content_type != 'courier/chunk';
    DROP INDEX outgoing_due;
    CREATE INDEX outgoing_unacked ON outgoing (contact_id, timestamp_ms) WHERE acked = 0;
    CREATE INDEX outgoing_in_flight ON outgoing (contact_id)
        WHERE acked = 0 AND content_type = 'courier/attachment';
    CREATE INDEX incoming_unseen ON incoming (contact_id) WHERE seen = 0;
    CREATE INDEX send_keys_age ON send_keys (added_ms);
    ALTER TABLE outgoing ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outgoing_changed ON outgoing (changed);
    CREATE TRIGGER outgoing_queued AFTER INSERT ON outgoing
        BEGIN UPDATE outgoing SET changed = (SELECT max(changed) FROM outgoing) + 1
              WHERE rowid = NEW.rowid; END;
    CREATE TRIGGER outgoing_moved AFTER UPDATE OF times_sent, acked ON outgoing
        WHEN OLD.times_sent IS NOT NEW.times_sent OR OLD.acked IS NOT NEW.acked
        BEGIN UPDATE outgoing SET changed = (SELECT max(changed) FROM outgoing) + 1
              WHERE rowid = NEW.rowid; END;",
    // 19: the mailbox (#28). `own_mailbox`: the one we own, once paired. `mailbox_routes`: for each
    // contact, how we reach them through a mailbox, from our side: `owned` 1, ours, registered for
    // them (we told them `inbox` = our `download` and `outbox` = our `upload`); 0, theirs, as they
    // told us. An owned row with no address is one we withdrew: every session tells them to stop.
    "CREATE TABLE own_mailbox (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        address TEXT NOT NULL,
        token BLOB NOT NULL
    );
    CREATE TABLE mailbox_routes (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        owned INTEGER NOT NULL,
        address TEXT,
        token BLOB,
        upload BLOB,
        download BLOB,
        PRIMARY KEY (contact_id, owned)
    );
    CREATE TRIGGER erase_mailbox_route AFTER DELETE ON mailbox_routes
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_own_mailbox AFTER DELETE ON own_mailbox
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;",
    // 20: a contact made while the node runs is registered at our mailbox by the node (its mailbox
    // driver), not only by `courier mailbox pair` or at start: a route waits unregistered, and is
    // neither used nor told, until the mailbox has taken it.
    "ALTER TABLE mailbox_routes ADD COLUMN registered INTEGER NOT NULL DEFAULT 1;",
    // 21: private groups (#30). `groups`: each group we were invited to or belong to (or did),
    // with our key in it once we joined (the descriptor holds the creator's). `group_members`:
    // who the creator added, how their membership ended, and each one's latest accepted record
    // (`head`). `group_records`: the records as they came (the bytes relayed unchanged), accepted
    // (in `seq` order) or held (`held_for`: the record each waits for). `group_peers`: the
    // contacts we sync a group with, and their key in it. Deleting a record owes an erasure.
    "CREATE TABLE groups (
        id BLOB PRIMARY KEY,
        descriptor BLOB NOT NULL,
        standing TEXT NOT NULL,
        invited_by INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
        member_secret BLOB,
        dissolved INTEGER NOT NULL DEFAULT 0,
        added_ms INTEGER NOT NULL
    );
    CREATE TABLE group_members (
        group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        member BLOB NOT NULL,
        name TEXT NOT NULL,
        added_by BLOB NOT NULL,
        ended TEXT,
        ended_by BLOB,
        cut BLOB,
        head BLOB,
        PRIMARY KEY (group_id, member)
    );
    CREATE TABLE group_records (
        id BLOB PRIMARY KEY,
        group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        seq INTEGER,
        held_for BLOB,
        author BLOB NOT NULL,
        previous BLOB,
        timestamp_ms INTEGER NOT NULL,
        bytes BLOB NOT NULL
    );
    CREATE INDEX group_records_order ON group_records (group_id, seq) WHERE held_for IS NULL;
    CREATE INDEX group_records_held ON group_records (group_id, held_for)
        WHERE held_for IS NOT NULL;
    CREATE TABLE group_peers (
        group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        member BLOB NOT NULL,
        PRIMARY KEY (group_id, contact_id)
    );
    CREATE TRIGGER erase_group_record AFTER DELETE ON group_records
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    CREATE TRIGGER erase_group AFTER DELETE ON groups
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;",
    // 22: the contacts we invited into a group of ours and who have not answered: only their
    // answer makes them a member.
    "CREATE TABLE group_invited (
        group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, contact_id)
    );",
    // 23: the post an accepted group record replies to (`parent`), so a thread is read by its
    // index, not by decoding the group's history.
    "ALTER TABLE group_records ADD COLUMN parent BLOB;
    CREATE INDEX group_records_thread ON group_records (group_id, parent, seq)
        WHERE held_for IS NULL AND parent IS NOT NULL;",
    // 24: a conversation shows no group traffic (records, answers and presence tags ride the
    // outbox to be delivered; the group shows them): the shown indexes' condition is
    // `window::SHOWN`, written out the same.
    "DROP INDEX outgoing_shown;
    DROP INDEX incoming_shown;
    CREATE INDEX outgoing_shown ON outgoing (contact_id, timestamp_ms)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence');
    CREATE INDEX incoming_shown ON incoming (contact_id, timestamp_ms, received_seq)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence');",
    // 25: a group's last position, kept apart from its records so that positions only grow
    // (a removal that takes back the newest records must not hand their positions out again).
    "ALTER TABLE groups ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE groups SET last_seq = (SELECT coalesce(max(seq), 0) FROM group_records
        WHERE group_id = groups.id AND held_for IS NULL);",
    // 26: group posts larger than one record: their chunks (`courier/group-chunk` messages, kept
    // once whichever contact brought them, keyed by their content address), and which accepted
    // post names which chunk, so a chunk that comes after its post is relayed as it arrives. The
    // shown indexes leave group chunks out of conversations.
    "CREATE TABLE group_chunks (
        id BLOB PRIMARY KEY,
        timestamp_ms INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE TABLE group_post_chunks (
        chunk_id BLOB NOT NULL,
        group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        record_id BLOB NOT NULL,
        PRIMARY KEY (chunk_id, group_id, record_id)
    );
    CREATE TRIGGER erase_group_chunk AFTER DELETE ON group_chunks
        BEGIN UPDATE erasure SET owed = 1 WHERE owed = 0; END;
    DROP INDEX outgoing_shown;
    DROP INDEX incoming_shown;
    CREATE INDEX outgoing_shown ON outgoing (contact_id, timestamp_ms)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence', 'courier/group-chunk');
    CREATE INDEX incoming_shown ON incoming (contact_id, timestamp_ms, received_seq)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence', 'courier/group-chunk');",
    // 27: disappearing posts in groups. The creator's timer (`timer_secs`, 0 for off); when a
    // sealed post's content goes (`expires_ms`), and that it went (`gone`: its key and chunks are
    // erased, its signed record stays for the chain). A window shows what has not gone, by its own
    // indexes; a chunk's links are found by their record too.
    "ALTER TABLE groups ADD COLUMN timer_secs INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE group_records ADD COLUMN expires_ms INTEGER;
    ALTER TABLE group_records ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX group_records_expiry ON group_records (expires_ms) WHERE expires_ms IS NOT NULL;
    CREATE INDEX group_records_shown ON group_records (group_id, seq)
        WHERE held_for IS NULL AND gone = 0;
    DROP INDEX group_records_thread;
    CREATE INDEX group_records_thread ON group_records (group_id, parent, seq)
        WHERE held_for IS NULL AND parent IS NOT NULL AND gone = 0;
    CREATE INDEX group_post_chunks_record ON group_post_chunks (record_id);",
    // 28: relations between a conversation's messages (#31): the message a reply, reaction, edit
    // or retraction names, found by its own index; reactions and edits are shown with what they
    // name, not in the conversation (the shown indexes' condition is `window::SHOWN`).
    "ALTER TABLE outgoing ADD COLUMN relates_to BLOB;
    ALTER TABLE incoming ADD COLUMN relates_to BLOB;
    CREATE INDEX outgoing_relations ON outgoing (contact_id, relates_to)
        WHERE relates_to IS NOT NULL;
    CREATE INDEX incoming_relations ON incoming (contact_id, relates_to)
        WHERE relates_to IS NOT NULL;
    DROP INDEX outgoing_shown;
    DROP INDEX incoming_shown;
    CREATE INDEX outgoing_shown ON outgoing (contact_id, timestamp_ms)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence', 'courier/group-chunk', 'courier/reaction',
        'courier/edit');
    CREATE INDEX incoming_shown ON incoming (contact_id, timestamp_ms, received_seq)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence', 'courier/group-chunk', 'courier/reaction',
        'courier/edit');",
    // 29: read receipts (#31). Whether a conversation sends them (`receipts`: NULL as the profile
    // says, else 0 or 1), and when the contact read each of our messages (`read_ms`, by their
    // clock); a read is a change of an outgoing message's state like an ack, so its trigger numbers
    // it too. Our receipts ride the outbox and are shown nowhere (the shown indexes' condition is
    // `window::SHOWN`).
    "ALTER TABLE contacts ADD COLUMN receipts INTEGER;
    ALTER TABLE outgoing ADD COLUMN read_ms INTEGER;
    DROP TRIGGER outgoing_moved;
    CREATE TRIGGER outgoing_moved AFTER UPDATE OF times_sent, acked, read_ms ON outgoing
        WHEN OLD.times_sent IS NOT NEW.times_sent OR OLD.acked IS NOT NEW.acked
            OR OLD.read_ms IS NOT NEW.read_ms
        BEGIN UPDATE outgoing SET changed = (SELECT max(changed) FROM outgoing) + 1
              WHERE rowid = NEW.rowid; END;
    DROP INDEX outgoing_shown;
    DROP INDEX incoming_shown;
    CREATE INDEX outgoing_shown ON outgoing (contact_id, timestamp_ms)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence', 'courier/group-chunk', 'courier/reaction',
        'courier/edit', 'courier/receipt');
    CREATE INDEX incoming_shown ON incoming (contact_id, timestamp_ms, received_seq)
        WHERE content_type NOT IN ('courier/chunk', 'courier/group-record',
        'courier/group-answer', 'courier/group-presence', 'courier/group-chunk', 'courier/reaction',
        'courier/edit', 'courier/receipt');",
    // 30: reactions, edits and deletions in groups (#31): the relation a post is (`relation`, the
    // kind's name), the post it names (`relates_to`, found by its own index), and whether it is
    // shown with that post rather than in the group (`aside`: reactions and edits), which the
    // shown and thread indexes leave out.
    "ALTER TABLE group_records ADD COLUMN relation TEXT;
    ALTER TABLE group_records ADD COLUMN relates_to BLOB;
    ALTER TABLE group_records ADD COLUMN aside INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX group_records_relations ON group_records (group_id, relates_to)
        WHERE relates_to IS NOT NULL;
    DROP INDEX group_records_shown;
    CREATE INDEX group_records_shown ON group_records (group_id, seq)
        WHERE held_for IS NULL AND gone = 0 AND aside = 0;
    DROP INDEX group_records_thread;
    CREATE INDEX group_records_thread ON group_records (group_id, parent, seq)
        WHERE held_for IS NULL AND parent IS NOT NULL AND gone = 0 AND aside = 0;",
    // 31: transport secrets sealed under a key of their own (`sealed_secrets.rs`), so that stepping
    // one forward erases the old one by re-sealing the contacts' few secrets under a fresh key
    // instead of re-encrypting the whole database. `secrets_generation`: the secrets key every row
    // is sealed under (0: stored plain, as before this migration); `secrets_owed`: a secret was
    // replaced since, and the key must change. Rows stored plain are sealed by the node's first
    // re-seal, which then owes one rotation of the database key for the plain copies.
    "ALTER TABLE erasure ADD COLUMN secrets_generation INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE erasure ADD COLUMN secrets_owed INTEGER NOT NULL DEFAULT 1;
    DROP TRIGGER erase_chain_step;
    DROP TRIGGER erase_transport_step;
    CREATE TRIGGER erase_chain_step AFTER UPDATE OF secret ON chain_secrets
        BEGIN UPDATE erasure SET secrets_owed = 1 WHERE secrets_owed = 0; END;
    CREATE TRIGGER erase_transport_step AFTER UPDATE OF secret ON transport_secrets
        BEGIN UPDATE erasure SET secrets_owed = 1 WHERE secrets_owed = 0; END;",
    // 32: each conversation's unseen count kept beside it, so that listing the conversations reads
    // one row per contact instead of counting every unseen arrival (a contact with 500,000 unread
    // made the list take 155 ms). Kept by triggers on `incoming`, so no writer can forget it. It
    // counts what a read receipt would name (`receipts::UNSEEN_SHOWN`): a message shown on its own
    // line, not a chunk of an attachment, a reaction or an edit shown with their message, a timer
    // line or a retraction (before, every arrival but a chunk counted).
    "CREATE TABLE unseen_counts (
        contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
        n INTEGER NOT NULL
    );
    INSERT INTO unseen_counts (contact_id, n)
        SELECT contact_id, count(*) FROM incoming
        WHERE seen = 0 AND content_type NOT IN ('courier/chunk',
            'courier/group-record', 'courier/group-answer', 'courier/group-presence',
            'courier/group-chunk', 'courier/reaction', 'courier/edit', 'courier/receipt',
            'courier/timer', 'courier/delete')
        GROUP BY contact_id;
    CREATE TRIGGER unseen_arrived AFTER INSERT ON incoming
        WHEN NEW.seen = 0 AND NEW.content_type NOT IN ('courier/chunk',
            'courier/group-record', 'courier/group-answer', 'courier/group-presence',
            'courier/group-chunk', 'courier/reaction', 'courier/edit', 'courier/receipt',
            'courier/timer', 'courier/delete')
        BEGIN INSERT INTO unseen_counts (contact_id, n) VALUES (NEW.contact_id, 1)
              ON CONFLICT (contact_id) DO UPDATE SET n = n + 1; END;
    CREATE TRIGGER unseen_seen AFTER UPDATE OF seen ON incoming
        WHEN OLD.seen = 0 AND NEW.seen != 0
            AND OLD.content_type NOT IN ('courier/chunk',
            'courier/group-record', 'courier/group-answer', 'courier/group-presence',
            'courier/group-chunk', 'courier/reaction', 'courier/edit', 'courier/receipt',
            'courier/timer', 'courier/delete')
        BEGIN UPDATE unseen_counts SET n = n - 1 WHERE contact_id = OLD.contact_id; END;
    CREATE TRIGGER unseen_gone AFTER DELETE ON incoming
        WHEN OLD.seen = 0 AND OLD.content_type NOT IN ('courier/chunk',
            'courier/group-record', 'courier/group-answer', 'courier/group-presence',
            'courier/group-chunk', 'courier/reaction', 'courier/edit', 'courier/receipt',
            'courier/timer', 'courier/delete')
        BEGIN UPDATE unseen_counts SET n = n - 1 WHERE contact_id = OLD.contact_id; END;",
    // 33: a number that moves whenever a contact or pending contact is added, changed or removed,
    // so that a front end's watcher reads the contacts only when they changed instead of on every
    // look (each look read every contact, twice: 1,000 contacts cost it about a millisecond each
    // time a message moved). Kept by triggers, so no writer can forget it.
    "CREATE TABLE contact_changes (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n INTEGER NOT NULL
    );
    INSERT INTO contact_changes (id, n) VALUES (1, 0);
    CREATE TRIGGER contact_added AFTER INSERT ON contacts
        BEGIN UPDATE contact_changes SET n = n + 1; END;
    CREATE TRIGGER contact_changed AFTER UPDATE ON contacts
        BEGIN UPDATE contact_changes SET n = n + 1; END;
    CREATE TRIGGER contact_removed AFTER DELETE ON contacts
        BEGIN UPDATE contact_changes SET n = n + 1; END;
    CREATE TRIGGER pending_contact_added AFTER INSERT ON pending_contacts
        BEGIN UPDATE contact_changes SET n = n + 1; END;
    CREATE TRIGGER pending_contact_changed AFTER UPDATE ON pending_contacts
        BEGIN UPDATE contact_changes SET n = n + 1; END;
    CREATE TRIGGER pending_contact_removed AFTER DELETE ON pending_contacts
        BEGIN UPDATE contact_changes SET n = n + 1; END;",
    // 34: the shown indexes' condition and the unseen counts' triggers (29 and 32) written as a
    // chain of `!=` instead of `NOT IN`, for which SQLite built a table of the list on every insert
    // into `incoming` and `outgoing`: about 2 µs a row for each index and trigger, a tenth of
    // storing an arrival. The indexes are built again from the rows once.
    concat!(
        "DROP INDEX outgoing_shown;
    DROP INDEX incoming_shown;
    CREATE INDEX outgoing_shown ON outgoing (contact_id, timestamp_ms) WHERE ",
        shown!(""),
        ";
    CREATE INDEX incoming_shown ON incoming (contact_id, timestamp_ms, received_seq) WHERE ",
        shown!(""),
        ";
    DROP TRIGGER unseen_arrived;
    DROP TRIGGER unseen_seen;
    DROP TRIGGER unseen_gone;
    CREATE TRIGGER unseen_arrived AFTER INSERT ON incoming
        WHEN NEW.seen = 0 AND ",
        unseen_counted!("NEW."),
        "
        BEGIN INSERT INTO unseen_counts (contact_id, n) VALUES (NEW.contact_id, 1)
              ON CONFLICT (contact_id) DO UPDATE SET n = n + 1; END;
    CREATE TRIGGER unseen_seen AFTER UPDATE OF seen ON incoming
        WHEN OLD.seen = 0 AND NEW.seen != 0 AND ",
        unseen_counted!("OLD."),
        "
        BEGIN UPDATE unseen_counts SET n = n - 1 WHERE contact_id = OLD.contact_id; END;
    CREATE TRIGGER unseen_gone AFTER DELETE ON incoming
        WHEN OLD.seen = 0 AND ",
        unseen_counted!("OLD."),
        "
        BEGIN UPDATE unseen_counts SET n = n - 1 WHERE contact_id = OLD.contact_id; END;"
    ),
];
