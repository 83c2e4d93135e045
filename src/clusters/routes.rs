//! Handlers and page structs of the Clusters area.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::credentials::{self, Accept, DeliveryIndex};
use super::ops::{self, ClusterForm};
use super::setup::{self, Delivery};
use super::store::{self, Cluster};
use crate::auth::AdminCtx;
use crate::changes::Read;
use crate::db;
use crate::domain::ImageRef;
use crate::error::AppError;
use crate::kube::external_secrets::{self as eso, DEFAULT_NAMESPACE_LABEL};
use crate::listing::QueryPairs;
use crate::state::AppState;
use crate::web::{
    ConfirmDelete, Ctx, FieldErrors, FormState, download, render, see_other, unprocessable,
};

#[derive(Template, WebTemplate)]
#[template(path = "clusters/list.html")]
struct ListPage {
    ctx: Ctx,
    clusters: Vec<Cluster>,
}

/// `GET /admin/clusters`
pub async fn list(ctx: AdminCtx, state: web::Data<AppState>) -> Result<impl Responder, AppError> {
    let clusters = db::run(&state.pool, |c| Ok(store::list(c)?)).await?;
    Ok(ListPage {
        ctx: ctx.0,
        clusters,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "clusters/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormState,
    values: ClusterForm,
}

/// `GET /admin/clusters/new`
pub async fn new_form(ctx: AdminCtx) -> impl Responder {
    FormPage {
        ctx: ctx.0,
        form: FormState::new_item(),
        values: ClusterForm::default(),
    }
}

/// "Which secret serves this image?": the image asked about and the answer.
pub struct DryRun {
    /// What was typed.
    pub image: String,
    /// The repository kubelet would ask about, or why the image is not one.
    pub repository: Result<String, String>,
    /// The credentials kubelet would get: key, secret, username.
    pub served: Vec<(String, String, String)>,
}

impl DryRun {
    /// Runs the lookup for `image` as kubelet's request would.
    pub async fn run(
        state: &web::Data<AppState>,
        index: web::Data<DeliveryIndex>,
        image: String,
    ) -> Result<Self, AppError> {
        let parsed = ImageRef::parse(&image);
        let Ok(image_ref) = parsed else {
            let why = parsed.err().unwrap_or_default();
            return Ok(Self {
                image,
                repository: Err(why),
                served: Vec::new(),
            });
        };
        let repository = image_ref.repository();
        let st = state.clone();
        let now = state.tokens.clock.now();
        let found = db::run(&state.pool, move |c| {
            db::read_tx(c, |c| {
                let index = index.read(Read::Db(c, None))?;
                credentials::lookup(&index, &st.master, &image_ref, now, Accept::Valid)
            })
        })
        .await?;
        // A dry run mints nothing: an ECR secret without a valid token is
        // shown as what the first pull will mint.
        let mut served: Vec<(String, String, String)> = found
            .served
            .into_iter()
            .map(|s| (s.key, s.secret, s.auth.username))
            .chain(found.pending.into_iter().map(|(key, secret)| {
                (
                    key,
                    secret,
                    "AWS (a token is minted at the first pull)".into(),
                )
            }))
            .collect();
        served.sort();
        Ok(Self {
            image,
            repository: Ok(repository),
            served,
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "clusters/show.html")]
struct ShowPage {
    ctx: Ctx,
    cluster: Cluster,
    /// The token, right after it was made: shown this once.
    token: Option<String>,
    delivery: Delivery,
    base_url: String,
    public_url_set: bool,
    dry_run: Option<DryRun>,
    bin_dir: &'static str,
    config_path: &'static str,
    token_file: &'static str,
    plugin: &'static str,
    label: (&'static str, &'static str),
    token_secret: &'static str,
    token_namespace: &'static str,
    token_commands: String,
}

impl ShowPage {
    async fn load(
        ctx: Ctx,
        state: &AppState,
        req: &HttpRequest,
        name: String,
        token: Option<String>,
        dry_run: Option<DryRun>,
    ) -> Result<Self, AppError> {
        let (cluster, delivery) = db::run(&state.pool, move |c| {
            let cluster =
                store::find(c, &name)?.ok_or_else(|| AppError::no_such("cluster", &name))?;
            Ok((cluster, setup::delivery(c)?))
        })
        .await?;
        Ok(Self {
            ctx,
            cluster,
            token,
            delivery,
            base_url: setup::base_url(state, req),
            public_url_set: state.lifecycle.public_url.is_some(),
            dry_run,
            bin_dir: setup::BIN_DIR,
            config_path: setup::CONFIG_PATH,
            token_file: setup::TOKEN_FILE,
            plugin: crate::kube::credential_provider::PROVIDER_NAME,
            label: DEFAULT_NAMESPACE_LABEL,
            token_secret: eso::TOKEN_SECRET,
            token_namespace: eso::TOKEN_NAMESPACE,
            token_commands: eso::token_commands("wharf-token"),
        })
    }
}

/// `POST /admin/clusters`: adds a cluster, and on to its setup page, which
/// shows the token once (held in the sealed session, so a refresh shows the
/// page without it and posts nothing again).
pub async fn create(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<ClusterForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match ops::create(&state, ctx.admin(), &form).await {
        Ok(issued) => {
            let page = format!("/admin/clusters/{}", issued.name);
            ctx.session.hold_token(&page, &issued.token)?;
            Ok(see_other(&page))
        }
        Err(failure) => {
            let errors: FieldErrors = failure.form_errors()?;
            unprocessable(&FormPage {
                ctx: ctx.0,
                form: FormState::rejected(true, Default::default(), errors),
                values: form,
            })
        }
    }
}

/// `?image=` of the cluster page: the dry run.
#[derive(Deserialize)]
pub struct ImageQuery {
    /// The image asked about.
    #[serde(default)]
    pub image: Option<String>,
}

/// `GET /admin/clusters/{name}`: how to set the cluster up.
pub async fn show(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    index: web::Data<DeliveryIndex>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ImageQuery>,
) -> Result<HttpResponse, AppError> {
    let dry_run = match query.into_inner().image.filter(|i| !i.trim().is_empty()) {
        Some(image) => Some(DryRun::run(&state, index, image).await?),
        None => None,
    };
    let token = ctx.session.take_token(req.path());
    let page = ShowPage::load(ctx.0, &state, &req, path.into_inner(), token, dry_run).await?;
    render(StatusCode::OK, &page)
}

/// `POST /admin/clusters/{name}/token`: a new token, shown once on the
/// setup page it redirects to; the old one stops at once.
pub async fn rotate_token(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let issued = ops::rotate_token(&state, ctx.admin(), &path.into_inner()).await?;
    let page = format!("/admin/clusters/{}", issued.name);
    ctx.session.hold_token(&page, &issued.token)?;
    Ok(see_other(&page))
}

/// `GET /admin/clusters/{name}/kubelet-config.yaml`
pub async fn kubelet_config(
    _ctx: AdminCtx,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let delivery = setup::of_cluster(&state, path.into_inner()).await?;
    let base = setup::base_url(&state, &req);
    let body = setup::kubelet_config(&state, &delivery, &base).ok_or_else(|| {
        AppError::Conflict(
            "Nothing is delivered yet, and kubelet refuses a provider without matchImages: tick “Deliver to clusters” on an Image Pull secret first.".into(),
        )
    })?;
    Ok(download(
        body,
        "application/yaml",
        "wharf-credential-provider.yaml".into(),
    ))
}

/// `?namespace_label=` of the ESO download: the label, or the default
/// when there is none (or, from the page's form, when it was left blank).
pub fn namespace_label(
    query: &QueryPairs,
    blank_is_default: bool,
) -> Result<(String, String), String> {
    let given = query
        .get_opt("namespace_label")
        .filter(|l| !(blank_is_default && l.trim().is_empty()));
    match given {
        None => Ok((
            DEFAULT_NAMESPACE_LABEL.0.to_owned(),
            DEFAULT_NAMESPACE_LABEL.1.to_owned(),
        )),
        Some(raw) => setup::parse_label(raw),
    }
}

/// `GET /admin/clusters/{name}/external-secrets.yaml`
pub async fn external_secrets(
    _ctx: AdminCtx,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: QueryPairs,
) -> Result<HttpResponse, AppError> {
    let (key, value) = namespace_label(&query, true).map_err(AppError::Unprocessable)?;
    let delivery = setup::of_cluster(&state, path.into_inner()).await?;
    let base = setup::base_url(&state, &req);
    let body = setup::external_secrets(&state, &delivery, &base, (&key, &value));
    Ok(download(
        body,
        "application/yaml",
        "external-secrets.yaml".into(),
    ))
}

/// `GET /admin/clusters/{name}/delete`
pub async fn delete_confirm(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let cluster = find(&state, path.into_inner()).await?;
    render(StatusCode::OK, &confirm_page(ctx.0, cluster, None))
}

async fn find(state: &AppState, name: String) -> Result<Cluster, AppError> {
    db::run(&state.pool, move |c| {
        store::find(c, &name)?.ok_or_else(|| AppError::no_such("cluster", &name))
    })
    .await
}

/// A cluster seen this recently is in use: its name must be typed to
/// delete it (its nodes and ESO stop getting credentials).
const IN_USE_WITHIN: i64 = 7 * 24 * 3600;

/// Seen within [`IN_USE_WITHIN`].
fn in_use(cluster: &Cluster) -> bool {
    cluster
        .last_seen
        .as_ref()
        .is_some_and(|(at, _)| db::now() - at <= IN_USE_WITHIN)
}

/// The delete question for `cluster`: when it was last seen and how much it
/// asked, with the name to type when it is in use.
fn confirm_page(ctx: Ctx, cluster: Cluster, error: Option<String>) -> ConfirmDelete {
    let seen = cluster.last_seen.as_ref().filter(|_| in_use(&cluster));
    let uses = match seen {
        Some((at, from)) => vec![format!(
            "It was last seen {} from {from}, and made {} in the last 24 hours. Its nodes and External Secrets Operator stop getting credentials when their caches run out.",
            db::format_time(*at),
            cluster.requests_text()
        )],
        None => Vec::new(),
    };
    ConfirmDelete {
        type_name: seen.is_some(),
        uses,
        error,
        ctx,
        kind: "cluster",
        label: cluster.label().to_owned(),
        name: cluster.name,
        list: "/admin/clusters",
    }
}

/// `POST /admin/clusters/{name}/delete`: a cluster in use only with its
/// name typed.
pub async fn delete(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<crate::web::DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let cluster = find(&state, name.clone()).await?;
    if in_use(&cluster) && form.typed() != Some(name.as_str()) {
        let again = format!("Type {name} exactly to delete it.");
        return unprocessable(&confirm_page(ctx.0, cluster, Some(again)));
    }
    ops::delete(&state, ctx.admin(), &name).await?;
    ctx.done(
        format!("Cluster {name} deleted; its token no longer works."),
        "/admin/clusters",
    )
}
