-- wharf schema, version 9: a change counter per table that lists cache.
-- Triggers count every row written, in the writer's own transaction, so a
-- reader that sees the same number sees the same rows, whichever process
-- wrote them (the server or `wharf` on the same file). The secrets list
-- keeps its sort orders and a substring index in memory, valid while the
-- number is unchanged; that index replaces the trigram table, whose
-- posting lists for common words ("team") made searches slow.

CREATE TABLE change_counters (
    tbl TEXT    PRIMARY KEY,
    n   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO change_counters (tbl, n) VALUES ('secrets', 0);

CREATE TRIGGER secrets_count_insert AFTER INSERT ON secrets BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'secrets';
END;
CREATE TRIGGER secrets_count_update AFTER UPDATE ON secrets BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'secrets';
END;
CREATE TRIGGER secrets_count_delete AFTER DELETE ON secrets BEGIN
    UPDATE change_counters SET n = n + 1 WHERE tbl = 'secrets';
END;

DROP TRIGGER secrets_search_insert;
DROP TRIGGER secrets_search_delete;
DROP TRIGGER secrets_search_update;
DROP TABLE secrets_search;
