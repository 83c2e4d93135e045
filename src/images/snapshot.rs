//! Every image as the lists show it, held in memory: the rows with their
//! pull secret and groups, each image's group ids, every group's id by
//! name, and the rows in each sort order. The catalogue, the images list
//! and the API cut their pages from it, filtering by who looks (their
//! group ids, read per request) without a query per page.
//!
//! Exact, as the secrets list's cache is (`list_cache`): it is keyed by
//! the change counters of `images` and `image_links` (`image_groups`,
//! groups' names, and the pull secrets' names and registries, migration
//! 015), which triggers bump in every writer's own transaction. A reader
//! that sees the same numbers sees the same rows; a write to anything an
//! image shows is seen by the very next request, and nothing else (a
//! login check on a secret) costs a rebuild.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::db::Conn;

use super::store::{COLUMNS, FROM, Image, ImageSort, ImageType, from_row};
use crate::changes::{Derived, Miss, Read};
use crate::domain::GroupId;
use crate::groups::store::GroupTag;

/// The counters a snapshot was read at.
type Key = (i64, i64);

/// Every image, read at one [`Key`].
pub struct Snapshot {
    images: Vec<Image>,
    /// Per image (same index): the ids of its groups.
    group_ids: Vec<Vec<GroupId>>,
    /// Every group's id, by name.
    groups: HashMap<String, GroupId>,
    /// Indexes in ascending order per sort (descending is the reverse:
    /// every order ends with the unique name).
    orders: [Vec<u32>; 4],
    /// Per sort, each image's place in that order (the inverse of
    /// `orders`): a search's few hits are sorted by it, not found by a
    /// walk of every image.
    ranks: [Vec<u32>; 4],
    /// Each image's index, by id.
    index: HashMap<i64, usize>,
    /// Per image: the HTML pages made of it (its catalogue card with all
    /// its groups, its row in the admin list), made the first time a page
    /// shows it. Neither says anything of the day or the viewer.
    cards: Vec<OnceLock<String>>,
    rows: Vec<OnceLock<String>>,
    /// Per image: its item in the catalogue API, for a member who sees
    /// all of it (0) and for an administrator (1, naming its secret).
    items: [Vec<OnceLock<String>>; 2],
    /// What members see, per set of groups and sort: the indexes of the
    /// global images and those of the groups, in order. Most people look
    /// at page 1 of their own catalogue; that is then a slice.
    visible: Mutex<HashMap<VisibleKey, Arc<Vec<u32>>>>,
}

/// A member's groups (sorted) and a sort.
type VisibleKey = (Vec<GroupId>, usize);

/// The filters of a page besides who looks.
#[derive(Clone, Copy, Default)]
pub struct Narrowing<'a> {
    /// Only this group's images.
    pub group: Option<GroupId>,
    /// Only these image ids (a search's hits, each once).
    pub hits: Option<&'a [i64]>,
}

/// Sets of groups whose visible orders are kept at most; past that they
/// start over.
const MAX_VISIBLE: usize = 1024;

/// The images snapshot in force, kept as [`Derived`] values are.
#[derive(Default)]
pub struct Snapshots(Derived<Key, Snapshot>);

fn key(conn: &Conn<'_>) -> rusqlite::Result<Key> {
    conn.query_row(
        "SELECT (SELECT n FROM change_counters WHERE tbl = 'images'),
                (SELECT n FROM change_counters WHERE tbl = 'image_links')",
        (),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

impl Snapshots {
    /// The snapshot as `read` finds it: from memory if one was confirmed
    /// at its stamp; on a trip, the one held for the tables' counters or
    /// one read now (by one request while the others wait for it).
    pub fn read(&self, read: Read<'_>) -> Result<Arc<Snapshot>, Miss> {
        self.0.read(read, |conn| {
            debug_assert!(conn.in_transaction(), "a snapshot needs a transaction");
            let key = key(conn)?;
            Ok(self.0.at(key, || Snapshot::read(conn))?)
        })
    }
}

/// The display name, or the name (as `COALESCE(NULLIF(display_name, ''),
/// name)` in SQL; both compare bytes).
fn label(i: &Image) -> &str {
    if i.display_name.is_empty() {
        &i.name
    } else {
        &i.display_name
    }
}

fn type_rank(t: ImageType) -> u8 {
    // By what people read: CPU, GPU, Universal.
    match t {
        ImageType::Cpu => 0,
        ImageType::Gpu => 1,
        ImageType::Both => 2,
    }
}

/// The positions `offset..offset + limit` of a list of `len`, read from
/// the end when `desc`.
fn window(len: usize, desc: bool, offset: usize, limit: usize) -> impl Iterator<Item = usize> {
    let end = len.min(offset.saturating_add(limit));
    (offset.min(len)..end).map(move |i| if desc { len - 1 - i } else { i })
}

/// The text (HTML, JSON) kept in `slot`, made by `render` the first time.
fn kept<'a, E>(
    slot: &'a OnceLock<String>,
    image: &Image,
    render: impl Fn(&Image) -> Result<String, E>,
) -> Result<Cow<'a, str>, E> {
    if let Some(html) = slot.get() {
        return Ok(Cow::Borrowed(html));
    }
    let html = render(image)?;
    Ok(match slot.set(html) {
        Ok(()) => slot
            .get()
            .map_or(Cow::Borrowed(""), |h| Cow::Borrowed(h.as_str())),
        Err(html) => Cow::Owned(html),
    })
}

impl Snapshot {
    fn read(conn: &Conn<'_>) -> rusqlite::Result<Self> {
        let mut images: Vec<Image> = conn
            .query_map(
                &format!("SELECT {COLUMNS} {FROM} ORDER BY i.id"),
                (),
                from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        let index: HashMap<i64, usize> = images
            .iter()
            .enumerate()
            .map(|(at, i)| (i.id.0, at))
            .collect();
        let mut group_ids = vec![Vec::new(); images.len()];
        let links = conn.query_map(
            "SELECT ig.image_id, g.id, g.name, COALESCE(NULLIF(g.display_name, ''), g.name)
             FROM image_groups ig JOIN groups g ON g.id = ig.group_id ORDER BY g.name",
            (),
            |r| {
                Ok((
                    r.get::<usize, i64>(0)?,
                    r.get(1)?,
                    GroupTag {
                        name: r.get(2)?,
                        label: r.get(3)?,
                    },
                ))
            },
        )?;
        for link in links {
            let (image, group, tag) = link?;
            let Some(&at) = index.get(&image).filter(|&&at| images[at].names_groups()) else {
                continue;
            };
            group_ids[at].push(group);
            images[at].groups.push(tag);
        }
        let groups = conn
            .query_map("SELECT name, id FROM groups", (), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let ascending = |cmp: &dyn Fn(&Image, &Image) -> std::cmp::Ordering| {
            let mut order: Vec<u32> = (0..images.len() as u32).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (&images[a as usize], &images[b as usize]);
                cmp(a, b).then_with(|| a.name.cmp(&b.name))
            });
            order
        };
        let orders = [
            ascending(&|_, _| std::cmp::Ordering::Equal),
            ascending(&|a, b| label(a).cmp(label(b))),
            ascending(&|a, b| type_rank(a.image_type).cmp(&type_rank(b.image_type))),
            ascending(&|a, b| a.updated_at.cmp(&b.updated_at)),
        ];
        let ranks = orders.each_ref().map(|order| {
            let mut rank = vec![0u32; order.len()];
            for (place, &at) in (0u32..).zip(order) {
                rank[at as usize] = place;
            }
            rank
        });
        Ok(Self {
            ranks,
            index,
            visible: Mutex::new(HashMap::new()),
            cards: (0..images.len()).map(|_| OnceLock::new()).collect(),
            rows: (0..images.len()).map(|_| OnceLock::new()).collect(),
            items: [(); 2].map(|()| (0..images.len()).map(|_| OnceLock::new()).collect()),
            images,
            group_ids,
            groups,
            orders,
        })
    }

    /// The id of the group named `name`, if there is one.
    pub fn group(&self, name: &str) -> Option<GroupId> {
        self.groups.get(name).copied()
    }

    /// Whether the image at `at` is global or for one of `mine`.
    fn visible(&self, at: usize, mine: &[GroupId]) -> bool {
        self.images[at].visible_to(&self.group_ids[at], mine)
    }

    /// One page of what a viewer in `mine` (`None`: an administrator) may
    /// see, narrowed by `narrowing`: the images' indexes in `sort` order
    /// (descending when `desc`), skipping `offset` and taking `limit`;
    /// with the count of all.
    pub fn page(
        &self,
        sort: ImageSort,
        desc: bool,
        (offset, limit): (usize, usize),
        mine: Option<&[GroupId]>,
        narrowing: Narrowing<'_>,
    ) -> (Vec<usize>, i64) {
        let sort = match sort {
            ImageSort::Name => 0,
            ImageSort::DisplayName => 1,
            ImageSort::Type => 2,
            ImageSort::Updated => 3,
        };
        let total = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        if narrowing.group.is_none() && narrowing.hits.is_none() {
            // Everything the viewer may see: a slice of a kept order.
            let kept;
            let order: &[u32] = match mine {
                None => &self.orders[sort],
                Some(mine) => {
                    kept = self.visible_order(mine, sort);
                    &kept
                }
            };
            let rows = window(order.len(), desc, offset, limit)
                .map(|i| order[i] as usize)
                .collect();
            return (rows, total(order.len()));
        }
        let keep = |at: usize| {
            mine.is_none_or(|m| self.visible(at, m))
                && narrowing
                    .group
                    .is_none_or(|g| self.group_ids[at].contains(&g))
        };
        if let Some(hits) = narrowing.hits {
            // A search: its hits put in order, however many images there are.
            let rank = &self.ranks[sort];
            let mut found: Vec<usize> = hits
                .iter()
                .filter_map(|id| self.index.get(id).copied())
                .filter(|&at| keep(at))
                .collect();
            found.sort_unstable_by_key(|&at| rank[at]);
            if desc {
                found.reverse();
            }
            let n = found.len();
            let rows = found.into_iter().skip(offset).take(limit).collect();
            return (rows, total(n));
        }
        let order = &self.orders[sort];
        let mut n = 0usize;
        let mut rows = Vec::new();
        for i in window(order.len(), desc, 0, order.len()) {
            let at = order[i] as usize;
            if !keep(at) {
                continue;
            }
            if n >= offset && rows.len() < limit {
                rows.push(at);
            }
            n += 1;
        }
        (rows, total(n))
    }

    /// The indexes of what a member of `mine` may see, in sort `sort`:
    /// kept per set of groups.
    fn visible_order(&self, mine: &[GroupId], sort: usize) -> Arc<Vec<u32>> {
        let mut key_groups = mine.to_vec();
        key_groups.sort_unstable();
        let key = (key_groups, sort);
        let lock = || self.visible.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(order) = lock().get(&key) {
            return order.clone();
        }
        let order: Arc<Vec<u32>> = Arc::new(
            self.orders[sort]
                .iter()
                .copied()
                .filter(|&at| self.visible(at as usize, mine))
                .collect(),
        );
        let mut kept = lock();
        if kept.len() >= MAX_VISIBLE {
            kept.clear();
        }
        kept.insert(key, order.clone());
        order
    }

    /// The image at `at` as a viewer in `mine` sees it (`None`: an
    /// administrator): naming only the viewer's own groups, since others'
    /// are not theirs to see. Borrowed when that is all of them.
    pub fn shown(&self, at: usize, mine: Option<&[GroupId]>) -> Option<Cow<'_, Image>> {
        let image = self.images.get(at)?;
        let ids = &self.group_ids[at];
        let Some(mine) = mine.filter(|m| !ids.iter().all(|g| m.contains(g))) else {
            return Some(Cow::Borrowed(image));
        };
        let mut own = image.clone();
        own.groups = image
            .groups
            .iter()
            .zip(ids)
            .filter(|(_, g)| mine.contains(g))
            .map(|(t, _)| t.clone())
            .collect();
        Some(Cow::Owned(own))
    }

    /// The HTML `render` makes of the image at `at` as `mine` sees it: the
    /// card kept for it when that is the whole image, else made now.
    pub fn card<E>(
        &self,
        at: usize,
        mine: Option<&[GroupId]>,
        render: impl Fn(&Image) -> Result<String, E>,
    ) -> Result<Cow<'_, str>, E> {
        match self.shown(at, mine) {
            Some(Cow::Borrowed(image)) => kept(&self.cards[at], image, render),
            Some(Cow::Owned(image)) => render(&image).map(Cow::Owned),
            None => Ok(Cow::Borrowed("")),
        }
    }

    /// The catalogue API's item for the image at `at` as `mine` sees it
    /// (`None`: an administrator), as `render` makes it (given whether
    /// for an administrator): kept, unless a member sees only some of
    /// its groups.
    pub fn item<E>(
        &self,
        at: usize,
        mine: Option<&[GroupId]>,
        render: impl Fn(&Image, bool) -> Result<String, E>,
    ) -> Result<Cow<'_, str>, E> {
        let admin = mine.is_none();
        match self.shown(at, mine) {
            Some(Cow::Borrowed(image)) => kept(&self.items[usize::from(admin)][at], image, |i| {
                render(i, admin)
            }),
            Some(Cow::Owned(image)) => render(&image, admin).map(Cow::Owned),
            None => Ok(Cow::Borrowed("")),
        }
    }

    /// The admin list's row of the image at `at`, as `render` makes it:
    /// made once.
    pub fn row<E>(
        &self,
        at: usize,
        render: impl Fn(&Image) -> Result<String, E>,
    ) -> Result<Cow<'_, str>, E> {
        match self.images.get(at) {
            Some(image) => kept(&self.rows[at], image, render),
            None => Ok(Cow::Borrowed("")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// Images with display names that tie, are empty, differ only in case
    /// or are not ASCII; every sort and direction is what SQL's ORDER BY
    /// (the rule the lists had) gives, and the filters are what its WHERE
    /// gave.
    fn name(snapshot: &Snapshot, at: usize) -> String {
        snapshot.shown(at, None).unwrap().name.clone()
    }

    #[test]
    fn pages_cut_from_memory_are_what_sql_gave() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        let conn = crate::db::Conn::from(&conn);
        let names = [
            ("b", "Zeta", "cpu", 5, true),
            ("a", "", "gpu", 5, false),
            ("c", "zeta", "both", 1, false),
            ("d", "Ärger", "cpu", 9, false),
            ("e", "Zeta", "gpu", 3, true),
            ("f", "", "both", 7, false),
        ];
        for (name, display, kind, updated, global) in names {
            conn.execute(
                "INSERT INTO images (name, display_name, image_type, url, created_at, updated_at, global)
                 VALUES (?1, ?2, ?3, 'r.io/x', 1, ?4, ?5)",
                rusqlite::params![name, display, kind, updated, global],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO groups (id, name, created_at, updated_at) VALUES (1, 'vision', 1, 1), (2, 'nlp', 1, 1);
             INSERT INTO image_groups SELECT id, 1 FROM images WHERE name IN ('a', 'd');
             INSERT INTO image_groups SELECT id, 2 FROM images WHERE name IN ('c', 'd');",
        )
        .unwrap();
        let snapshots = Snapshots::default();
        let snapshot = crate::db::read_tx(&conn, |c| snapshots.read(Read::Db(c, None))).unwrap();
        let sql = |order: &str, filter: &str| -> Vec<String> {
            conn.sqlite()
                .unwrap()
                .prepare(&format!(
                    "SELECT i.name FROM images i WHERE {filter} ORDER BY {order}"
                ))
                .unwrap()
                .query_map((), |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let sorts = [
            (ImageSort::Name, "i.name"),
            (
                ImageSort::DisplayName,
                "COALESCE(NULLIF(i.display_name, ''), i.name)",
            ),
            (
                ImageSort::Type,
                "CASE i.image_type WHEN 'cpu' THEN 0 WHEN 'gpu' THEN 1 ELSE 2 END",
            ),
            (ImageSort::Updated, "i.updated_at"),
        ];
        let vision = [GroupId(1)];
        // A search's hits: every image but b, and an id no image has.
        let hits: Vec<i64> = conn
            .sqlite()
            .unwrap()
            .prepare("SELECT id FROM images WHERE name <> 'b' UNION ALL SELECT 999")
            .unwrap()
            .query_map((), |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let not_b = "i.name <> 'b'";
        type Case<'a> = (
            Option<&'a [GroupId]>,
            Option<GroupId>,
            Option<&'a [i64]>,
            String,
        );
        let in_vision =
            "(i.global = 1 OR i.id IN (SELECT image_id FROM image_groups WHERE group_id = 1))";
        let in_nlp = "i.id IN (SELECT image_id FROM image_groups WHERE group_id = 2)";
        let filters: [Case<'_>; 6] = [
            (None, None, None, "1".into()),
            (Some(&vision), None, None, in_vision.into()),
            (None, Some(GroupId(2)), None, in_nlp.into()),
            (None, None, Some(&hits), not_b.into()),
            (
                Some(&vision),
                None,
                Some(&hits),
                format!("{in_vision} AND {not_b}"),
            ),
            (
                Some(&vision),
                Some(GroupId(2)),
                Some(&hits),
                format!("{in_vision} AND {in_nlp} AND {not_b}"),
            ),
        ];
        for (sort, key) in sorts {
            for desc in [false, true] {
                let dir = if desc { "DESC" } else { "ASC" };
                for (mine, group, hits, filter) in &filters {
                    let (mine, group, hits) = (*mine, *group, *hits);
                    let narrowing = Narrowing { group, hits };
                    let (rows, total) = snapshot.page(sort, desc, (0, 100), mine, narrowing);
                    let got: Vec<String> = rows.iter().map(|&at| name(&snapshot, at)).collect();
                    let want = sql(&format!("{key} {dir}, i.name {dir}"), filter);
                    assert!(!want.is_empty(), "{filter}");
                    assert_eq!(got, want, "{key} {dir} where {filter}");
                    assert_eq!(total as usize, want.len());
                    // A window of the same.
                    let (rows, _) = snapshot.page(sort, desc, (1, 2), mine, narrowing);
                    let window: Vec<String> = rows.iter().map(|&at| name(&snapshot, at)).collect();
                    assert_eq!(
                        window,
                        want.iter().skip(1).take(2).cloned().collect::<Vec<_>>()
                    );
                }
            }
        }
        // Each image carries its groups, in name order; a member of vision
        // sees only vision on it.
        let (rows, _) = snapshot.page(ImageSort::Name, false, (0, 100), None, Narrowing::default());
        let d = *rows.iter().find(|&&at| name(&snapshot, at) == "d").unwrap();
        let tags = |mine: Option<&[GroupId]>| -> Vec<String> {
            let shown = snapshot.shown(d, mine).unwrap();
            shown.groups.iter().map(|g| g.name.clone()).collect()
        };
        assert_eq!(tags(None), ["nlp", "vision"]);
        assert_eq!(tags(Some(&vision)), ["vision"]);
        assert!(matches!(
            snapshot.shown(d, Some(&[GroupId(1), GroupId(2)])),
            Some(Cow::Borrowed(_))
        ));

        // A write anywhere the snapshot reads from gives the next reader a
        // new one.
        conn.execute_batch(
            "INSERT INTO secrets (id, name, kind, registry_host, registry_username, sealed, created_at, updated_at)
               VALUES (9, 'gitlab', 'image_pull', 'registry.gitlab.com', 'u', x'00', 1, 1);
             UPDATE images SET pull_secret_id = 9 WHERE name = 'a';",
        )
        .unwrap();
        for (write, shown) in [
            (
                "UPDATE images SET display_name = 'Aa' WHERE name = 'f'",
                true,
            ),
            ("DELETE FROM image_groups WHERE group_id = 2", true),
            ("UPDATE groups SET display_name = 'NLP' WHERE id = 2", true),
            (
                "UPDATE secrets SET display_name = 'GitLab' WHERE id = 9",
                true,
            ),
            (
                "UPDATE secrets SET registry_host = 'gitlab.example.com' WHERE id = 9",
                true,
            ),
            ("DELETE FROM groups WHERE id = 2", true),
            // What no image shows: the same snapshot.
            (
                "UPDATE secrets SET last_test_at = 5, registry_username = 'v' WHERE id = 9",
                false,
            ),
            (
                "UPDATE groups SET description = 'x', version = version + 1 WHERE id = 1",
                false,
            ),
        ] {
            let before = crate::db::read_tx(&conn, |c| snapshots.read(Read::Db(c, None))).unwrap();
            conn.execute_batch(write).unwrap();
            let after = crate::db::read_tx(&conn, |c| snapshots.read(Read::Db(c, None))).unwrap();
            assert_eq!(!Arc::ptr_eq(&before, &after), shown, "{write}");
        }
        // The secret's new name reaches the image.
        let snapshot = crate::db::read_tx(&conn, |c| snapshots.read(Read::Db(c, None))).unwrap();
        let (rows, _) = snapshot.page(ImageSort::Name, false, (0, 1), None, Narrowing::default());
        let a = snapshot.shown(rows[0], None).unwrap();
        let secret = a.pull_secret.as_ref().unwrap();
        assert_eq!(
            (secret.label.as_str(), secret.registry_host.as_str()),
            ("GitLab", "gitlab.example.com")
        );
        // A global image names no group, whatever links it has.
        conn.execute_batch("INSERT INTO image_groups SELECT id, 1 FROM images WHERE name = 'b'")
            .unwrap();
        let snapshot = crate::db::read_tx(&conn, |c| snapshots.read(Read::Db(c, None))).unwrap();
        let (rows, _) = snapshot.page(ImageSort::Name, false, (1, 1), None, Narrowing::default());
        assert_eq!(name(&snapshot, rows[0]), "b");
        assert!(snapshot.shown(rows[0], None).unwrap().groups.is_empty());
    }
}
