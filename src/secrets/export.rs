//! What leaves the portal on purpose: manifests, docker config files, the
//! export of every secret, and "Test login". Admins only, each one audited.

use actix_web::{HttpResponse, web};
use rusqlite::OptionalExtension;
use serde::Deserialize;

use super::store::{self, Kind, Secret};
use crate::audit::{self, Actor};
use crate::auth::AdminCtx;
use crate::db;
use crate::domain::{Namespace, RegistryHost, SecretValue};
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

/// A secret and its opened value.
pub struct Opened {
    /// The secret.
    pub secret: Secret,
    value: SecretValue,
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
            Kind::ImagePull => Err(AppError::NotFound(format!(
                "Secret {} is an Image Pull secret; only Git Sync secrets have an SSH key.",
                self.secret.name
            ))),
        }
    }

    /// The decoded `.dockerconfigjson`.
    pub fn dockerconfig(&self) -> Result<String, AppError> {
        let (host, user) = image_pull_only(&self.secret)?;
        Ok(dockerconfigjson(host, user, self.value.expose()))
    }

    fn manifest<'a>(&'a self, namespace: Option<&'a str>) -> Manifest<'a> {
        match self.secret.kind {
            Kind::ImagePull => Manifest::docker_registry(
                &self.secret.name,
                namespace,
                self.secret.registry_host.as_deref().unwrap_or_default(),
                self.secret.username.as_deref().unwrap_or_default(),
                self.value.expose(),
            ),
            Kind::GitSync => {
                Manifest::ssh_key(&self.secret.name, namespace, self.value.expose().as_bytes())
            }
        }
    }
}

fn open(state: &AppState, secret: Secret, sealed: &[u8]) -> Result<Opened, AppError> {
    let plain = state
        .master
        .open(secret.name.as_bytes(), sealed)
        .map_err(|e| AppError::internal(format!("secret {}: {e}", secret.name)))?;
    let value = String::from_utf8(plain).map_err(|_| {
        AppError::internal(format!("secret {}: stored value is not UTF-8", secret.name))
    })?;
    Ok(Opened {
        secret,
        value: SecretValue::new(value),
    })
}

/// Loads and opens one secret (404 if missing, or not of the `want`ed
/// kind), recording the export in the audit log as `actor`'s.
pub async fn load_open(
    actor: Actor,
    state: &AppState,
    name: String,
    want: Option<Kind>,
) -> Result<Opened, AppError> {
    let n = name.clone();
    let (secret, sealed) = db::run(&state.pool, move |c| {
        let found = store::find_sealed(c, &n)?.ok_or_else(|| AppError::no_such("secret", &n))?;
        match want {
            Some(Kind::ImagePull) => {
                image_pull_only(&found.0)?;
            }
            Some(Kind::GitSync) if found.0.kind != Kind::GitSync => {
                return Err(AppError::NotFound(format!(
                    "Secret {n} is an Image Pull secret; only Git Sync secrets have an SSH key."
                )));
            }
            _ => {}
        }
        Ok(found)
    })
    .await?;
    let opened = open(state, secret, &sealed)?;
    // Recorded once the value was really handed out.
    audit::record_alone(
        &state.pool,
        actor,
        crate::audit::action::SECRET_EXPORTED,
        format!("secret/{name}"),
    )
    .await?;
    Ok(opened)
}

/// Loads and opens a delivered secret of `kind` for a cluster: anything
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
            .filter(|(s, _)| s.deliver && s.kind == kind)
            .ok_or_else(|| AppError::no_such("secret", &name))
    })
    .await?;
    open(state, secret, &sealed)
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
    let opened = load_open(ctx.actor(), &state, name, None).await?;
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
        (Kind::ImagePull, Some(h), Some(u)) => Ok((h, u)),
        _ => Err(AppError::NotFound(format!(
            "Secret {} is a Git Sync key; only Image Pull secrets have a docker config or a registry login.",
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
        ctx.actor(),
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
    let docs = rows
        .into_iter()
        .map(|(secret, sealed)| {
            Ok(open(&state, secret, &sealed)?
                .manifest(ns.as_ref().map(Namespace::as_str))
                .to_yaml())
        })
        .collect::<Result<Vec<String>, AppError>>()?;
    audit::record_alone(
        &state.pool,
        ctx.actor(),
        crate::audit::action::SECRETS_EXPORTED,
        "secret/*".into(),
    )
    .await?;
    Ok(download(
        docs.join("---\n"),
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

/// Runs "Test login" on an Image Pull secret as `actor`: the registry's
/// verdict is kept on the secret (if it did not change meanwhile) and in
/// the audit log.
pub async fn run_test_login(
    state: &AppState,
    actor: Actor,
    name: String,
    mode: CheckMode,
) -> Result<TestOutcome, AppError> {
    let (secret, sealed) = {
        let n = name.clone();
        db::run(&state.pool, move |c| Ok(store::find_sealed(c, &n)?))
            .await?
            .ok_or_else(|| AppError::no_such("secret", &name))?
    };
    let (host, user) = image_pull_only(&secret)?;
    let host = RegistryHost::parse(host).map_err(AppError::internal)?;
    let user = user.to_owned();
    let opened = open(state, secret, &sealed)?;
    let result = registry::check_login(&host, &user, &opened.value).await;
    state.metrics.login_check(result.ok);
    let secret = opened.secret;
    let (ok, message) = (result.ok, result.message.clone());
    let lifecycle = state.lifecycle.clone();
    let (kept, checked_at) = db::run(&state.pool, move |c| {
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
        if mode == CheckMode::Manual || !kept {
            let action = match (kept, ok) {
                (false, _) => crate::audit::action::TEST_LOGIN_DISCARDED,
                (true, true) => crate::audit::action::TEST_LOGIN_SUCCEEDED,
                (true, false) => crate::audit::action::TEST_LOGIN_FAILED,
            };
            audit::record(&tx, &actor.name, action, &target, &actor.source)?;
        }
        // A change of state: audited, and told to whoever listens.
        let changed = crate::lifecycle::transition(before, ok);
        if let (true, Some(event)) = (kept, changed) {
            tx.execute(
                "UPDATE secrets SET login_state_since = ?2 WHERE id = ?1",
                rusqlite::params![secret.id, now],
            )?;
            let action = match event {
                Event::LoginFailing => crate::audit::action::LOGIN_FAILING,
                _ => crate::audit::action::LOGIN_RECOVERED,
            };
            audit::record(&tx, &actor.name, action, &target, &actor.source)?;
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
    .await?;
    Ok(TestOutcome {
        result,
        checked_at,
        kept,
    })
}

/// `POST /admin/secrets/{name}/test`: tries the registry login, keeps the
/// outcome, and shows it on the secret's page.
pub async fn test_login(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let outcome = run_test_login(&state, ctx.actor(), name.clone(), CheckMode::Manual).await?;
    if !outcome.kept {
        ctx.session.flash(
            "The secret was changed while its login was being tested; that result was not kept. Test it again.",
        )?;
    }
    Ok(see_other(&format!("/admin/secrets/{name}")))
}
