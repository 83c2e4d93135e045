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
    let now = state.tokens.clock.now();
    let (by_type, summary, tokens) = db::run(&state.pool, move |c| {
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
        let tokens: (i64, i64, i64, i64) = c
            .prepare_cached(
                "SELECT
                   COUNT(*) FILTER (WHERE ?1 < token_minted_at + (token_expires_at - token_minted_at) / 2),
                   COUNT(*) FILTER (WHERE ?1 >= token_minted_at + (token_expires_at - token_minted_at) / 2
                                      AND ?1 < token_expires_at),
                   COUNT(*) FILTER (WHERE ?1 >= token_expires_at),
                   COUNT(*) FILTER (WHERE token_expires_at IS NULL)
                 FROM secrets WHERE kind = 'ecr'",
            )?
            .query_row([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok((by_type, store::summary(c, &cache)?, tokens))
    })
    .await?;
    let body = state
        .metrics
        .encode(&Gauges {
            by_type: &by_type,
            expiring: summary.expiring,
            expired: summary.expired,
            failing: summary.failing,
            ecr_tokens: &[
                ("fresh", tokens.0),
                ("aging", tokens.1),
                ("expired", tokens.2),
                ("none", tokens.3),
            ],
        })
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
