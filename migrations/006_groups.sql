-- Groups decide who sees which image, as in PrimeHub: a global image is
-- for everyone; any other is for the members of its groups. The join
-- tables' foreign keys mean no membership or image-group link can point at
-- nothing: deleting a user, a group or an image takes its links with it.

CREATE TABLE groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL DEFAULT '',
    description  TEXT    NOT NULL DEFAULT '',
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_id, group_id);

CREATE TABLE image_groups (
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (image_id, group_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX image_groups_by_group ON image_groups (group_id, image_id);

-- Images that existed before groups are global.
ALTER TABLE images ADD COLUMN global INTEGER NOT NULL DEFAULT 1 CHECK (global IN (0, 1));
