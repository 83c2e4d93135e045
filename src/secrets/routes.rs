//! Handlers and page structs of the Secrets area.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::fields::{Field, SecretInput};
use super::ops::{self, InUse, Kept};
use super::store::{self, Attention, ImageUse, Kind, Secret};
use crate::auth::{AdminCtx, Gate};
use crate::clusters::credentials::DeliveryIndex;
use crate::clusters::routes::{DryRun, ImageQuery};
use crate::db::{self, Named};
use crate::error::AppError;
use crate::list_cache::Listed;
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{
    ConfirmDelete, Ctx, FieldErrors, FormState, FormVersion, Link, Refused, conflict, render,
    unprocessable,
};

#[derive(Template, WebTemplate)]
#[template(path = "secrets/list.html")]
struct ListPage {
    ctx: Ctx,
    page: crate::listing::Page<std::sync::Arc<Listed<Secret>>>,
    summary: store::Summary,
    attention: Option<Attention>,
    today: time::Date,
}

impl ListPage {
    /// A row's HTML, kept with the row by the list cache.
    fn row<'r>(&self, s: &'r Listed<Secret>) -> askama::Result<std::borrow::Cow<'r, str>> {
        let today = self.today;
        s.html(today, |s| ListRow { s, today }.render())
    }
}

/// One row of the list (escaped like every template; the page inserts it
/// as it is).
#[derive(Template)]
#[template(path = "secrets/_row.html")]
struct ListRow<'a> {
    s: &'a Secret,
    today: time::Date,
}

/// `GET /admin/secrets`: `?filter=expiring|expired|failing` narrows it to
/// what needs an administrator's eye; the line above says how many.
pub async fn list(
    gate: Gate,
    cache: web::Data<store::SecretsList>,
    query: crate::listing::QueryPairs,
) -> Result<impl Responder, AppError> {
    let mut listing =
        crate::listing::Listing::lenient::<store::SecretSort>(&query, "/admin/secrets");
    let attention = crate::listing::Listing::filter::<Attention>(&query, false).unwrap_or(None);
    listing.keep = attention.map(|a| ("filter", a.as_str().to_owned()));
    let (ctx, (page, summary)) = gate
        .admin(move |read| {
            Ok((
                store::list(read, &cache, &listing, attention)?,
                store::summary(read, &cache)?,
            ))
        })
        .await?;
    static LAST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    crate::web::render_like_last(
        actix_web::http::StatusCode::OK,
        &ListPage {
            ctx: ctx.0,
            page,
            summary,
            attention,
            today: db::today(),
        },
        &LAST,
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "secrets/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormState,
    /// What the fields show (never a password or key).
    values: SecretInput,
    /// The stored secret, on edit.
    secret: Option<Secret>,
    /// Images that use it, on edit.
    images: Vec<ImageUse>,
    /// "Which secret serves this image?", when asked.
    dry_run: Option<DryRun>,
    /// A refused form that had a password or key in it: it must be pasted
    /// again (it is never sent back to the browser).
    repaste: bool,
}

/// The hint beside a password or key field of a refused form.
const REPASTE: &str = "Paste it again: wharf never sends a password or key back to the browser, not even to a form it refused.";

impl FormPage {
    fn host_hint(&self) -> &'static str {
        match self.values.kind.as_str() {
            "ecr" if !self.form.is_new => "<12-digit account>.dkr.ecr.<region>.amazonaws.com",
            "image_pull" if !self.form.is_new => {
                "host[:port], e.g. registry.gitlab.com, ghcr.io, docker.io"
            }
            _ => {
                "host[:port], e.g. registry.gitlab.com, ghcr.io, docker.io; Amazon ECR: <12-digit account>.dkr.ecr.<region>.amazonaws.com"
            }
        }
    }

    fn aws_key_hint(&self) -> &'static str {
        if self.repaste {
            REPASTE
        } else if self.form.is_new {
            "The access key's secret; never shown again."
        } else {
            "A secret access key is stored; leave blank to keep it."
        }
    }

    fn password_hint(&self) -> &'static str {
        if self.repaste {
            REPASTE
        } else if self.form.is_new {
            "The password or access token (e.g. a GitLab deploy token)."
        } else {
            "A password is stored; leave blank to keep it."
        }
    }

    fn key_hint(&self) -> &'static str {
        if self.repaste {
            REPASTE
        } else if self.form.is_new {
            "Paste the whole private key, BEGIN and END lines included."
        } else {
            "A key is stored; leave blank to keep it."
        }
    }

    /// The edit form of what is stored now, in `form`.
    fn stored(ctx: Ctx, (secret, images): (Secret, Vec<ImageUse>), form: FormState) -> Self {
        Self {
            ctx,
            form,
            values: SecretInput::of(&secret),
            secret: Some(secret),
            images,
            dry_run: None,
            repaste: false,
        }
    }

    /// A submitted form shown again with its messages (422).
    fn rejected(
        ctx: Ctx,
        f: SecretInput,
        version: FormVersion,
        stored: Option<(Secret, Vec<ImageUse>)>,
        errors: FieldErrors,
    ) -> Result<HttpResponse, AppError> {
        let form = FormState::rejected(stored.is_none(), version, errors);
        let (secret, images) = stored.map_or((None, Vec::new()), |(s, i)| (Some(s), i));
        // The sealed values are not shown again; if one was given, the
        // page says to paste it again.
        let mut values = f;
        let mut repaste = false;
        for field in Field::ALL.into_iter().filter(|f| f.sealed()) {
            repaste |= !values.get(field).trim().is_empty();
            values.set(field, String::new());
        }
        unprocessable(&Self {
            ctx,
            form,
            values,
            secret,
            images,
            dry_run: None,
            repaste,
        })
    }
}

/// `?type=` of the add form.
#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default, rename = "type")]
    kind: String,
}

/// `GET /admin/secrets/new`
pub async fn new_form(ctx: AdminCtx, query: web::Query<NewQuery>) -> impl Responder {
    let kind = Kind::parse(&query.kind).unwrap_or(Kind::ImagePull);
    FormPage {
        ctx: ctx.0,
        form: FormState::new_item(),
        values: SecretInput::blank(kind),
        secret: None,
        images: Vec::new(),
        dry_run: None,
        repaste: false,
    }
}

/// `POST /admin/secrets`
pub async fn create(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (input, version) = SecretInput::from_form(form.into_inner());
    match ops::create(&state, ctx.admin(), &input).await {
        Ok(name) => ctx.done(
            format!("Secret {name} created.{}", kept_as(&input)),
            "/admin/secrets",
        ),
        Err(failure) => FormPage::rejected(ctx.0, input, version, None, failure.form_errors()?),
    }
}

/// " Registry Host https://ghcr.io/ is kept as ghcr.io." when what was
/// typed is stored otherwise (a URL, a Docker Hub alias), else nothing.
fn kept_as(input: &SecretInput) -> String {
    let typed = input.get(Field::RegistryHost).trim();
    if Kind::parse(&input.kind) != Some(Kind::ImagePull) {
        return String::new();
    }
    match crate::domain::RegistryHost::parse(typed) {
        Ok(host) if host.as_str() != typed => {
            format!(" Registry Host {typed} is kept as {}.", host.as_str())
        }
        _ => String::new(),
    }
}

/// Loads a secret by the path's name, with the images that use it, or 404.
async fn load(state: &AppState, name: String) -> Result<(Secret, Vec<ImageUse>), AppError> {
    db::run(&state.pool, move |c| {
        let secret = store::find(c, &name)?.ok_or_else(|| AppError::no_such("secret", &name))?;
        let images = store::used_by(c, secret.id)?;
        Ok((secret, images))
    })
    .await
}

/// `GET /admin/secrets/{name}`
pub async fn edit_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    index: web::Data<DeliveryIndex>,
    path: web::Path<String>,
    query: web::Query<ImageQuery>,
) -> Result<impl Responder, AppError> {
    let stored = load(&state, path.into_inner()).await?;
    let form = FormState::editing(stored.0.version);
    let mut page = FormPage::stored(ctx.0, stored, form);
    if let Some(image) = query.into_inner().image.filter(|i| !i.trim().is_empty()) {
        page.dry_run = Some(DryRun::run(&state, index, image).await?);
    }
    Ok(page)
}

/// `POST /admin/secrets/{name}`
pub async fn update(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (secret, images) = load(&state, path.into_inner()).await?;
    let (mut input, version) = SecretInput::from_form(form.into_inner());
    input.name = secret.name.clone();
    input.kind = secret.kind.as_str().into();
    match ops::update(&state, ctx.admin(), &secret, &input, version.expected()).await {
        Ok(()) => ctx.done(
            format!("Secret {} updated.{}", secret.name, kept_as(&input)),
            "/admin/secrets",
        ),
        Err(Failure::Invalid(errors)) => {
            FormPage::rejected(ctx.0, input, version, Some((secret, images)), errors)
        }
        Err(e @ Failure::Stale { .. }) => {
            // Show what is stored now, so the administrator can redo the edit on top.
            let current = load(&state, secret.name).await?;
            let shown = FormState::refused(current.0.version, &e);
            conflict(&FormPage::stored(ctx.0, current, shown))
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /admin/secrets/{name}/delete`: asks first; a secret in use is
/// refused right here.
pub async fn delete_confirm(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (secret, images) = load(&state, path.into_inner()).await?;
    if !images.is_empty() {
        return in_use(ctx.0, &secret.name, secret.label(), images);
    }
    let page = confirm_page(&state, ctx.0, secret, None).await?;
    render(StatusCode::OK, &page)
}

/// How far back the delete page looks for clusters that fetched a secret;
/// any there, and its name must be typed.
const SHOWN_FETCHES: i64 = 7 * 24 * 3600;

/// The delete question for `secret`, with what depends on it: the clusters
/// that fetched it lately (then the name must be typed) and the node
/// patterns it is delivered for.
async fn confirm_page(
    state: &AppState,
    ctx: Ctx,
    secret: Secret,
    error: Option<String>,
) -> Result<ConfirmDelete, AppError> {
    let name = secret.name.clone();
    let since = db::now() - SHOWN_FETCHES;
    let fetched = db::run(&state.pool, move |c| {
        Ok(crate::clusters::serving::fetched_by(c, &name, since)?)
    })
    .await?;
    let mut uses: Vec<String> = fetched
        .iter()
        .map(|f| format!("Cluster {} fetched it in the last 7 days.", f.describe()))
        .collect();
    if secret.deliver {
        let patterns: Vec<&str> = secret.node_patterns.lines().collect();
        let served = match (patterns.is_empty(), secret.registry_host.as_deref()) {
            (true, Some(host)) => host.to_owned(),
            _ => patterns.join(", "),
        };
        uses.push(if served.is_empty() {
            "It is delivered to clusters, which fetch it by name.".to_owned()
        } else {
            format!(
                "It is delivered to clusters: kubelet asks for it for images matching {served}."
            )
        });
    }
    Ok(ConfirmDelete {
        uses,
        type_name: !fetched.is_empty(),
        error,
        ctx,
        kind: "secret",
        label: secret.label().to_owned(),
        name: secret.name,
        list: "/admin/secrets",
    })
}

/// The refusal to delete a secret that images use, naming them.
fn in_use(
    ctx: Ctx,
    name: &str,
    label: &str,
    images: Vec<ImageUse>,
) -> Result<HttpResponse, AppError> {
    Refused {
        ctx,
        title: format!("Secret {label} is in use"),
        message: if images.len() == 1 {
            format!(
                "Secret {label} cannot be deleted: 1 image uses it as its Image Pull Secret. Choose another secret for it, or delete it, first."
            )
        } else {
            format!(
                "Secret {label} cannot be deleted: {} use it as their Image Pull Secret. Choose another secret for them, or delete them, first.",
                crate::domain::count(images.len(), "image")
            )
        },
        items: images
            .into_iter()
            .map(|i| Link {
                href: format!("/admin/images/{}", i.name),
                label: i.label,
            })
            .collect(),
        back: format!("/admin/secrets/{name}"),
    }
    .respond()
}

/// `POST /admin/secrets/{name}/delete`
pub async fn delete(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<crate::web::DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    // A name typed on the page confirms deleting a secret clusters use;
    // a wrong one confirms nothing.
    let confirmed = match form.typed() {
        Some(typed) if typed == name => ops::Confirmed::Yes,
        Some(_) => {
            let (secret, _) = load(&state, name).await?;
            let again = format!("Type {} exactly to delete it.", secret.name);
            let page = confirm_page(&state, ctx.0, secret, Some(again)).await?;
            return unprocessable(&page);
        }
        None => ops::Confirmed::No,
    };
    match ops::delete(&state, ctx.admin(), &name, confirmed).await {
        Ok(()) => ctx.done(format!("Secret {name} deleted."), "/admin/secrets"),
        Err(Failure::Refused(Kept::Images(InUse { label, images }))) => {
            in_use(ctx.0, &name, &label, images)
        }
        Err(Failure::Refused(Kept::Fetched { .. })) => {
            // Fetched since the question was shown: ask again, with the
            // name to type.
            let (secret, _) = load(&state, name).await?;
            let page = confirm_page(&state, ctx.0, secret, None).await?;
            unprocessable(&page)
        }
        Err(other) => Err(other.into()),
    }
}
