-- wharf schema, version 15: a change counter for what an image shows of
-- other tables besides its pull secret: the groups it is for, and their
-- names. With the images and secrets counters it keys the images
-- snapshot that the catalogue, the images list and the API read from
-- memory (exact, as the secrets list's cache: a reader that sees the same
-- three numbers sees the same rows).

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
CREATE TRIGGER groups_count_update AFTER UPDATE ON groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'image_links';
END;
