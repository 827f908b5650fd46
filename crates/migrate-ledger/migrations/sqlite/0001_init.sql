-- bbb-migrate ledger, SQLite flavour. Keep in step with ../postgres/0001_init.sql: the Rust code
-- runs the same SQL on both. Timestamps are UTC RFC 3339 text with millisecond precision
-- ("2024-03-01T09:30:00.000Z"): fixed width, so text order is time order on both backends.

CREATE TABLE recordings (
    record_id     TEXT    NOT NULL PRIMARY KEY,
    meeting_id    TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    published     BOOLEAN NOT NULL,
    start_time    TEXT    NOT NULL,
    end_time      TEXT    NOT NULL,
    origin        TEXT,
    -- base URL of the old server the recording was last seen on
    server        TEXT    NOT NULL,
    -- the recording as the caller gave it (JSON text)
    snapshot      TEXT    NOT NULL,
    first_seen    TEXT    NOT NULL,
    last_seen     TEXT    NOT NULL,
    seen_count    INTEGER NOT NULL DEFAULT 1,
    -- value of seen_count when the snapshot last changed: lets one upsert report new/updated/unchanged
    changed_seen  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX recordings_start_time ON recordings (start_time);
CREATE INDEX recordings_meeting_id ON recordings (meeting_id);

-- No foreign key from actions.record_id to recordings: callers may plan actions for recordings
-- the ledger has not inventoried, and the ledger must not reject them.
CREATE TABLE actions (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "key"          TEXT    NOT NULL UNIQUE,
    kind           TEXT    NOT NULL,
    record_id      TEXT,
    target         TEXT    NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'done', 'failed', 'skipped')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_expires  TEXT,
    last_error     TEXT,
    output_path    TEXT,
    output_size    INTEGER,
    output_sha256  TEXT,
    details        TEXT    NOT NULL,
    output_details TEXT,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    finished_at    TEXT
);
CREATE INDEX actions_kind_status ON actions (kind, status);
CREATE INDEX actions_status ON actions (status);
CREATE INDEX actions_record_id ON actions (record_id);

CREATE TABLE runs (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    command     TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    host        TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    summary     TEXT
);
CREATE INDEX runs_started_at ON runs (started_at);
