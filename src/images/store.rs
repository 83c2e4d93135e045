//! SQL for the `images` table.

use crate::db::{Conn, Row};
use rusqlite::{OptionalExtension, params};

use crate::changes::{Memo, Read};
use crate::db;

use rusqlite::types::Value;

use super::snapshot::{Narrowing, Snapshot, Snapshots};
use crate::domain::{GroupId, ImageId, ImageRef, RegistryHost, SecretId, UserId};
use crate::groups::store::GroupTag;
use crate::list_cache::{ListCache, Miss};
use crate::listing::{Listing, Page};
use std::borrow::Cow;
use std::sync::Arc;

db::text_enum! {
    /// CPU, GPU or Universal.
    pub enum ImageType {
        /// Runs on CPU nodes.
        Cpu = "cpu" ("CPU"),
        /// Runs on GPU nodes.
        Gpu = "gpu" ("GPU"),
        /// Runs on both, optionally with a GPU-specific image.
        Both = "both" ("Universal"),
    }
}

/// The Image Pull secret an image is pulled with, as pages name it.
#[derive(Clone, Debug)]
pub struct PullSecretRef {
    /// The secret's name.
    pub name: String,
    /// Its Display Name, or the name.
    pub label: String,
    /// Its registry.
    pub registry_host: String,
}

/// An image with its pull secret's name, label and registry.
#[derive(Clone, Debug)]
pub struct Image {
    pub id: ImageId,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub image_type: ImageType,
    pub url: String,
    pub url_for_gpu: Option<String>,
    /// The Image Pull Secret, if the image needs one.
    pub pull_secret: Option<PullSecretRef>,
    pub version: i64,
    pub updated_at: i64,
    /// For everyone; otherwise for the members of `groups`.
    pub global: bool,
    /// The groups it is for (empty when global).
    pub groups: Vec<GroupTag>,
}

impl Image {
    /// New images are for everyone until an administrator says otherwise
    /// (the page's form and the API's create both start here).
    pub const NEW_IS_GLOBAL: bool = true;

    /// Whether it names the groups it is for: a global image is for
    /// everyone and names none, whatever links it has.
    pub fn names_groups(&self) -> bool {
        !self.global
    }

    /// Whether a viewer in the groups `mine` may see it, its own groups
    /// being `groups`: global, or for one of theirs.
    pub fn visible_to(&self, groups: &[GroupId], mine: &[GroupId]) -> bool {
        self.global || groups.iter().any(|g| mine.contains(g))
    }
}

impl db::Named for Image {
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

impl Image {
    /// A Pod that runs the image with its pull secret, to paste into a
    /// manifest (the GPU image on GPU nodes is for the platform to pick).
    pub fn pod_spec(&self) -> String {
        let mut y = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\nspec:\n  containers:\n  - name: main\n    image: {}\n",
            self.name, self.url
        );
        if let Some(secret) = &self.pull_secret {
            y.push_str(&format!("  imagePullSecrets:\n  - name: {}\n", secret.name));
        }
        y
    }

    /// A warning when the pull secret is for another registry than the
    /// image's (kubelet would not use it).
    pub fn registry_warning(&self) -> Option<String> {
        let s = self.pull_secret.as_ref()?;
        registry_mismatch(
            &s.registry_host,
            &s.label,
            &self.url,
            self.url_for_gpu.as_deref(),
        )
    }
}

/// The warning shown when a secret's registry is not the images'.
pub fn registry_mismatch(
    host: &str,
    secret_label: &str,
    url: &str,
    gpu: Option<&str>,
) -> Option<String> {
    let secret_domain = RegistryHost::parse(host).ok()?.domain().to_owned();
    let off: Vec<String> = std::iter::once(url)
        .chain(gpu)
        .filter_map(|u| ImageRef::parse(u).ok())
        .filter(|r| r.domain() != secret_domain)
        .map(|r| r.domain().to_owned())
        .collect();
    (!off.is_empty()).then(|| {
        format!(
            "Secret {secret_label} is for {secret_domain}, but the image is on {}: it will not be used to pull it.",
            off.join(" and ")
        )
    })
}

pub(super) const COLUMNS: &str = r#"
    i.id, i.name, i.display_name, i.description, i.image_type, i.url, i.url_for_gpu,
    s.name, COALESCE(NULLIF(s.display_name, ''), s.name), s.registry_host, i.version, i.updated_at,
    i.global"#;
pub(super) const FROM: &str = "FROM images i LEFT JOIN secrets s ON s.id = i.pull_secret_id";

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<Image> {
    let secret: Option<String> = r.get(7)?;
    Ok(Image {
        id: r.get(0)?,
        name: r.get(1)?,
        display_name: r.get(2)?,
        description: r.get(3)?,
        image_type: r.get(4)?,
        url: r.get(5)?,
        url_for_gpu: r.get(6)?,
        pull_secret: match secret {
            Some(name) => Some(PullSecretRef {
                name,
                label: r.get(8)?,
                registry_host: r.get::<usize, Option<String>>(9)?.unwrap_or_default(),
            }),
            None => None,
        },
        version: r.get(10)?,
        updated_at: r.get(11)?,
        global: r.get(12)?,
        groups: Vec::new(),
    })
}

/// Fills in the groups of these images: one query for them all.
fn attach_groups(conn: &Conn<'_>, images: &mut [Image]) -> rusqlite::Result<()> {
    let ids: Vec<Value> = images
        .iter()
        .filter(|i| i.names_groups())
        .map(|i| Value::Integer(i.id.0))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows = conn.query_map(
        "SELECT ig.image_id, g.name, COALESCE(NULLIF(g.display_name, ''), g.name)
         FROM image_groups ig JOIN groups g ON g.id = ig.group_id
         WHERE ig.image_id IN rarray(?1) ORDER BY g.name",
        [crate::db::List::from(ids)],
        |r| {
            Ok((
                r.get::<usize, ImageId>(0)?,
                GroupTag {
                    name: r.get(1)?,
                    label: r.get(2)?,
                },
            ))
        },
    )?;
    for row in rows {
        let (id, tag) = row?;
        if let Some(image) = images.iter_mut().find(|i| i.id == id) {
            image.groups.push(tag);
        }
    }
    Ok(())
}

db::text_enum! {
    /// What the images list sorts by, the default first.
    pub enum ImageSort {
        Name = "name" ("Name"),
        DisplayName = "display_name" ("Display Name"),
        Type = "type" ("Type"),
        Updated = "updated" ("Updated"),
    }
}

db::text_enum! {
    /// What the catalogue sorts by: by what people read first.
    pub enum CatalogueSort {
        DisplayName = "display_name" ("Display Name"),
        Name = "name" ("Name"),
        Type = "type" ("Type"),
        Updated = "updated" ("Updated"),
    }
}

/// The catalogue as one viewer sees it: a page of what they may use, each
/// image naming only the viewer's own groups (administrators: every image
/// and group), and the viewer's groups to filter by.
pub struct Catalogue {
    /// The page (empty when `no_group`), as indexes into `view`.
    pub page: Page<usize>,
    /// What the page's indexes are of, as the viewer sees it.
    pub view: View,
    /// The viewer's groups.
    pub groups: Vec<GroupTag>,
    /// `?group=` named no group of the viewer's.
    pub no_group: Option<NoSuchGroup>,
}

/// The images snapshot a page was cut from, as one viewer sees it.
pub struct View {
    snapshot: Arc<Snapshot>,
    /// The viewer's group ids; `None` for an administrator.
    mine: Option<Vec<GroupId>>,
}

impl View {
    /// A page's images as the viewer sees them.
    pub fn images(&self, page: Page<usize>) -> Page<Image> {
        let mine = self.mine.as_deref();
        let rows = page
            .rows
            .iter()
            .filter_map(|&at| self.snapshot.shown(at, mine).map(Cow::into_owned))
            .collect();
        Page {
            rows,
            total: page.total,
            listing: page.listing,
        }
    }

    /// The catalogue card of the image at `at` (see [`Snapshot::card`]).
    pub fn card<E>(
        &self,
        at: usize,
        render: impl Fn(&Image) -> Result<String, E>,
    ) -> Result<Cow<'_, str>, E> {
        self.snapshot.card(at, self.mine.as_deref(), render)
    }

    /// The catalogue API's item of the image at `at` (see [`Snapshot::item`]).
    pub fn item<E>(
        &self,
        at: usize,
        render: impl Fn(&Image, bool) -> Result<String, E>,
    ) -> Result<Cow<'_, str>, E> {
        self.snapshot.item(at, self.mine.as_deref(), render)
    }

    /// The admin list's row of the image at `at` (see [`Snapshot::row`]).
    pub fn row<E>(
        &self,
        at: usize,
        render: impl Fn(&Image) -> Result<String, E>,
    ) -> Result<Cow<'_, str>, E> {
        self.snapshot.row(at, render)
    }
}

/// `?group=` named no group of the viewer's. A group that exists but is
/// not theirs gets the same answer as one that does not exist, so that
/// nobody learns of others' groups.
#[derive(Debug, thiserror::Error)]
pub enum NoSuchGroup {
    /// For a member: none of theirs has the name.
    #[error("You are in no group named {0}.")]
    NotYours(String),
    /// For an administrator: no group has the name.
    #[error("There is no group named {0}.")]
    Missing(String),
}

/// The catalogue page for `viewer`, narrowed to `group` when given (one
/// of the viewer's groups; any group for an administrator), as `read`
/// finds it. The viewer's groups are read on every trip, so a membership
/// given or taken shows at once.
pub fn catalogue(
    read: Read<'_>,
    lists: &ImagesList,
    listing: &Listing,
    viewer: UserId,
    admin: bool,
    group: &Option<String>,
) -> Result<Catalogue, Miss> {
    let memberships = lists.memberships.read(viewer, read, |conn| {
        Ok::<_, Miss>(Arc::from(
            crate::groups::store::memberships(conn, viewer)?.as_slice(),
        ))
    })?;
    let snapshot = lists.snapshots.read(read)?;
    let hits = lists.hits(read, listing)?;
    Ok(assemble(
        snapshot,
        &memberships,
        hits,
        listing.clone(),
        admin,
        group.clone(),
    ))
}

/// The catalogue from what was read (or kept).
fn assemble(
    snapshot: Arc<Snapshot>,
    memberships: &[(GroupId, GroupTag)],
    hits: Option<Vec<i64>>,
    listing: Listing,
    admin: bool,
    group: Option<String>,
) -> Catalogue {
    let (ids, mine): (Vec<GroupId>, Vec<GroupTag>) = memberships.iter().cloned().unzip();
    let no_group = match &group {
        Some(g) if admin => snapshot
            .group(g)
            .is_none()
            .then(|| NoSuchGroup::Missing(g.clone())),
        Some(g) => (!mine.iter().any(|t| t.name == *g)).then(|| NoSuchGroup::NotYours(g.clone())),
        None => None,
    };
    let viewer_groups = (!admin).then_some(ids);
    if no_group.is_some() {
        return Catalogue {
            page: Page {
                rows: Vec::new(),
                total: 0,
                listing,
            },
            view: View {
                snapshot,
                mine: viewer_groups,
            },
            groups: mine,
            no_group,
        };
    }
    let (page, view) = cut(snapshot, hits, listing, group, viewer_groups);
    Catalogue {
        page,
        view,
        groups: mine,
        no_group: None,
    }
}

/// What the images lists keep between requests: the search index (the
/// same as the secrets list's), the snapshot of every image, and each
/// viewer's groups as of a commit stamp.
pub struct ImagesList {
    search: ListCache,
    snapshots: Snapshots,
    memberships: Memo<UserId, Arc<[(GroupId, GroupTag)]>>,
}

impl Default for ImagesList {
    fn default() -> Self {
        Self {
            search: ListCache::new("images"),
            snapshots: Snapshots::default(),
            memberships: Memo::new(4096),
        }
    }
}

impl ImagesList {
    /// The ids a search finds, as `read` finds the index.
    fn hits(&self, read: Read<'_>, listing: &Listing) -> Result<Option<Vec<i64>>, Miss> {
        match listing.q.as_str() {
            "" => Ok(None),
            q => {
                let view = self.search.at(read)?;
                let ids = view.search(q)?;
                view.confirm();
                Ok(Some(ids))
            }
        }
    }
}

/// One page of the admin list of images, cut from the snapshot as `read`
/// finds it.
pub fn list(
    read: Read<'_>,
    lists: &ImagesList,
    listing: &Listing,
) -> Result<(Page<usize>, View), Miss> {
    let snapshot = lists.snapshots.read(read)?;
    let hits = lists.hits(read, listing)?;
    Ok(cut(snapshot, hits, listing.clone(), None, None))
}

/// One page of the images a viewer may see (`viewer_groups`: the group
/// ids of one who is not an administrator), in `group` if given, among
/// `hits` if searched, cut from the snapshot.
fn cut(
    snapshot: Arc<Snapshot>,
    hits: Option<Vec<i64>>,
    listing: Listing,
    group: Option<String>,
    viewer_groups: Option<Vec<GroupId>>,
) -> (Page<usize>, View) {
    // A group that does not exist narrows to nothing.
    let group = group.map(|name| snapshot.group(&name).unwrap_or(GroupId(0)));
    let sort = listing.sort_key::<ImageSort>().unwrap_or(ImageSort::Name);
    let window = (
        usize::try_from(listing.offset()).unwrap_or(0),
        usize::try_from(listing.per_page).unwrap_or(0),
    );
    let narrowing = Narrowing {
        group,
        hits: hits.as_deref(),
    };
    let (rows, total) = snapshot.page(
        sort,
        listing.desc,
        window,
        viewer_groups.as_deref(),
        narrowing,
    );
    (
        Page {
            rows,
            total,
            listing,
        },
        View {
            snapshot,
            mine: viewer_groups,
        },
    )
}

/// The image with that name.
pub fn find(conn: &Conn<'_>, name: &str) -> rusqlite::Result<Option<Image>> {
    let image = conn
        .query_row(
            &format!("SELECT {COLUMNS} {FROM} WHERE i.name = ?1"),
            [name],
            from_row,
        )
        .optional()?;
    let mut found: Vec<Image> = image.into_iter().collect();
    attach_groups(conn, &mut found)?;
    Ok(found.pop())
}

/// The fields a create or update writes.
#[derive(Debug)]
pub struct Write<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub image_type: ImageType,
    pub url: &'a str,
    pub url_for_gpu: Option<&'a str>,
    pub pull_secret_id: Option<SecretId>,
    /// For everyone.
    pub global: bool,
    /// The groups it is for (ignored when global).
    pub groups: &'a [GroupId],
}

/// Links the image to exactly these groups (none when global).
fn set_groups(conn: &Conn<'_>, image: ImageId, w: &Write<'_>) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM image_groups WHERE image_id = ?1", [image])?;
    if w.global {
        return Ok(());
    }
    for g in w.groups {
        conn.execute(
            "INSERT INTO image_groups (image_id, group_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![image, g],
        )?;
    }
    Ok(())
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The name is taken.
    #[error("An image named {0} already exists.")]
    Duplicate(String),
    /// Someone else saved first.
    #[error("This image was changed by someone else since you opened it.")]
    Stale,
    /// The chosen secret was deleted between the form's check and the write.
    #[error("That Image Pull Secret was just deleted; choose another.")]
    SecretGone,
    /// A chosen group was deleted between the form's check and the write.
    #[error("A group you chose was just deleted; choose again.")]
    GroupGone,
    /// No such image.
    #[error("There is no image named {0}.")]
    Missing(String),
    /// Anything else.
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

fn write_error(e: rusqlite::Error, name: &str) -> WriteError {
    if db::is_unique_violation(&e) {
        WriteError::Duplicate(name.to_owned())
    } else if db::is_foreign_key_violation(&e) {
        WriteError::SecretGone
    } else {
        WriteError::Db(e)
    }
}

fn group_error(e: rusqlite::Error) -> WriteError {
    if db::is_foreign_key_violation(&e) {
        WriteError::GroupGone
    } else {
        WriteError::Db(e)
    }
}

/// Inserts a new image.
pub fn insert(conn: &Conn<'_>, w: &Write<'_>) -> Result<ImageId, WriteError> {
    let id = conn
        .query_row(
            r#"INSERT INTO images (name, display_name, description, image_type, url, url_for_gpu,
                              pull_secret_id, global, created_at, updated_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?8, ?8) RETURNING id"#,
            params![
                w.name,
                w.display_name,
                w.description,
                w.image_type.as_str(),
                w.url,
                w.url_for_gpu,
                w.pull_secret_id,
                db::now(),
                w.global
            ],
            |r| r.get(0),
        )
        .map_err(|e| write_error(e, w.name))?;
    let id = ImageId(id);
    set_groups(conn, id, w).map_err(group_error)?;
    Ok(id)
}

/// Updates an image if it is still at `version`.
pub fn update(conn: &Conn<'_>, w: &Write<'_>, version: i64) -> Result<(), WriteError> {
    let n = conn
        .query_row(
            r#"UPDATE images SET display_name = ?2, description = ?3, image_type = ?4, url = ?5,
                 url_for_gpu = ?6, pull_secret_id = ?7, global = ?10, version = version + 1,
                 updated_at = ?8
               WHERE name = ?1 AND version = ?9 RETURNING id"#,
            params![
                w.name,
                w.display_name,
                w.description,
                w.image_type.as_str(),
                w.url,
                w.url_for_gpu,
                w.pull_secret_id,
                db::now(),
                version,
                w.global
            ],
            |r| r.get::<usize, ImageId>(0),
        )
        .optional()
        .map_err(|e| write_error(e, w.name))?;
    if let Some(id) = n {
        set_groups(conn, id, w).map_err(group_error)?;
        return Ok(());
    }
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM images WHERE name = ?1)",
        [w.name],
        |r| r.get(0),
    )?;
    Err(if exists {
        WriteError::Stale
    } else {
        WriteError::Missing(w.name.to_owned())
    })
}

/// Deletes an image; false when there was none.
pub fn delete(conn: &Conn<'_>, name: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM images WHERE name = ?1", [name])? == 1)
}
