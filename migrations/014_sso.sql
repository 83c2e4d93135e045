-- Single sign-on. An account may be bound to one identity at the
-- platform's OpenID provider (issuer and subject), which identifies the
-- person from then on, whatever their username there becomes. Accounts made
-- by single sign-on have no password (password_hash '!', which no password
-- matches).
ALTER TABLE users ADD COLUMN oidc_issuer TEXT;
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_by_oidc_identity ON users (oidc_issuer, oidc_subject)
    WHERE oidc_issuer IS NOT NULL;
-- The last ID token the provider gave (sealed under the master key), sent
-- back as id_token_hint when the person signs out.
ALTER TABLE users ADD COLUMN oidc_id_token BLOB;

-- Memberships taken from the provider's groups claim: a later sign-in
-- without the group removes these, and never one an administrator made.
ALTER TABLE group_members ADD COLUMN from_sso INTEGER NOT NULL DEFAULT 0
    CHECK (from_sso IN (0, 1));

-- A single sign-on refused because its username belongs to an account with
-- a password: what an administrator may link to that account ("Link SSO
-- identity" on its page). One per account, the latest.
CREATE TABLE sso_link_offers (
    user_id          INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    issuer           TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    -- What the provider said of the person, for the administrator to judge.
    claimed_username TEXT    NOT NULL,
    email            TEXT    NOT NULL,
    seen_at          INTEGER NOT NULL
) STRICT;
