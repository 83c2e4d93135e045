-- Account ids are never reused (AUTOINCREMENT), so a cookie that names a
-- deleted account's id can never name a later account. New accounts also
-- start at a random session version (see users::store::create), which
-- covers ids handed out before this migration.

CREATE TABLE users_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    is_admin        INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    session_version INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_login_at   INTEGER
) STRICT;

INSERT INTO users_new (id, username, password_hash, is_admin, active, session_version,
                       version, created_at, updated_at, last_login_at)
SELECT id, username, password_hash, is_admin, active, session_version,
       version, created_at, updated_at, last_login_at
FROM users;

DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- Sealed values are checked at start-up against this row: a wrong or
-- missing master key stops the server instead of failing every download.
CREATE TABLE key_check (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB    NOT NULL
) STRICT;
