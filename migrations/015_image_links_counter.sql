-- wharf schema, version 15: a change counter for what an image shows of
-- other tables: the groups it is for and their names, and its pull
-- secret's name, display name and registry. With the images counter it
-- keys the images snapshot that the catalogue, the images list and the
-- API read from memory (exact, as the secrets list's cache: a reader that
-- sees the same numbers sees the same rows). Only the columns an image
-- shows count: a login check or a token mint on a secret, or a group's
-- description, leaves the snapshot as it is.

INSERT INTO change_counters (tbl, n) VALUES ('image_links', 0);

CREATE TRIGGER image_groups_count_insert AFTER INSERT ON image_groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
CREATE TRIGGER image_groups_count_update AFTER UPDATE ON image_groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
CREATE TRIGGER image_groups_count_delete AFTER DELETE ON image_groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
CREATE TRIGGER groups_count_rename AFTER UPDATE OF name, display_name ON groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
-- A secret in use cannot be deleted (RESTRICT), and a new one is nobody's
-- pull secret yet: only what an image shows of it counts.
CREATE TRIGGER secrets_links_count_update AFTER UPDATE OF name, display_name, registry_host ON secrets BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
