//! The Audit area: `GET /admin/audit`, the log of every sign-in, change,
//! export and login test, newest first.

use crate::listing::{QueryPairs, parse_page};
use actix_web::{Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::audit::{self, Entry};
use crate::auth::AdminCtx;
use crate::db;
use crate::error::AppError;
use crate::lifecycle::notify::{self, Undelivered};
use crate::state::AppState;
use crate::web::Ctx;

#[derive(Template, WebTemplate)]
#[template(path = "audit_log/list.html")]
struct AuditPage {
    ctx: Ctx,
    actor: String,
    target: String,
    page: i64,
    entries: Vec<Entry>,
    more: bool,
    /// Where notifications go, if anywhere.
    notify_url: Option<String>,
    /// Login checks: every how many seconds, if scheduled.
    check_every: Option<i64>,
    /// Notifications that failed and have not arrived.
    undelivered: Vec<Undelivered>,
}

impl AuditPage {
    /// The check period as people say it: `6 h`, `30 min`, `45 s`.
    fn period(&self) -> String {
        match self.check_every {
            Some(s) if s % 86_400 == 0 => format!("{} d", s / 86_400),
            Some(s) if s % 3_600 == 0 => format!("{} h", s / 3_600),
            Some(s) if s % 60 == 0 => format!("{} min", s / 60),
            Some(s) => format!("{s} s"),
            None => String::new(),
        }
    }

    /// The notify URL as shown: its origin, and `/…` for a path, which
    /// for Slack-style hooks is itself a credential.
    fn notify_origin(&self) -> Option<String> {
        let raw = self.notify_url.as_deref()?;
        Some(match reqwest::Url::parse(raw) {
            Ok(u) if u.path().len() > 1 || u.query().is_some() => {
                format!("{}/…", u.origin().ascii_serialization())
            }
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => "(not a URL)".into(),
        })
    }

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

/// The area's routes, under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list))
        .route("/notifications/test", web::post().to(test_notification))
        .route(
            "/notifications/{id}/retry",
            web::post().to(retry_notification),
        );
}

/// Undelivered notifications the Audit page lists, at most.
const UNDELIVERED_SHOWN: i64 = 20;

/// `POST /admin/notifications/{id}/retry`: "Retry" on an undelivered
/// notification: due at once, with its tries counted afresh.
pub async fn retry_notification(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<actix_web::HttpResponse, AppError> {
    if state.lifecycle.notify_url.is_none() {
        return Err(AppError::Unprocessable(
            "Notifications are off (no --notify-url): nothing would send it.".into(),
        ));
    }
    let Ok(id) = path.parse::<i64>() else {
        return Err(AppError::NotFound("There is no such notification.".into()));
    };
    let message = match notify::retry(&state.pool, ctx.admin(), id).await? {
        Some(secret) => format!("The notification about {secret} will be sent again now."),
        None => "That notification is not waiting: it arrived, is being sent right now, or its secret is gone.".into(),
    };
    ctx.done(message, "/admin/audit")
}

/// `POST /admin/notifications/test`: "Send test notification", so an
/// administrator sees that the hook works.
pub async fn test_notification(
    ctx: AdminCtx,
    state: web::Data<AppState>,
) -> Result<actix_web::HttpResponse, AppError> {
    let outcome = crate::lifecycle::send_test(&state, ctx.admin()).await?;
    let message = match outcome {
        Ok(()) => "Test notification delivered.".to_owned(),
        Err(why) => format!("Test notification not delivered: {why}"),
    };
    ctx.done(message, "/admin/audit")
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
    let (entries, more, undelivered) = db::run(&state.pool, move |c| {
        let (entries, more) = audit::list(c, &a, &t, page)?;
        Ok((entries, more, notify::undelivered(c, UNDELIVERED_SHOWN)?))
    })
    .await?;
    Ok(AuditPage {
        notify_url: state.lifecycle.notify_url.clone(),
        check_every: state.lifecycle.check_every,
        ctx: ctx.0,
        actor,
        target,
        page,
        entries,
        more,
        undelivered,
    })
}
