-- wharf schema, version 2: trigram full-text indexes so that list searches
-- (substring of name or display name) use an index instead of a scan.

CREATE VIRTUAL TABLE secrets_search USING fts5(
    name, display_name, content = 'secrets', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER secrets_search_insert AFTER INSERT ON secrets BEGIN
    INSERT INTO secrets_search (rowid, name, display_name) VALUES (new.id, new.name, new.display_name);
END;
CREATE TRIGGER secrets_search_delete AFTER DELETE ON secrets BEGIN
    INSERT INTO secrets_search (secrets_search, rowid, name, display_name)
    VALUES ('delete', old.id, old.name, old.display_name);
END;
CREATE TRIGGER secrets_search_update AFTER UPDATE OF name, display_name ON secrets BEGIN
    INSERT INTO secrets_search (secrets_search, rowid, name, display_name)
    VALUES ('delete', old.id, old.name, old.display_name);
    INSERT INTO secrets_search (rowid, name, display_name) VALUES (new.id, new.name, new.display_name);
END;
INSERT INTO secrets_search (secrets_search) VALUES ('rebuild');

CREATE VIRTUAL TABLE images_search USING fts5(
    name, display_name, content = 'images', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER images_search_insert AFTER INSERT ON images BEGIN
    INSERT INTO images_search (rowid, name, display_name) VALUES (new.id, new.name, new.display_name);
END;
CREATE TRIGGER images_search_delete AFTER DELETE ON images BEGIN
    INSERT INTO images_search (images_search, rowid, name, display_name)
    VALUES ('delete', old.id, old.name, old.display_name);
END;
CREATE TRIGGER images_search_update AFTER UPDATE OF name, display_name ON images BEGIN
    INSERT INTO images_search (images_search, rowid, name, display_name)
    VALUES ('delete', old.id, old.name, old.display_name);
    INSERT INTO images_search (rowid, name, display_name) VALUES (new.id, new.name, new.display_name);
END;
INSERT INTO images_search (images_search) VALUES ('rebuild');
