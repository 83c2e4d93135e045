-- wharf: rebuilds tables
-- wharf schema, version 13: Amazon ECR secrets (issue 21).
--
-- An `ecr` secret keeps an IAM access key (the ID as registry_username,
-- the secret key sealed) and mints 12-hour registry tokens with ECR's
-- GetAuthorizationToken. The current token is kept sealed beside it with
-- when it was minted and when it expires; changing the credentials
-- forgets it. SQLite cannot change a CHECK constraint in place, so the
-- table is rebuilt (the runner turns foreign keys off around this
-- migration and checks them before it commits).

DROP TRIGGER images_used_by_insert;
DROP TRIGGER images_used_by_delete;
DROP TRIGGER images_used_by_update;

CREATE TABLE secrets_new (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    display_name      TEXT    NOT NULL DEFAULT '',
    kind              TEXT    NOT NULL CHECK (kind IN ('image_pull', 'git_sync', 'ecr')),
    registry_host     TEXT,
    -- Image Pull: the registry username; ECR: the access key ID.
    registry_username TEXT,
    -- nonce || XChaCha20-Poly1305 ciphertext of the password, SSH key or
    -- AWS secret access key, with the secret's name as associated data.
    sealed            BLOB    NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_test_at      INTEGER,
    last_test_ok      INTEGER,
    last_test_message TEXT,
    used_by           INTEGER NOT NULL DEFAULT 0,
    expires_on        TEXT
        CHECK (expires_on IS NULL OR expires_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    login_state_since INTEGER,
    deliver           INTEGER NOT NULL DEFAULT 0 CHECK (deliver IN (0, 1)),
    node_patterns     TEXT    NOT NULL DEFAULT '',
    -- ECR only: the API endpoint, when not the region's own.
    ecr_endpoint      TEXT,
    -- ECR only: the current registry token, sealed (associated data
    -- `ecr-token/<name>`), and its life in Unix seconds.
    token_sealed      BLOB,
    token_minted_at   INTEGER,
    token_expires_at  INTEGER,
    CHECK ((kind IN ('image_pull', 'ecr')) = (registry_host IS NOT NULL AND registry_username IS NOT NULL)),
    CHECK (kind = 'ecr' OR (ecr_endpoint IS NULL AND token_sealed IS NULL)),
    CHECK ((token_sealed IS NULL) = (token_expires_at IS NULL) AND (token_sealed IS NULL) = (token_minted_at IS NULL))
) STRICT;

INSERT INTO secrets_new (id, name, display_name, kind, registry_host, registry_username, sealed,
                         version, created_at, updated_at, last_test_at, last_test_ok, last_test_message,
                         used_by, expires_on, login_state_since, deliver, node_patterns)
SELECT id, name, display_name, kind, registry_host, registry_username, sealed,
       version, created_at, updated_at, last_test_at, last_test_ok, last_test_message,
       used_by, expires_on, login_state_since, deliver, node_patterns
  FROM secrets;

DROP TABLE secrets;
ALTER TABLE secrets_new RENAME TO secrets;

CREATE INDEX secrets_by_label ON secrets (COALESCE(NULLIF(display_name, ''), name));
CREATE INDEX secrets_by_kind ON secrets (kind, name);
CREATE INDEX secrets_by_updated ON secrets (updated_at, name);
CREATE INDEX secrets_by_expiry ON secrets (expires_on) WHERE expires_on IS NOT NULL;
CREATE INDEX secrets_failing ON secrets (id) WHERE last_test_ok = 0;
-- The refresher's question: which delivered ECR secrets need a token.
CREATE INDEX secrets_ecr_delivered ON secrets (token_expires_at) WHERE kind = 'ecr' AND deliver = 1;

CREATE TRIGGER secrets_count_insert AFTER INSERT ON secrets BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'secrets';
END;
CREATE TRIGGER secrets_count_update AFTER UPDATE ON secrets BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'secrets';
END;
CREATE TRIGGER secrets_count_delete AFTER DELETE ON secrets BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'secrets';
END;

CREATE TRIGGER images_used_by_insert AFTER INSERT ON images WHEN new.pull_secret_id IS NOT NULL BEGIN
    UPDATE secrets SET used_by = used_by + 1 WHERE id = new.pull_secret_id;
END;
CREATE TRIGGER images_used_by_delete AFTER DELETE ON images WHEN old.pull_secret_id IS NOT NULL BEGIN
    UPDATE secrets SET used_by = used_by - 1 WHERE id = old.pull_secret_id;
END;
CREATE TRIGGER images_used_by_update AFTER UPDATE OF pull_secret_id ON images
    WHEN old.pull_secret_id IS NOT new.pull_secret_id BEGIN
    UPDATE secrets SET used_by = used_by - 1 WHERE id = old.pull_secret_id;
    UPDATE secrets SET used_by = used_by + 1 WHERE id = new.pull_secret_id;
END;
