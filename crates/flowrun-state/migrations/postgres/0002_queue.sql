-- The run queue of `flowrun serve` (docs/state.md, "Queue"). The same columns as SQLite's.
-- dedupe_key: a delivery's or a schedule tick's identity; one run per (flow, key), across
-- every worker (the unique index decides a race).
-- enqueued: the run came through the queue: a serve worker takes it over when its lease
-- expires (requeue_expired), instead of marking it abandoned.
-- available_at: a queued run handed back with a delay is claimable from then on (NULL: now).
ALTER TABLE runs ADD COLUMN dedupe_key text;
ALTER TABLE runs ADD COLUMN enqueued boolean NOT NULL DEFAULT false;
ALTER TABLE runs ADD COLUMN available_at timestamptz;
CREATE UNIQUE INDEX runs_dedupe ON runs (flow_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- claim_run: the oldest queued runs first, taken with FOR UPDATE SKIP LOCKED (0001 made it).

-- What connector triggers keep per flow: a callback URL's token, a polling cursor.
CREATE TABLE trigger_state (
    flow_id    text NOT NULL,
    key        text NOT NULL,
    value_json bytea NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (flow_id, key)
);
