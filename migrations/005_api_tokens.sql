-- Personal access tokens for the JSON API. Only the SHA-256 of a token is
-- kept; a token acts as its user, with the user's role at request time.

CREATE TABLE api_tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    scope          TEXT    NOT NULL CHECK (scope IN ('read', 'write')),
    hash           BLOB    NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    last_used_from TEXT,
    revoked_at     INTEGER
) STRICT;
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);
-- A name is taken while its token is live; a revoked (or, on the next
-- create, expired) token gives it back, so a token can be rotated under
-- the same name.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (user_id, name) WHERE revoked_at IS NULL;
