-- wharf schema, version 12: delivery to clusters (issue 20).
--
-- A secret marked `deliver` is served to clusters: to kubelet's credential
-- provider by the images its node patterns match, and to External Secrets
-- Operator by name. `node_patterns` keeps the patterns as the admin typed
-- them (one per line, blank: the registry's host); `delivered_patterns`
-- holds the patterns in force of every delivered secret, so that one
-- pattern belongs to one delivered secret at most.
ALTER TABLE secrets ADD COLUMN deliver INTEGER NOT NULL DEFAULT 0 CHECK (deliver IN (0, 1));
ALTER TABLE secrets ADD COLUMN node_patterns TEXT NOT NULL DEFAULT '';

CREATE TABLE delivered_patterns (
    pattern   TEXT    PRIMARY KEY,
    secret_id INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX delivered_patterns_by_secret ON delivered_patterns (secret_id);

-- A cluster fetches delivered credentials with its own token (SHA-256 at
-- rest, like an API token), which belongs to the cluster, not to a person.
CREATE TABLE clusters (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL UNIQUE,
    display_name     TEXT    NOT NULL DEFAULT '',
    token_hash       BLOB    NOT NULL UNIQUE,
    token_created_at INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    last_seen_at     INTEGER,
    last_seen_from   TEXT
) STRICT;

-- Requests per cluster and hour (Unix seconds / 3600), added up in memory
-- and written once a minute.
CREATE TABLE cluster_requests (
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,
    requests   INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, hour)
) STRICT, WITHOUT ROWID;
