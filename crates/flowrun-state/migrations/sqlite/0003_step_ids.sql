-- step_executions without AUTOINCREMENT (docs/state.md, "Schema").
-- AUTOINCREMENT made every insert also update `sqlite_sequence`: one more page written to the
-- WAL per commit, about a third of a step record's cost. A plain INTEGER PRIMARY KEY still
-- gives each new row max(id) + 1, so ids keep ordering rows by their first recording (an
-- upsert keeps the id); ids of deleted rows above every remaining one may be used again,
-- which that order does not mind. SQLite cannot drop AUTOINCREMENT in place: the table is
-- rebuilt with its rows and ids.
CREATE TABLE step_executions_rebuilt (
    id              INTEGER PRIMARY KEY,
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
INSERT INTO step_executions_rebuilt (id, run_id, step_id, item_index, item_key, status, attempts,
    parameters_json, output_json, error_json, started_at, ended_at, duration_us)
SELECT id, run_id, step_id, item_index, item_key, status, attempts,
    parameters_json, output_json, error_json, started_at, ended_at, duration_us
FROM step_executions;
DROP TABLE step_executions;
ALTER TABLE step_executions_rebuilt RENAME TO step_executions;
