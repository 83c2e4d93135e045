//! What leaves the portal on purpose: manifests, docker config files, the
//! export of every secret, and "Test login". Admins only, each one audited.

use actix_web::{HttpResponse, web};
use rusqlite::OptionalExtension;
use serde::Deserialize;

use super::store::{self, Kind, Secret, TokenLife};
use crate::audit::{self, Actor};
use crate::auth::{Admin, AdminCtx, AdminRead};
use crate::db;
use crate::domain::{Namespace, RegistryHost, SecretValue};
use crate::ecr;
use crate::error::AppError;
use crate::kube::{Manifest, dockerconfigjson, registry};
use crate::lifecycle::notify;
use crate::lifecycle::{CheckMode, Event};
use crate::state::AppState;
use crate::web::{download, see_other};

/// `?namespace=`; empty means none, as without `-n`.
#[derive(Deserialize)]
pub struct NamespaceQuery {
    #[serde(default)]
    namespace: String,
}

impl NamespaceQuery {
    /// The namespace asked for: none when empty, 422 when not a DNS label.
    pub fn parse(&self) -> Result<Option<Namespace>, AppError> {
        let ns = self.namespace.trim();
        if ns.is_empty() {
            return Ok(None);
        }
        Namespace::parse(ns)
            .map(Some)
            .map_err(AppError::Unprocessable)
    }
}

/// A secret and its opened value: the password, the SSH key, or for an
/// ECR secret its current registry token (never the AWS secret key).
pub struct Opened {
    /// The secret.
    pub secret: Secret,
    value: SecretValue,
    /// The registry username: the secret's, or `AWS` for an ECR token.
    user: Option<String>,
}

impl Opened {
    /// The manifest `kubectl create secret … --dry-run=client` prints,
    /// as YAML or JSON.
    pub fn manifest_text(&self, namespace: Option<&Namespace>, json: bool) -> String {
        let m = self.manifest(namespace.map(Namespace::as_str));
        if json { m.to_json() } else { m.to_yaml() }
    }

    /// The SSH key's bytes (Git Sync), as the manifest's `ssh` holds them.
    pub fn ssh_key(&self) -> Result<&str, AppError> {
        match self.secret.kind {
            Kind::GitSync => Ok(self.value.expose()),
            Kind::ImagePull | Kind::Ecr => Err(AppError::NotFound(format!(
                "Secret {} is a registry credential; only Git Sync secrets have an SSH key.",
                self.secret.name
            ))),
        }
    }

    /// The decoded `.dockerconfigjson`.
    pub fn dockerconfig(&self) -> Result<String, AppError> {
        let (host, _) = image_pull_only(&self.secret)?;
        Ok(dockerconfigjson(host, self.user(), self.value.expose()))
    }

    fn user(&self) -> &str {
        self.user.as_deref().unwrap_or_default()
    }

    fn manifest<'a>(&'a self, namespace: Option<&'a str>) -> Manifest<'a> {
        match self.secret.kind {
            Kind::ImagePull | Kind::Ecr => Manifest::docker_registry(
                &self.secret.name,
                namespace,
                self.secret.registry_host.as_deref().unwrap_or_default(),
                self.user(),
                self.value.expose(),
            ),
            Kind::GitSync => {
                Manifest::ssh_key(&self.secret.name, namespace, self.value.expose().as_bytes())
            }
        }
    }
}

/// Opens what a secret gives: its sealed value, or for an ECR secret its
/// current registry token (minted if need be).
async fn open(state: &AppState, secret: Secret, sealed: &[u8]) -> Result<Opened, AppError> {
    if secret.kind == Kind::Ecr {
        let token = ecr::current_token(&state.minting(), &secret.name).await?;
        return Ok(Opened {
            secret,
            value: token.password,
            user: Some(token.username),
        });
    }
    open_sealed(state, secret, sealed)
}

fn open_sealed(state: &AppState, secret: Secret, sealed: &[u8]) -> Result<Opened, AppError> {
    let value = state.master.open_text(
        crate::crypto::secret_aad(&secret.name),
        sealed,
        &secret.name,
    )?;
    let user = secret.username.clone();
    Ok(Opened {
        secret,
        value: SecretValue::new(value),
        user,
    })
}

/// Loads and opens one secret (404 if missing, or not of the `want`ed
/// kind), recording the export in the audit log as `by`'s.
pub async fn load_open(
    by: &AdminRead,
    state: &AppState,
    name: String,
    want: Option<Kind>,
) -> Result<Opened, AppError> {
    let n = name.clone();
    let (secret, sealed) = db::run(&state.pool, move |c| {
        let found = store::find_sealed(c, &n)?.ok_or_else(|| AppError::no_such("secret", &n))?;
        match want {
            Some(Kind::ImagePull | Kind::Ecr) => {
                image_pull_only(&found.0)?;
            }
            Some(Kind::GitSync) if found.0.kind != Kind::GitSync => {
                return Err(AppError::NotFound(format!(
                    "Secret {n} is a registry credential; only Git Sync secrets have an SSH key."
                )));
            }
            _ => {}
        }
        Ok(found)
    })
    .await?;
    let opened = open(state, secret, &sealed).await?;
    // Recorded once the value was really handed out.
    audit::record_alone(
        &state.pool,
        by.actor(),
        crate::audit::action::SECRET_EXPORTED,
        format!("secret/{name}"),
    )
    .await?;
    Ok(opened)
}

/// Loads and opens a delivered secret of `kind` (an ECR secret counts as
/// Image Pull: what it gives is a registry login) for a cluster: anything
/// else is "no such secret", exactly as one that does not exist. Not
/// audited here: what clusters are given is counted per hour
/// (`clusters::serving`).
pub async fn load_delivered(
    state: &AppState,
    name: String,
    kind: Kind,
) -> Result<Opened, AppError> {
    let (secret, sealed) = db::run(&state.pool, move |c| {
        store::find_sealed(c, &name)?
            .filter(|(s, _)| {
                s.deliver && (s.kind == kind || (s.kind.is_registry() && kind.is_registry()))
            })
            .ok_or_else(|| AppError::no_such("secret", &name))
    })
    .await?;
    open(state, secret, &sealed).await
}

/// The manifest of one secret, as kubectl's `-o yaml` or `-o json`.
async fn manifest(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    name: String,
    query: web::Query<NamespaceQuery>,
    json: bool,
) -> Result<HttpResponse, AppError> {
    let ns = query.parse()?;
    let opened = load_open(&ctx.admin().reader(), &state, name, None).await?;
    let body = opened.manifest_text(ns.as_ref(), json);
    let name = &opened.secret.name;
    Ok(if json {
        download(body, "application/json", format!("{name}.json"))
    } else {
        download(body, "application/yaml", format!("{name}.yaml"))
    })
}

/// `GET /admin/secrets/{name}/manifest.yaml`
pub async fn manifest_yaml(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<NamespaceQuery>,
) -> Result<HttpResponse, AppError> {
    manifest(ctx, state, path.into_inner(), query, false).await
}

/// `GET /admin/secrets/{name}/manifest.json`
pub async fn manifest_json(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<NamespaceQuery>,
) -> Result<HttpResponse, AppError> {
    manifest(ctx, state, path.into_inner(), query, true).await
}

fn image_pull_only(secret: &Secret) -> Result<(&str, &str), AppError> {
    match (secret.kind, &secret.registry_host, &secret.username) {
        (Kind::ImagePull | Kind::Ecr, Some(h), Some(u)) => Ok((h, u)),
        _ => Err(AppError::NotFound(format!(
            "Secret {} is a Git Sync key; only registry credentials have a docker config or a registry login.",
            secret.name
        ))),
    }
}

/// `GET /admin/secrets/{name}/dockerconfig.json`: usable as
/// `skopeo --authfile` or `~/.docker/config.json`.
pub async fn dockerconfig(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let opened = load_open(
        &ctx.admin().reader(),
        &state,
        path.into_inner(),
        Some(Kind::ImagePull),
    )
    .await?;
    let body = opened.dockerconfig()?;
    Ok(download(
        body,
        "application/json",
        format!("{}-dockerconfig.json", opened.secret.name),
    ))
}

/// `GET /admin/secrets/export.yaml`: every secret, one document each.
pub async fn export_all(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    query: web::Query<NamespaceQuery>,
) -> Result<HttpResponse, AppError> {
    let ns = query.parse()?;
    let rows = db::run(&state.pool, |c| Ok(store::all_sealed(c)?)).await?;
    let mut docs = Vec::with_capacity(rows.len());
    // An ECR secret whose token cannot be minted now is left out and named,
    // and every other secret is exported.
    let mut left_out: Vec<(String, String)> = Vec::new();
    for (secret, sealed) in rows {
        let name = secret.name.clone();
        match open(&state, secret, &sealed).await {
            Ok(opened) => docs.push(
                opened
                    .manifest(ns.as_ref().map(Namespace::as_str))
                    .to_yaml(),
            ),
            Err(AppError::Upstream(why)) => left_out.push((name, why)),
            Err(e) => return Err(e),
        }
    }
    audit::record_alone(
        &state.pool,
        ctx.admin().reader().actor(),
        crate::audit::action::SECRETS_EXPORTED,
        "secret/*".into(),
    )
    .await?;
    let mut body = String::new();
    if !left_out.is_empty() {
        body.push_str(&format!(
            "# wharf: {} exported; left out, because no registry token could be minted now:\n",
            crate::domain::count(docs.len(), "secret")
        ));
        let mut banner = Vec::new();
        for (name, why) in &left_out {
            let why = crate::domain::one_line(why);
            body.push_str(&format!("#   {name}: {why}\n"));
            banner.push(format!("{name} ({why})"));
        }
        // Also on the next page the administrator sees.
        ctx.session.flash(format!(
            "Export all left out what could not be exported now: {}. Every other secret is in the file.",
            banner.join("; ")
        ))?;
    }
    body.push_str(&docs.join("---\n"));
    Ok(download(
        body,
        "application/yaml",
        "wharf-secrets.yaml".into(),
    ))
}

/// What a "Test login" came to.
pub struct TestOutcome {
    /// The registry's verdict.
    pub result: registry::LoginResult,
    /// When it was checked (Unix seconds).
    pub checked_at: i64,
    /// False when the secret changed during the check, so the verdict was
    /// not kept (it is not about the credentials stored now).
    pub kept: bool,
}

/// Runs "Test login" on a registry secret as `by`: the registry's
/// verdict is kept on the secret (if it did not change meanwhile) and in
/// the audit log. An ECR secret first gets its current token (a failed
/// mint is the verdict, with AWS's reason), then logs in with it.
pub async fn run_test_login(
    state: &AppState,
    by: &Admin,
    name: String,
    mode: CheckMode,
) -> Result<TestOutcome, AppError> {
    let (secret, sealed) = {
        let n = name.clone();
        db::run(&state.pool, move |c| Ok(store::find_sealed(c, &n)?))
            .await?
            .ok_or_else(|| AppError::no_such("secret", &name))?
    };
    let (host, _) = image_pull_only(&secret)?;
    let host = RegistryHost::parse(host).map_err(AppError::internal)?;
    let (secret, result) = if secret.kind == Kind::Ecr {
        match ecr::current_token(&state.minting(), &secret.name).await {
            Ok(token) => {
                let r = registry::check_login(&host, &token.username, &token.password).await;
                (secret, r)
            }
            Err(ecr::TokenError::Mint(e)) => (secret, registry::LoginResult::fail(e.to_string())),
            Err(e) => return Err(e.into()),
        }
    } else {
        let opened = open_sealed(state, secret, &sealed)?;
        let r = registry::check_login(&host, opened.user(), &opened.value).await;
        (opened.secret, r)
    };
    state.metrics.login_check(result.ok);
    let (ok, message) = (result.ok, result.message.clone());
    let (kept, checked_at) = keep_outcome(state, by.actor(), secret, ok, message, mode).await?;
    Ok(TestOutcome {
        result,
        checked_at,
        kept,
    })
}

/// What a refresh of an ECR token came to, kept as a check when it tells
/// something new: a failed mint (AWS's reason), or a mint that works again
/// after failures.
pub async fn record_mint(state: &AppState, name: &str, outcome: Result<TokenLife, String>) {
    let n = name.to_owned();
    let secret = match db::run(&state.pool, move |c| Ok(store::find(c, &n)?)).await {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(secret = %name, error = %e, "reading a secret to record its mint failed");
            return;
        }
    };
    let failing = secret.last_test.as_ref().is_some_and(|t| !t.ok);
    let (ok, message) = match outcome {
        Err(why) => (false, why),
        Ok(life) if failing => (
            true,
            format!(
                "A new registry token was minted; it works until {}.",
                db::format_time(life.expires_at)
            ),
        ),
        Ok(_) => return,
    };
    let actor = Admin::background().actor();
    if let Err(e) = keep_outcome(state, actor, secret, ok, message, CheckMode::Scheduled).await {
        tracing::warn!(secret = %name, error = %e, "recording a mint failed");
    }
}

/// Keeps a check's verdict on the secret (only while it is still at the
/// version checked) and audits it: every manual check, and each change of
/// state, which is also notified. Returns whether it was kept, and when.
async fn keep_outcome(
    state: &AppState,
    actor: Actor,
    secret: Secret,
    ok: bool,
    message: String,
    mode: CheckMode,
) -> Result<(bool, i64), AppError> {
    let lifecycle = state.lifecycle.clone();
    db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let now = db::now();
        // Deleted while the registry answered: nothing to keep it on.
        let before: Option<bool> = tx
            .query_row(
                "SELECT last_test_ok FROM secrets WHERE id = ?1",
                [secret.id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| AppError::no_such("secret", &secret.name))?;
        let kept = store::record_test(&tx, secret.id, secret.version, ok, &message)?;
        let target = format!("secret/{}", secret.name);
        // A failure's entry says why, as the secret's page does: the
        // registry's words on one line, cut short.
        let why = |action: &str| {
            format!(
                "{action} ({})",
                crate::domain::truncate(&crate::domain::one_line(&message), 200)
            )
        };
        if mode == CheckMode::Manual || !kept {
            let action = match (kept, ok) {
                (false, _) => crate::audit::action::TEST_LOGIN_DISCARDED.to_owned(),
                (true, true) => crate::audit::action::TEST_LOGIN_SUCCEEDED.to_owned(),
                (true, false) => why(crate::audit::action::TEST_LOGIN_FAILED),
            };
            audit::record(&tx, &actor.name, &action, &target, &actor.source)?;
        }
        // A change of state: audited, and told to whoever listens.
        let changed = crate::lifecycle::transition(before, ok);
        if let (true, Some(event)) = (kept, changed) {
            tx.execute(
                "UPDATE secrets SET login_state_since = ?2 WHERE id = ?1",
                rusqlite::params![secret.id, now],
            )?;
            let action = match event {
                Event::LoginFailing => why(crate::audit::action::LOGIN_FAILING),
                _ => crate::audit::action::LOGIN_RECOVERED.to_owned(),
            };
            audit::record(&tx, &actor.name, &action, &target, &actor.source)?;
            let about = notify::About {
                id: secret.id,
                name: &secret.name,
                display_name: &secret.display_name,
                registry_host: secret.registry_host.as_deref(),
                expires_on: secret.expires_on.as_deref(),
                message: Some(&message),
            };
            let key = format!("{}:{now}", event.name());
            notify::enqueue(&tx, &lifecycle, &about, event, &key, None)?;
        }
        tx.commit()?;
        Ok((kept, now))
    })
    .await
}

/// `POST /admin/secrets/{name}/test`: tries the registry login, keeps the
/// outcome, and shows it on the secret's page.
pub async fn test_login(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let outcome = run_test_login(&state, ctx.admin(), name.clone(), CheckMode::Manual).await?;
    if !outcome.kept {
        ctx.session.flash(
            "The secret was changed while its login was being tested; that result was not kept. Test it again.",
        )?;
    }
    Ok(see_other(&format!("/admin/secrets/{name}")))
}
