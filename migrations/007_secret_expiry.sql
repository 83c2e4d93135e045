-- When a credential stops working (a GitLab deploy token's expiry date, a
-- robot account's): a UTC date, or NULL for none.
ALTER TABLE secrets ADD COLUMN expires_on TEXT
    CHECK (expires_on IS NULL OR expires_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]');
CREATE INDEX secrets_by_expiry ON secrets (expires_on) WHERE expires_on IS NOT NULL;
-- The list's summary line counts these on every page: index lookups, not scans.
CREATE INDEX secrets_failing ON secrets (id) WHERE last_test_ok = 0;
