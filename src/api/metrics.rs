//! `GET /metrics`: the Prometheus text format, for an administrator's token.

use actix_web::{HttpResponse, web};

use crate::auth::ApiCaller;
use crate::changes::Read;
use crate::db;
use crate::domain::TokenLife;
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
            .query_map(
                "SELECT kind, COUNT(*) FROM secrets GROUP BY kind",
                (),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        // Every kind, those with no secret as 0.
        let by_type: Vec<(&'static str, i64)> = Kind::ALL
            .iter()
            .map(|k| {
                let n = counted.iter().find(|(c, _)| c == k).map_or(0, |(_, n)| *n);
                (k.as_str(), n)
            })
            .collect();
        // Each ECR secret's token by its state, as `TokenLife` judges it
        // (a few rows: ECR secrets only).
        let mut tokens: Vec<(&'static str, i64)> = ["fresh", "aging", "expired", "none"]
            .map(|s| (s, 0))
            .to_vec();
        let lives = c.query_map(
            "SELECT token_minted_at, token_expires_at FROM secrets WHERE kind = 'ecr'",
            (),
            |r| Ok(TokenLife::of(r.get(0)?, r.get(1)?)),
        )?;
        for life in lives {
            let state = TokenLife::state(life?, now);
            if let Some(slot) = tokens.iter_mut().find(|(s, _)| *s == state) {
                slot.1 += 1;
            }
        }
        let summary = db::read_tx(c, |c| store::summary(Read::Db(c, None), &cache))?;
        Ok((by_type, summary, tokens))
    })
    .await?;
    let body = state
        .metrics
        .encode(&Gauges {
            by_type: &by_type,
            expiring: summary.expiring,
            expired: summary.expired,
            failing: summary.failing,
            ecr_tokens: &tokens,
        })
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
