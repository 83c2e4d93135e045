-- wharf schema, version 10: a delivery is claimed by one sender at a time,
-- named by a random token, so that only the sender that holds the claim
-- records the outcome; a sender that lost its claim (it took longer than
-- the lease) records nothing, and nothing is sent twice.

ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
-- The panel of undelivered notifications reads these, newest first.
CREATE INDEX notifications_undelivered ON notifications (id) WHERE delivered_at IS NULL;
