-- wharf schema, version 16: what clusters were given (and refused), counted
-- per hour and written once a minute, so that a crash loses at most a
-- minute of it. One row per cluster (or unknown token), secret and hour,
-- holding the running count and the audit entry that shows it; each write
-- adds to the count and rewrites that entry's words.

CREATE TABLE serving_hours (
    actor    TEXT NOT NULL,
    target   TEXT NOT NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ('served', 'refused')),
    hour     INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    audit_id INTEGER,
    PRIMARY KEY (actor, target, outcome, hour)
);
