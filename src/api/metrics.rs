//! `GET /metrics`: the Prometheus text format, for an administrator's token.

use actix_web::{HttpResponse, web};

use crate::auth::ApiCaller;
use crate::db;
use crate::error::AppError;
use crate::metrics::Gauges;
use crate::secrets::store::{self, Kind, SecretsList};
use crate::state::AppState;
use crate::web::Problem;

/// `GET /metrics`
pub async fn metrics(
    caller: ApiCaller,
    state: web::Data<AppState>,
    cache: web::Data<SecretsList>,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let (by_type, summary) = db::run(&state.pool, move |c| {
        let counted: Vec<(Kind, i64)> = c
            .prepare_cached("SELECT kind, COUNT(*) FROM secrets GROUP BY kind")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // Every kind, those with no secret as 0.
        let by_type: Vec<(&'static str, i64)> = Kind::ALL
            .iter()
            .map(|k| {
                let n = counted.iter().find(|(c, _)| c == k).map_or(0, |(_, n)| *n);
                (k.as_str(), n)
            })
            .collect();
        Ok((by_type, store::summary(c, &cache)?))
    })
    .await?;
    let body = state
        .metrics
        .encode(&Gauges {
            by_type: &by_type,
            expiring: summary.expiring,
            expired: summary.expired,
            failing: summary.failing,
        })
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
