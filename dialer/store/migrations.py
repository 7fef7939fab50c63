"""Versioned schema migrations, applied in order inside one transaction each.

``PRAGMA user_version`` holds the version a database is at; opening an older
database upgrades it in place (a test builds a version-1 file and upgrades it).
Never edit a shipped migration: add a new one.

Privacy (C18): no column holds a plaintext phone number. ``number_hash`` is the
keyed blind index (HMAC), ``*_sealed`` columns are AES-GCM ciphertext.
Append-only tables (C3, C5, C19) carry triggers that refuse UPDATE; rows leave
them only through erasure (C17) and purge (C4), which are themselves audited.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        -- C3: consent with full provenance, append-only
        CREATE TABLE consents (
            id INTEGER PRIMARY KEY,
            number_hash TEXT NOT NULL,
            contact_sealed BLOB,
            scope TEXT NOT NULL,
            source TEXT NOT NULL,
            method TEXT NOT NULL,
            obtained_at TEXT NOT NULL,
            disclosure_sha256 TEXT NOT NULL,
            evidence_ref TEXT NOT NULL,
            signature_ref TEXT,
            written INTEGER NOT NULL DEFAULT 0,
            batch_id TEXT,
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL
        );
        CREATE INDEX consents_by_number ON consents (number_hash, scope);
        CREATE TRIGGER consents_append_only BEFORE UPDATE ON consents
            BEGIN SELECT RAISE(ABORT, 'consents are append-only (C3)'); END;

        -- C5: every channel ends in the same kind of record
        CREATE TABLE revocations (
            id INTEGER PRIMARY KEY,
            number_hash TEXT NOT NULL,
            channel TEXT NOT NULL,
            received_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            source_ref TEXT,
            recorded_by TEXT NOT NULL
        );
        CREATE INDEX revocations_by_number ON revocations (number_hash, received_at);
        CREATE TRIGGER revocations_append_only BEFORE UPDATE ON revocations
            BEGIN SELECT RAISE(ABORT, 'revocations are append-only (C5)'); END;

        -- C4: the organisation's own do-not-call list (revocations are honored too)
        CREATE TABLE dnc_company (
            number_hash TEXT PRIMARY KEY,
            added_at TEXT NOT NULL,
            source TEXT NOT NULL
        );

        -- C15: the national list, and the as-of date of each import
        CREATE TABLE dnc_national (number_hash TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE dnc_national_imports (
            id INTEGER PRIMARY KEY,
            as_of TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            entries INTEGER NOT NULL,
            source_name TEXT NOT NULL
        );

        -- C16, C17: suppressions that survive erasure (keyed hash only)
        CREATE TABLE suppressions (
            number_hash TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (number_hash, reason)
        ) WITHOUT ROWID;

        -- C14: caller IDs the organisation owns and that accept DNC requests
        CREATE TABLE caller_ids (
            number_hash TEXT PRIMARY KEY,
            number_sealed BLOB NOT NULL,
            label TEXT NOT NULL,
            added_at TEXT NOT NULL
        );

        CREATE TABLE contact_lists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            list_id INTEGER NOT NULL REFERENCES contact_lists (id),
            external_id TEXT NOT NULL,
            number_hash TEXT NOT NULL,
            number_sealed BLOB NOT NULL,
            language TEXT NOT NULL,
            fields_sealed BLOB,
            needs_review INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            UNIQUE (list_id, external_id, number_hash)
        );
        CREATE INDEX contacts_by_number ON contacts (number_hash);

        CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            purpose TEXT NOT NULL,
            list_id INTEGER NOT NULL REFERENCES contact_lists (id),
            message TEXT NOT NULL,
            caller_id_hash TEXT NOT NULL,
            caller_id_sealed BLOB NOT NULL,
            category TEXT,
            authorized_by TEXT,
            window_start TEXT NOT NULL,
            window_end TEXT NOT NULL,
            max_attempts INTEGER NOT NULL,
            retry_delay INTEGER NOT NULL,
            residential_exemption INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );

        -- C6: an explicit, audited per-campaign override for revoked numbers
        CREATE TABLE campaign_overrides (
            campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id),
            operator TEXT NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL
        );

        -- C2: one row per decision right before a dial attempt
        CREATE TABLE attempts (
            id TEXT PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
            contact_id INTEGER NOT NULL,
            number_hash TEXT NOT NULL,
            attempt_no INTEGER NOT NULL,
            purpose TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            allowed INTEGER NOT NULL,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            with_consent INTEGER NOT NULL,
            state TEXT NOT NULL,
            outcome TEXT,
            ami_reason INTEGER,
            dial_status TEXT,
            hangup_cause INTEGER,
            digits TEXT NOT NULL DEFAULT '',
            answered_at TEXT,
            ended_at TEXT,
            language TEXT,
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX attempts_by_campaign ON attempts (campaign_id, contact_id);
        CREATE INDEX attempts_by_number ON attempts (number_hash, decided_at);

        -- C19: hash-chained (HMAC) audit log
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            prev TEXT NOT NULL,
            mac TEXT NOT NULL
        );
        CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (C19)'); END;
        """,
    ),
    (
        2,
        """
        -- recordings catalog (issue: recordings and messages)
        CREATE TABLE recordings (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            language TEXT NOT NULL,
            version INTEGER NOT NULL,
            duration REAL NOT NULL,
            sha256 TEXT NOT NULL,
            source_name TEXT NOT NULL,
            sound_stem TEXT NOT NULL,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL,
            removed_at TEXT,
            UNIQUE (name, language, version)
        );
        -- the last call that relied on a consent keeps its evidence for 5 years (C4)
        CREATE INDEX attempts_by_time ON attempts (decided_at);
        """,
    ),
    (
        3,
        """
        -- the gate's look-up before every attempt (C2) reads only from indices:
        -- covering indices save one table B-tree descent per row (bench/gate_store.py)
        CREATE INDEX consents_gate ON consents (number_hash, obtained_at, scope, written);
        DROP INDEX consents_by_number;
        CREATE INDEX attempts_gate ON attempts (number_hash, decided_at, allowed, purpose,
            with_consent);
        DROP INDEX attempts_by_number;
        """,
    ),
    (
        4,
        """
        -- web console accounts (issue: web admin UI): argon2 hashes only, never a password
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            disabled_at TEXT,
            last_login_at TEXT
        );
        -- server-side sessions: the cookie holds a random token, the table only its
        -- SHA-256, so a copy of the database opens no session
        CREATE TABLE web_sessions (
            token_sha256 TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id),
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
        -- one row per submitted form: a double-submitted form is recognised (and
        -- refused) instead of creating the campaign or revoking twice
        CREATE TABLE web_form_submissions (
            nonce TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL,
            submitted_at TEXT NOT NULL,
            result_url TEXT NOT NULL DEFAULT ''
        ) WITHOUT ROWID;
        """,
    ),
    (
        5,
        """
        -- contract 2: each campaign's lifecycle state (dialer.model.lifecycle);
        -- start_at: when a scheduled campaign starts (UTC)
        ALTER TABLE campaigns ADD COLUMN state TEXT NOT NULL DEFAULT 'draft';
        ALTER TABLE campaigns ADD COLUMN start_at TEXT;
        ALTER TABLE campaigns ADD COLUMN state_at TEXT;
        ALTER TABLE campaigns ADD COLUMN state_by TEXT;
        ALTER TABLE campaigns ADD COLUMN state_reason TEXT;
        CREATE INDEX campaigns_by_state ON campaigns (state, start_at);
        -- every transition: who, why, when (also in the audit chain, C19)
        CREATE TABLE campaign_transitions (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            command TEXT NOT NULL,
            start_at TEXT,
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX campaign_transitions_by_campaign ON campaign_transitions (campaign_id, id);
        CREATE TRIGGER campaign_transitions_append_only BEFORE UPDATE ON campaign_transitions
            BEGIN SELECT RAISE(ABORT, 'campaign transitions are append-only (C19)'); END;
        """,
    ),
    (
        6,
        """
        -- issue 14: what the contact list held when the campaign was created, as a
        -- keyed fingerprint (no personal data): the preflight warns when it changed
        CREATE TABLE campaign_list_fingerprints (
            campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id),
            fingerprint TEXT NOT NULL,
            contacts INTEGER NOT NULL
        );
        -- issue 14: second-person approval; the audit log has the same fact (C19)
        CREATE TABLE campaign_approvals (
            campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id),
            approved_by TEXT NOT NULL,
            approved_at TEXT NOT NULL
        );
        CREATE TRIGGER campaign_approvals_append_only BEFORE UPDATE ON campaign_approvals
            BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
        """,
    ),
    (
        7,
        """
        -- C19: every consent, revocation, suppression, DNC, override and caller-ID row
        -- carries its keyed MAC (dialer.store.rows); filled in by integrity.adopt in
        -- this same transaction, with the key
        ALTER TABLE consents ADD COLUMN mac TEXT;
        -- the gate checks a consent's own MAC over what it decides on, read from the
        -- covering index (no table look-up before every attempt, bench/gate_store.py)
        ALTER TABLE consents ADD COLUMN gate_mac TEXT;
        DROP INDEX consents_gate;
        CREATE INDEX consents_gate ON consents (number_hash, obtained_at, scope, written,
            recorded_at, id, gate_mac);
        ALTER TABLE revocations ADD COLUMN mac TEXT;
        ALTER TABLE suppressions ADD COLUMN mac TEXT;
        ALTER TABLE dnc_company ADD COLUMN mac TEXT;
        ALTER TABLE campaign_overrides ADD COLUMN mac TEXT;
        ALTER TABLE caller_ids ADD COLUMN mac TEXT;
        -- C20: the facts the gate decided on, kept with the attempt and MAC'd
        -- (dialer.store.gate_record), so no call becomes unverifiable later
        ALTER TABLE attempts ADD COLUMN gate_facts TEXT;
        ALTER TABLE attempts ADD COLUMN gate_mac TEXT;
        """,
    ),
    (
        8,
        """
        -- issue 8 item 7: the caller-ID attestation a hotline revocation came with
        -- (Asterisk's STIR_SHAKEN verification: "A-verified", "B-verified",
        -- "failed:<reason>" ... or "none"); NULL for the other channels. The row
        -- MAC covers it (dialer.store.rows: every non-NULL column).
        ALTER TABLE revocations ADD COLUMN attestation TEXT;
        """,
    ),
    (
        9,
        """
        -- API tokens for the JSON API (issue 9 item 6): 'dialer users token NAME' shows a
        -- token once; only its SHA-256 is kept, so a copy of the database opens nothing
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            token_sha256 TEXT NOT NULL UNIQUE,
            user_id INTEGER NOT NULL REFERENCES users (id),
            label TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
        """,
    ),
    (
        10,
        """
        -- issue 14: the only numbers a test call or a "call me to record" may ring
        CREATE TABLE staff_phones (
            number_hash TEXT PRIMARY KEY,
            number_sealed BLOB NOT NULL,
            label TEXT NOT NULL,
            added_at TEXT NOT NULL,
            added_by TEXT NOT NULL
        );
        -- issue 14: the call-in recording line's PIN of a console account, as a keyed
        -- hash (unique: the line finds the account from the digits alone)
        CREATE TABLE phone_pins (
            user_id INTEGER PRIMARY KEY REFERENCES users (id),
            pin_index TEXT NOT NULL UNIQUE,
            set_at TEXT NOT NULL,
            set_by TEXT NOT NULL
        );
        """,
    ),
    (
        11,
        """
        -- issue 13: how far each call got, for recovery after a crash. Written by
        -- group commit as the call passes each point (dialer/campaign/progress.py)
        ALTER TABLE attempts ADD COLUMN originated_at TEXT;
        ALTER TABLE attempts ADD COLUMN segment_reached INTEGER;
        ALTER TABLE attempts ADD COLUMN completed_at TEXT;
        -- calls cut short by the engine (crash, shutdown, Asterisk lost) are dialled
        -- again this many times (campaign run --retry-interrupted)
        ALTER TABLE campaigns ADD COLUMN retry_interrupted INTEGER NOT NULL DEFAULT 1;
        """,
    ),
    (
        12,
        """
        -- issue 11: a list's contents are immutable versions. An import writes its
        -- version in small committed chunks while it is 'loading' (invisible), then
        -- publishes it in one short transaction; a campaign pins the version it calls.
        CREATE TABLE list_versions (
            id INTEGER PRIMARY KEY,
            list_id INTEGER NOT NULL REFERENCES contact_lists (id),
            state TEXT NOT NULL,
            source_name TEXT NOT NULL,
            contacts INTEGER NOT NULL DEFAULT 0,
            languages TEXT NOT NULL DEFAULT '{}',
            samples TEXT NOT NULL DEFAULT '{}',
            loader_pid INTEGER,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            published_at TEXT,
            fingerprint TEXT
        );
        CREATE INDEX list_versions_by_list ON list_versions (list_id, state);
        ALTER TABLE contact_lists ADD COLUMN version_id INTEGER REFERENCES list_versions (id);
        ALTER TABLE campaigns ADD COLUMN version_id INTEGER REFERENCES list_versions (id);
        INSERT INTO list_versions (id, list_id, state, source_name, contacts, created_at,
            created_by, published_at)
            SELECT l.id, l.id, 'published', 'before list versions',
                (SELECT COUNT(*) FROM contacts c WHERE c.list_id = l.id),
                l.created_at, 'migration', l.created_at
            FROM contact_lists l;
        UPDATE contact_lists SET version_id = id;
        UPDATE campaigns SET version_id = list_id;

        -- contacts: id = (version << 32) + row number for imported rows, so file
        -- order is dialling order and the id is known before the row is written;
        -- zones: phonenumbers' time zones of the number, resolved once at import
        -- (C12; '' on rows loaded before this migration: resolved when dialled).
        -- No index on number_hash here: kept in file order it would be updated at
        -- random on every chunk; contact_numbers is filled in hash order instead.
        -- A row is one way to reach a person about a student (issue 12): external_id
        -- is the student (or the contact of a plain list), guardian_id who answers
        -- (SIS id, '' for plain lists), phone_kind the SIS label (home, mobile,
        -- work), phone_rank that guardian's order of phones (1 = primary), purposes
        -- the purposes the number may be called for ('' = all, e.g. 'emergency').
        CREATE TABLE contacts_v2 (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES list_versions (id),
            external_id TEXT NOT NULL,
            number_hash TEXT NOT NULL,
            number_sealed BLOB NOT NULL,
            zones TEXT NOT NULL,
            language TEXT NOT NULL,
            fields_sealed BLOB,
            needs_review INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            guardian_id TEXT NOT NULL DEFAULT '',
            phone_kind TEXT NOT NULL DEFAULT '',
            phone_rank INTEGER NOT NULL DEFAULT 1,
            purposes TEXT NOT NULL DEFAULT ''
        );
        INSERT INTO contacts_v2 (id, version_id, external_id, number_hash, number_sealed,
            zones, language, fields_sealed, needs_review, created_at)
            SELECT id, list_id, external_id, number_hash, number_sealed, '', language,
                fields_sealed, needs_review, created_at
            FROM contacts;
        DROP TABLE contacts;
        ALTER TABLE contacts_v2 RENAME TO contacts;
        CREATE INDEX contacts_by_version ON contacts (version_id, id);
        -- which contacts have a number (C16 review, C17 erasure, C20 look-ups)
        CREATE TABLE contact_numbers (
            number_hash TEXT NOT NULL,
            contact_id INTEGER NOT NULL,
            PRIMARY KEY (number_hash, contact_id)
        ) WITHOUT ROWID;
        INSERT INTO contact_numbers (number_hash, contact_id)
            SELECT number_hash, id FROM contacts;

        -- issue 11: a consent export is staged in short chunks under its batch id
        -- while 'loading' (the gate does not see those rows), then published in
        -- one short transaction: all rows or none (C3) without a long write lock
        CREATE TABLE consent_batches (
            batch_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            source_name TEXT NOT NULL,
            rows INTEGER NOT NULL DEFAULT 0,
            loader_pid INTEGER,
            started_at TEXT NOT NULL,
            published_at TEXT,
            recorded_by TEXT NOT NULL
        ) WITHOUT ROWID;
        -- issue 12: column mappings staff save for their SIS's flat export
        CREATE TABLE sis_mappings (
            name TEXT PRIMARY KEY,
            mapping TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        ) WITHOUT ROWID;
        -- status, progress and reports of a campaign read each contact's latest
        -- attempt from this index alone (issue 11: no scan of a million attempts)
        DROP INDEX attempts_by_campaign;
        CREATE INDEX attempts_by_campaign ON attempts (campaign_id, contact_id, decided_at,
            outcome, allowed);
        -- the gate's consent look-up stays index-only with the batch it needs
        DROP INDEX consents_gate;
        CREATE INDEX consents_gate ON consents (number_hash, obtained_at, scope, written,
            recorded_at, id, gate_mac, batch_id);
        """,
    ),
    (
        13,
        """
        -- issue 12 item 2: which of a guardian's phones a campaign calls
        -- (primary, all, until-reached)
        ALTER TABLE campaigns ADD COLUMN phones TEXT NOT NULL DEFAULT 'primary';
        -- contacts of a campaign without a call of their own, and why: covered by
        -- the household's call to the same number (lead_id), not the primary phone,
        -- kept for other purposes, reached on another phone. Ids only: nothing personal
        CREATE TABLE campaign_households (
            campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
            contact_id INTEGER NOT NULL,
            lead_id INTEGER,
            why TEXT NOT NULL,
            PRIMARY KEY (campaign_id, contact_id)
        ) WITHOUT ROWID;
        CREATE INDEX campaign_households_by_lead ON campaign_households (campaign_id, lead_id);
        """,
    ),
)

#: the migration that introduced row MACs: ``integrity.adopt`` runs inside it
SEALED_ROWS_VERSION = 7

LATEST_VERSION = MIGRATIONS[-1][0]
