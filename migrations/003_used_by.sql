-- wharf schema, version 3: each secret keeps the number of images that use
-- it, maintained by the database itself, so lists read it instead of
-- counting per row.

ALTER TABLE secrets ADD COLUMN used_by INTEGER NOT NULL DEFAULT 0;
UPDATE secrets SET used_by = (SELECT COUNT(*) FROM images i WHERE i.pull_secret_id = secrets.id);

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
