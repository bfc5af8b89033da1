-- The flowrun state store, version 1 (SQLite). See docs/state.md.
-- Times are unix milliseconds (UTC). Payload columns (`*_json`) hold JSON text, or a BLOB of
-- zstd-compressed JSON text when it was larger than the store's compression limit.

-- One row per run of a flow.
CREATE TABLE runs (
    id               TEXT PRIMARY KEY NOT NULL,   -- UUID v7
    flow_id          TEXT NOT NULL,
    flow_version     TEXT NOT NULL,               -- hash of the flow file's bytes
    trigger_json     ANY,
    inputs_json      ANY,
    status           TEXT NOT NULL CHECK (status IN
                         ('queued', 'running', 'success', 'failed', 'partial', 'cancelled', 'abandoned')),
    error_json       ANY,
    output_json      ANY,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    ended_at         INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER
) STRICT;
CREATE INDEX runs_by_flow ON runs (flow_id, created_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);
CREATE INDEX runs_by_lease ON runs (lease_expires_at) WHERE status = 'running';

-- One row per step of a run (item_index = -1) or per item of a for_each step (item_index >= 0).
-- The id orders rows by their first recording; an upsert keeps it.
CREATE TABLE step_executions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id         TEXT NOT NULL,
    item_index      INTEGER NOT NULL,
    item_key        TEXT,
    status          TEXT NOT NULL CHECK (status IN
                        ('running', 'success', 'failed', 'skipped', 'ignored', 'resumed', 'broken', 'cancelled')),
    attempts        INTEGER NOT NULL,
    parameters_json ANY,                         -- rendered parameters, secrets already redacted
    output_json     ANY,
    error_json      ANY,
    started_at      INTEGER,
    ended_at        INTEGER,
    duration_us     INTEGER,
    UNIQUE (run_id, step_id, item_index)
) STRICT;

-- The last committed cursor of each incremental step.
CREATE TABLE cursors (
    flow_id      TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    value_json   ANY NOT NULL,
    run_id       TEXT NOT NULL,                   -- the run whose end committed it
    committed_at INTEGER NOT NULL,
    PRIMARY KEY (flow_id, step_id)
) STRICT;

-- Failed steps or items stored by `on_error: break`, to replay with `runs retry`.
CREATE TABLE incomplete_executions (
    id          TEXT PRIMARY KEY NOT NULL,        -- UUID v7
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    item_index  INTEGER NOT NULL,                 -- -1: the whole step
    item_key    TEXT,
    inputs_json ANY NOT NULL,                    -- template inputs, never rendered strings
    error_json  ANY,
    status      TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    failures    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER
) STRICT;
CREATE INDEX incomplete_by_run ON incomplete_executions (run_id, status);

-- OAuth2 token sets per connection key, in plain text: the file is mode 0600.
CREATE TABLE oauth_tokens (
    connection_key TEXT PRIMARY KEY NOT NULL,
    access_token   TEXT NOT NULL,
    refresh_token  TEXT,
    token_type     TEXT,
    expires_at     INTEGER,
    scopes_json    TEXT NOT NULL,                 -- JSON array of strings
    updated_at     INTEGER NOT NULL
) STRICT;

-- At most one live run per flow with incremental steps. The lock lives as long as its run's
-- lease (runs.lease_expires_at) while that run is `running`.
CREATE TABLE flow_locks (
    flow_id     TEXT PRIMARY KEY NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    acquired_at INTEGER NOT NULL
) STRICT;
