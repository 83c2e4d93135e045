-- wharf schema, version 1. Timestamps are Unix seconds (UTC).

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    is_admin        INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    -- Bumped to end every session of the user at once (sign-out, password
    -- change, disabling): sessions carry the version they were made with.
    session_version INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_login_at   INTEGER
) STRICT;

CREATE TABLE secrets (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    display_name      TEXT    NOT NULL DEFAULT '',
    kind              TEXT    NOT NULL CHECK (kind IN ('image_pull', 'git_sync')),
    registry_host     TEXT,
    registry_username TEXT,
    -- nonce || XChaCha20-Poly1305 ciphertext of the password or SSH key,
    -- with the secret's name as associated data. Never plain text.
    sealed            BLOB    NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_test_at      INTEGER,
    last_test_ok      INTEGER,
    last_test_message TEXT,
    CHECK ((kind = 'image_pull') = (registry_host IS NOT NULL AND registry_username IS NOT NULL))
) STRICT;
CREATE INDEX secrets_by_label ON secrets (COALESCE(NULLIF(display_name, ''), name));
CREATE INDEX secrets_by_kind ON secrets (kind, name);
CREATE INDEX secrets_by_updated ON secrets (updated_at, name);

CREATE TABLE images (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    display_name   TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    image_type     TEXT    NOT NULL CHECK (image_type IN ('cpu', 'gpu', 'both')),
    url            TEXT    NOT NULL,
    url_for_gpu    TEXT,
    -- A secret in use cannot be deleted: the schema refuses it too.
    pull_secret_id INTEGER REFERENCES secrets (id) ON DELETE RESTRICT,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK (url_for_gpu IS NULL OR image_type = 'both')
) STRICT;
CREATE INDEX images_by_secret ON images (pull_secret_id);
CREATE INDEX images_by_label ON images (COALESCE(NULLIF(display_name, ''), name));
CREATE INDEX images_by_type ON images (image_type, name);
CREATE INDEX images_by_updated ON images (updated_at, name);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL DEFAULT '',
    source TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_by_actor ON audit_log (actor, id);
CREATE INDEX audit_by_target ON audit_log (target, id);

-- Failed sign-ins in the throttling window; old rows are pruned on insert.
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    username TEXT    NOT NULL,
    source   TEXT    NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_by_user ON login_failures (username, at);
CREATE INDEX login_failures_by_source ON login_failures (source, at);
CREATE INDEX login_failures_by_at ON login_failures (at);
