-- wharf schema, version 2: trigram full-text indexes so that list searches
-- (a substring of the name or display name) use an index, not a scan. One
-- column holds both, newline-separated (a search never contains one): a
-- single trigram column is about twice as fast to query as two.

CREATE VIRTUAL TABLE secrets_search USING fts5(haystack, tokenize = 'trigram');
INSERT INTO secrets_search (rowid, haystack) SELECT id, name || char(10) || display_name FROM secrets;
CREATE TRIGGER secrets_search_insert AFTER INSERT ON secrets BEGIN
    INSERT INTO secrets_search (rowid, haystack) VALUES (new.id, new.name || char(10) || new.display_name);
END;
CREATE TRIGGER secrets_search_delete AFTER DELETE ON secrets BEGIN
    DELETE FROM secrets_search WHERE rowid = old.id;
END;
CREATE TRIGGER secrets_search_update AFTER UPDATE OF name, display_name ON secrets BEGIN
    UPDATE secrets_search SET haystack = new.name || char(10) || new.display_name WHERE rowid = new.id;
END;

CREATE VIRTUAL TABLE images_search USING fts5(haystack, tokenize = 'trigram');
INSERT INTO images_search (rowid, haystack) SELECT id, name || char(10) || display_name FROM images;
CREATE TRIGGER images_search_insert AFTER INSERT ON images BEGIN
    INSERT INTO images_search (rowid, haystack) VALUES (new.id, new.name || char(10) || new.display_name);
END;
CREATE TRIGGER images_search_delete AFTER DELETE ON images BEGIN
    DELETE FROM images_search WHERE rowid = old.id;
END;
CREATE TRIGGER images_search_update AFTER UPDATE OF name, display_name ON images BEGIN
    UPDATE images_search SET haystack = new.name || char(10) || new.display_name WHERE rowid = new.id;
END;
