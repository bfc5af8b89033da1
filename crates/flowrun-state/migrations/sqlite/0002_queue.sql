-- The run queue of `flowrun serve` (docs/state.md, "Queue").
-- dedupe_key: a delivery's or a schedule tick's identity; one run per (flow, key).
-- enqueued: the run came through the queue: a serve worker takes it over when its lease
-- expires (requeue_expired), instead of marking it abandoned.
-- available_at: a queued run handed back with a delay is claimable from then on (NULL: now).
ALTER TABLE runs ADD COLUMN dedupe_key TEXT;
ALTER TABLE runs ADD COLUMN enqueued INTEGER NOT NULL DEFAULT 0 CHECK (enqueued IN (0, 1));
ALTER TABLE runs ADD COLUMN available_at INTEGER;
CREATE UNIQUE INDEX runs_dedupe ON runs (flow_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- claim_run: the oldest queued runs first.
CREATE INDEX runs_queued ON runs (created_at, id) WHERE status = 'queued';

-- What connector triggers keep per flow: a callback URL's token, a polling cursor.
CREATE TABLE trigger_state (
    flow_id    TEXT NOT NULL,
    key        TEXT NOT NULL,
    value_json ANY NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (flow_id, key)
) STRICT;
