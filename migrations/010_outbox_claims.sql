-- wharf schema, version 10: a delivery is claimed by one sender at a time,
-- named by a random token, for longer than a send may take; only the
-- sender that holds the claim records the outcome. (A sender that stalls
-- past its claim after sending could still see it sent again: delivery is
-- at least once, and twice only then.)

ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
-- The panel of undelivered notifications reads these, newest first.
CREATE INDEX notifications_undelivered ON notifications (id) WHERE delivered_at IS NULL;
-- Waiting notifications about failing logins carry a registry's words,
-- made before those were made inert for chat: the characters that chat
-- reads as mentions and links go (none of them is JSON syntax).
UPDATE notifications
   SET payload = replace(replace(replace(replace(replace(replace(payload, '<', ''), '>', ''), '&', ''), '|', ''), '[', ''), ']', '')
 WHERE delivered_at IS NULL AND event = 'login_failing';
