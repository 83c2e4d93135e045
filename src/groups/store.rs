//! SQL for groups and their members.

use crate::db::Conn;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};

use crate::db;
use crate::domain::{GroupId, UserId};
use crate::listing::{Listing, Page};

/// A group as the list and its page show it.
#[derive(Clone, Debug)]
pub struct Group {
    /// Row id.
    pub id: GroupId,
    /// DNS-1123 label.
    pub name: String,
    /// Display Name, possibly empty.
    pub display_name: String,
    /// What it is for.
    pub description: String,
    /// Bumped by every change.
    pub version: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
    /// How many users are in it.
    pub members: i64,
    /// How many images are for it.
    pub images: i64,
}

impl db::Named for Group {
    fn name(&self) -> &str {
        &self.name
    }
    fn display_name(&self) -> &str {
        &self.display_name
    }
    fn updated_at(&self) -> i64 {
        self.updated_at
    }
}

const COLUMNS: &str = "g.id, g.name, g.display_name, g.description, g.version, g.updated_at,
    (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id),
    (SELECT COUNT(*) FROM image_groups ig WHERE ig.group_id = g.id)";

fn from_row(r: &crate::db::Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: r.get(0)?,
        name: r.get(1)?,
        display_name: r.get(2)?,
        description: r.get(3)?,
        version: r.get(4)?,
        updated_at: r.get(5)?,
        members: r.get(6)?,
        images: r.get(7)?,
    })
}

/// A group as other pages name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTag {
    /// Its name.
    pub name: String,
    /// Its Display Name, or the name.
    pub label: String,
}

db::text_enum! {
    /// What the groups list sorts by, the default first.
    pub enum GroupSort {
        Name = "name" ("Name"),
        DisplayName = "display_name" ("Display Name"),
        Members = "members" ("Members"),
        Images = "images" ("Images"),
    }
}

/// One page of the list, filtered on name and display name.
pub fn list(conn: &Conn<'_>, listing: Listing) -> rusqlite::Result<Page<Group>> {
    let order = match listing.sort_key::<GroupSort>() {
        Some(GroupSort::DisplayName) => "COALESCE(NULLIF(g.display_name, ''), g.name)",
        Some(GroupSort::Members) => "7",
        Some(GroupSort::Images) => "8",
        Some(GroupSort::Name) | None => "g.name",
    };
    let dir = listing.sql_dir();
    let filter = r#"(?1 = '' OR g.name LIKE ?2 ESCAPE '\' OR g.display_name LIKE ?2 ESCAPE '\')"#;
    let pattern = db::like_pattern(&listing.q);
    let total = conn.query_row(
        &format!("SELECT COUNT(*) FROM groups g WHERE {filter}"),
        params![listing.q, pattern],
        |r| r.get(0),
    )?;
    let rows = conn
        .query_map(
            &format!(
                "SELECT {COLUMNS} FROM groups g WHERE {filter}
             ORDER BY {order} {dir}, g.name {dir} LIMIT ?3 OFFSET ?4"
            ),
            params![listing.q, pattern, listing.per_page, listing.offset()],
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Page {
        rows,
        total,
        listing,
    })
}

/// The group with that name.
pub fn find(conn: &Conn<'_>, name: &str) -> rusqlite::Result<Option<Group>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM groups g WHERE g.name = ?1"),
        [name],
        from_row,
    )
    .optional()
}

/// A group's members' usernames, in order.
pub fn members(conn: &Conn<'_>, id: GroupId) -> rusqlite::Result<Vec<String>> {
    conn.query_map(
        "SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = ?1 ORDER BY u.username",
        [id],
        |r| r.get(0),
    )?
    .collect()
}

/// The members of each of these groups, in one query.
pub fn members_of(
    conn: &Conn<'_>,
    ids: &[GroupId],
) -> rusqlite::Result<std::collections::HashMap<GroupId, Vec<String>>> {
    let ids: Vec<Value> = ids.iter().map(|g| Value::Integer(g.0)).collect();
    let mut out: std::collections::HashMap<GroupId, Vec<String>> = Default::default();
    for row in conn.query_map(
        "SELECT m.group_id, u.username FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id IN rarray(?1) ORDER BY u.username",
        [crate::db::List::from(ids)],
        |r| Ok((r.get::<usize, GroupId>(0)?, r.get(1)?)),
    )? {
        let (g, u) = row?;
        out.entry(g).or_default().push(u);
    }
    Ok(out)
}

/// The images for a group (name, label), which lose it if it goes.
pub fn images_of(conn: &Conn<'_>, id: GroupId) -> rusqlite::Result<Vec<GroupTag>> {
    conn.query_map(
        "SELECT i.name, COALESCE(NULLIF(i.display_name, ''), i.name)
         FROM image_groups ig JOIN images i ON i.id = ig.image_id
         WHERE ig.group_id = ?1 ORDER BY i.name",
        [id],
        |r| {
            Ok(GroupTag {
                name: r.get(0)?,
                label: r.get(1)?,
            })
        },
    )?
    .collect()
}

/// Every username, for the members' checkboxes.
pub fn usernames(conn: &Conn<'_>) -> rusqlite::Result<Vec<String>> {
    conn.query_map("SELECT username FROM users ORDER BY username", (), |r| {
        r.get(0)
    })?
    .collect()
}

/// A group the image form offers.
#[derive(Clone, Debug)]
pub struct GroupChoice {
    /// Row id.
    pub id: GroupId,
    /// Its name (the checkbox's value).
    pub name: String,
    /// Its Display Name, or the name.
    pub label: String,
}

/// Every group, for the image form's checkboxes.
pub fn choices(conn: &Conn<'_>) -> rusqlite::Result<Vec<GroupChoice>> {
    conn.query_map(
        "SELECT id, name, COALESCE(NULLIF(display_name, ''), name) FROM groups ORDER BY name",
        (),
        |r| {
            Ok(GroupChoice {
                id: r.get(0)?,
                name: r.get(1)?,
                label: r.get(2)?,
            })
        },
    )?
    .collect()
}

/// The groups a user is in, with their ids.
pub fn memberships(conn: &Conn<'_>, user: UserId) -> rusqlite::Result<Vec<(GroupId, GroupTag)>> {
    conn.query_map(
        "SELECT g.id, g.name, COALESCE(NULLIF(g.display_name, ''), g.name)
         FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = ?1 ORDER BY g.name",
        [user],
        |r| {
            Ok((
                r.get(0)?,
                GroupTag {
                    name: r.get(1)?,
                    label: r.get(2)?,
                },
            ))
        },
    )?
    .collect()
}

/// The groups a user is in.
pub fn of_user(conn: &Conn<'_>, user: UserId) -> rusqlite::Result<Vec<GroupTag>> {
    conn.query_map(
        "SELECT g.name, COALESCE(NULLIF(g.display_name, ''), g.name)
         FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = ?1 ORDER BY g.name",
        [user],
        |r| {
            Ok(GroupTag {
                name: r.get(0)?,
                label: r.get(1)?,
            })
        },
    )?
    .collect()
}

/// The fields a create or update writes.
pub struct Write<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    /// Usernames; those that name no user are left out (the form offers
    /// only users that exist).
    pub members: &'a [String],
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The name is taken.
    #[error("A group named {0} already exists.")]
    Duplicate(String),
    /// Someone else saved first.
    #[error("This group was changed by someone else since you opened it.")]
    Stale,
    /// No such group.
    #[error("There is no group named {0}.")]
    Missing(String),
    /// Anything else.
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

/// Puts exactly these users in the group (one statement each way). A
/// membership that stays keeps where it came from (single sign-on's are
/// still removed by a later sign-in without the group).
fn set_members(conn: &Conn<'_>, id: GroupId, members: &[String]) -> rusqlite::Result<()> {
    let names = crate::db::List::texts(members.iter().cloned());
    conn.execute(
        "DELETE FROM group_members WHERE group_id = ?1
           AND user_id NOT IN (SELECT u.id FROM users u WHERE u.username IN rarray(?2))",
        (id, &names),
    )?;
    conn.execute(
        "INSERT INTO group_members (group_id, user_id)
         SELECT ?1, u.id FROM users u WHERE u.username IN rarray(?2)
         ON CONFLICT DO NOTHING",
        (id, &names),
    )?;
    Ok(())
}

/// Inserts a group and its members.
pub fn insert(conn: &Conn<'_>, w: &Write<'_>) -> Result<GroupId, WriteError> {
    let now = db::now();
    let id: GroupId = conn
        .query_row(
            "INSERT INTO groups (name, display_name, description, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
            params![w.name, w.display_name, w.description, now],
            |r| r.get(0),
        )
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                WriteError::Duplicate(w.name.to_owned())
            } else {
                WriteError::Db(e)
            }
        })?;
    set_members(conn, id, w.members)?;
    Ok(id)
}

/// Updates a group opened at `version`, and sets its members.
pub fn update(conn: &Conn<'_>, w: &Write<'_>, version: i64) -> Result<(), WriteError> {
    let id: Option<GroupId> = conn
        .query_row(
            "UPDATE groups SET display_name = ?2, description = ?3, version = version + 1,
                 updated_at = ?4
             WHERE name = ?1 AND version = ?5 RETURNING id",
            params![w.name, w.display_name, w.description, db::now(), version],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else {
        return Err(match find(conn, w.name)? {
            Some(_) => WriteError::Stale,
            None => WriteError::Missing(w.name.to_owned()),
        });
    };
    set_members(conn, id, w.members)?;
    Ok(())
}

/// Deletes a group (its memberships and image links go with it); returns
/// whether there was one.
pub fn delete(conn: &Conn<'_>, name: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM groups WHERE name = ?1", [name])? == 1)
}
