//! The audit trail: who did what to which object, from where. Entries never
//! hold a password, key or token: callers pass names, not values.

use rusqlite::{Connection, params};

use crate::db::{self, Pool};
use crate::error::AppError;

/// Appends one entry.
pub fn record(
    conn: &Connection,
    actor: &str,
    action: &str,
    target: &str,
    source: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, target, source) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![db::now(), actor, action, target, source])?;
    Ok(())
}

/// Who acts, and from where: the fixed part of an audit entry.
pub struct Actor {
    /// The signed-in user's name.
    pub name: String,
    /// The client's address.
    pub source: String,
}

/// Runs `change` in a write transaction; if it returns `Ok(Ok(_))`, records
/// `action` on `target` in the same transaction and commits, so a change
/// and its audit entry are never apart. `Ok(Err(_))` is a refusal and
/// writes nothing.
pub async fn audited<T, E, F>(
    pool: &Pool,
    actor: Actor,
    action: &'static str,
    target: String,
    change: F,
) -> Result<Result<T, E>, AppError>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&Connection) -> Result<Result<T, E>, AppError> + Send + 'static,
{
    db::run(pool, move |c| {
        let tx = db::write_tx(c)?;
        let r = change(&tx)?;
        if r.is_ok() {
            record(&tx, &actor.name, action, &target, &actor.source)?;
            tx.commit()?;
        }
        Ok(r)
    })
    .await
}

/// One audit entry as the log page shows it.
#[derive(Debug)]
pub struct Entry {
    /// When (Unix seconds).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what (`secret/name`, `image/name`, `user/name`).
    pub target: String,
    /// From which address.
    pub source: String,
}

impl Entry {
    /// The Time column.
    pub fn time(&self) -> String {
        db::format_time_exact(self.at)
    }
}

/// Entries on one page.
pub const PER_PAGE: i64 = 50;

/// Newest first; `actor` matches exactly, `target` as a prefix (so
/// `secret/` is every secret). One more row than a page is read to know
/// whether there is a next page without counting the whole log.
pub fn list(
    conn: &Connection,
    actor: &str,
    target: &str,
    page: i64,
) -> rusqlite::Result<(Vec<Entry>, bool)> {
    let mut rows: Vec<Entry> = conn
        .prepare_cached(
            r#"SELECT at, actor, action, target, source FROM audit_log
               WHERE (?1 = '' OR actor = ?1) AND (?2 = '' OR substr(target, 1, length(?2)) = ?2)
               ORDER BY id DESC LIMIT ?3 OFFSET ?4"#,
        )?
        .query_map(
            params![actor, target, PER_PAGE + 1, (page - 1) * PER_PAGE],
            |r| {
                Ok(Entry {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    target: r.get(3)?,
                    source: r.get(4)?,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    let more = rows.len() as i64 > PER_PAGE;
    rows.truncate(PER_PAGE as usize);
    Ok((rows, more))
}

pub mod routes {
    //! `GET /admin/audit`

    use crate::listing::{QueryPairs, parse_page};
    use actix_web::{Responder, web};
    use askama::Template;
    use askama_web::WebTemplate;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

    use super::Entry;
    use crate::auth::{AdminCtx, Ctx};
    use crate::db;
    use crate::error::AppError;
    use crate::state::AppState;

    #[derive(Template, WebTemplate)]
    #[template(path = "audit.html")]
    struct AuditPage {
        ctx: Ctx,
        actor: String,
        target: String,
        page: i64,
        entries: Vec<Entry>,
        more: bool,
    }

    impl AuditPage {
        fn href(&self, page: i64) -> String {
            let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
            format!(
                "/admin/audit?actor={}&target={}&page={page}",
                enc(&self.actor),
                enc(&self.target)
            )
        }
        fn prev_href(&self) -> Option<String> {
            (self.page > 1).then(|| self.href(self.page - 1))
        }
        fn next_href(&self) -> Option<String> {
            self.more.then(|| self.href(self.page + 1))
        }
    }

    /// `GET /admin/audit`
    pub async fn list(
        ctx: AdminCtx,
        state: web::Data<AppState>,
        query: QueryPairs,
    ) -> Result<impl Responder, AppError> {
        let page = parse_page(query.get("page"));
        let actor = query.get("actor").trim().to_owned();
        let target = query.get("target").trim().to_owned();
        let (a, t) = (actor.clone(), target.clone());
        let (entries, more) =
            db::run(&state.pool, move |c| Ok(super::list(c, &a, &t, page)?)).await?;
        Ok(AuditPage {
            ctx: ctx.0,
            actor,
            target,
            page,
            entries,
            more,
        })
    }
}
