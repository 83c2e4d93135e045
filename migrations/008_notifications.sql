-- Notifications about credentials, kept so that each event is sent once
-- per secret and state, across restarts: the key names the event and the
-- state it is about (`expiring:7:2026-12-31`, `login_failing:<time>`).
-- Deliveries are claimed before sending, so two processes never send the
-- same one; failures are retried with backoff.

CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_id    INTEGER REFERENCES secrets (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    claimed_until INTEGER,
    delivered_at INTEGER,
    failed_at    INTEGER,
    last_error   TEXT,
    UNIQUE (secret_id, key)
) STRICT;
CREATE INDEX notifications_due ON notifications (next_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- When a secret's login check last changed between working and failing.
ALTER TABLE secrets ADD COLUMN login_state_since INTEGER;
