-- wharf schema, version 11: images get a change counter like secrets
-- (migration 009), so the images list and the catalogue search through
-- the same in-memory substring index as the secrets list: one folding and
-- one matching rule for every search. Their FTS5 trigram table goes; it
-- matched three characters and more, and LIKE (ASCII case only) the rest.

INSERT INTO change_counters (tbl, n) VALUES ('images', 0);

CREATE TRIGGER images_count_insert AFTER INSERT ON images BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'images';
END;
CREATE TRIGGER images_count_update AFTER UPDATE ON images BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'images';
END;
CREATE TRIGGER images_count_delete AFTER DELETE ON images BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'images';
END;

DROP TRIGGER images_search_insert;
DROP TRIGGER images_search_delete;
DROP TRIGGER images_search_update;
DROP TABLE images_search;
