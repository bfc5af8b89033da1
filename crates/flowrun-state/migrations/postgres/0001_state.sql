-- The flowrun state store, version 1 (Postgres). See docs/state.md.
-- The same tables and columns as the SQLite schema. Times are `timestamptz` (microseconds,
-- UTC); the store's own times (created, started, ended, leases, commits) come from the
-- server's clock (`now()`), so workers on several hosts measure leases by one clock.
-- Payload columns (`*_json`) are `bytea` holding exactly what the store encodes: UTF-8 JSON
-- text, or a zstd frame of JSON text when it was larger than the store's compression limit
-- (it starts with the zstd magic bytes 28 B5 2F FD, which JSON text never does).

-- One row per run of a flow.
CREATE TABLE runs (
    id               text PRIMARY KEY,            -- UUID v7
    flow_id          text NOT NULL,
    flow_version     text NOT NULL,               -- hash of the flow file's bytes
    trigger_json     bytea,
    inputs_json      bytea,
    status           text NOT NULL CHECK (status IN
                         ('queued', 'running', 'success', 'failed', 'partial', 'cancelled', 'abandoned')),
    error_json       bytea,
    output_json      bytea,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    ended_at         timestamptz,
    lease_owner      text,
    lease_expires_at timestamptz
);
CREATE INDEX runs_by_flow ON runs (flow_id, created_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);
-- mark_abandoned: running runs by lease expiry.
CREATE INDEX runs_by_lease ON runs (lease_expires_at) WHERE status = 'running';
-- The queue of `flowrun serve` (not built yet): the oldest queued runs first, claimed with
-- `FOR UPDATE SKIP LOCKED`.
CREATE INDEX runs_queued ON runs (created_at, id) WHERE status = 'queued';

-- One row per step of a run (item_index = -1) or per item of a for_each step (item_index >= 0).
-- The id orders rows by their first recording; an upsert keeps it.
CREATE TABLE step_executions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id         text NOT NULL,
    item_index      bigint NOT NULL,
    item_key        text,
    status          text NOT NULL CHECK (status IN
                        ('running', 'success', 'failed', 'skipped', 'ignored', 'resumed', 'broken', 'cancelled')),
    attempts        bigint NOT NULL,
    parameters_json bytea,                        -- rendered parameters, secrets already redacted
    output_json     bytea,
    error_json      bytea,
    started_at      timestamptz,
    ended_at        timestamptz,
    duration_us     bigint,
    UNIQUE (run_id, step_id, item_index)
);

-- The last committed cursor of each incremental step.
CREATE TABLE cursors (
    flow_id      text NOT NULL,
    step_id      text NOT NULL,
    value_json   bytea NOT NULL,
    run_id       text NOT NULL,                   -- the run whose end committed it
    committed_at timestamptz NOT NULL,
    PRIMARY KEY (flow_id, step_id)
);

-- Failed steps or items stored by `on_error: break`, to replay with `runs retry`.
CREATE TABLE incomplete_executions (
    id          text PRIMARY KEY,                 -- UUID v7
    run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id     text NOT NULL,
    item_index  bigint NOT NULL,                  -- -1: the whole step
    item_key    text,
    inputs_json bytea NOT NULL,                   -- template inputs, never rendered strings
    error_json  bytea,
    status      text NOT NULL CHECK (status IN ('open', 'resolved')),
    failures    bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    resolved_at timestamptz
);
CREATE INDEX incomplete_by_run ON incomplete_executions (run_id, status);

-- OAuth2 token sets per connection key, in plain text: protect them with the database's
-- privileges (docs/state.md, "Postgres").
CREATE TABLE oauth_tokens (
    connection_key text PRIMARY KEY,
    access_token   text NOT NULL,
    refresh_token  text,
    token_type     text,
    expires_at     timestamptz,
    scopes         text[] NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- At most one live run per flow with incremental steps. The lock lives as long as its run's
-- lease (runs.lease_expires_at) while that run is `running`. Every transaction that takes or
-- drops one locks its row before any `runs` row (src/postgres/mod.rs, "Lock order").
CREATE TABLE flow_locks (
    flow_id     text PRIMARY KEY,
    run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    acquired_at timestamptz NOT NULL
);
CREATE INDEX flow_locks_by_run ON flow_locks (run_id);
