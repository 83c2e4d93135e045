//! Handlers and page structs of the Secrets area.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::form::SecretForm;
use super::ops::{self, InUse};
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
    ConfirmDelete, Ctx, FieldErrors, FormState, Link, Refused, conflict, render, unprocessable,
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
    let kept = (cache.clone(), listing.clone());
    let (ctx, (page, summary)) = gate
        .admin(
            move |now| {
                let (cache, listing) = kept;
                Some((
                    store::list_kept(&cache, &listing, attention, now)?,
                    store::summary_kept(&cache, now)?,
                ))
            },
            move |c, seen| {
                Ok((
                    store::list(c, &cache, listing, attention, seen)?,
                    store::summary(c, &cache)?,
                ))
            },
        )
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

/// The add/edit form's values as shown (never a password or key).
pub struct SecretFields {
    pub name: String,
    pub display_name: String,
    /// `image_pull`, `git_sync` or `ecr`.
    pub kind: String,
    pub registry_host: String,
    pub username: String,
    /// Amazon ECR: the access key ID.
    pub access_key_id: String,
    /// Amazon ECR: the API endpoint.
    pub endpoint: String,
    pub expires_on: String,
    /// "Deliver to clusters" ticked.
    pub deliver: bool,
    /// "Node image patterns", one per line.
    pub node_patterns: String,
}

impl SecretFields {
    fn of(secret: &Secret) -> Self {
        let user = secret.username.clone().unwrap_or_default();
        let (username, access_key_id) = match secret.kind {
            Kind::Ecr => (String::new(), user),
            _ => (user, String::new()),
        };
        Self {
            name: secret.name.clone(),
            display_name: secret.display_name.clone(),
            kind: secret.kind.as_str().into(),
            registry_host: secret.registry_host.clone().unwrap_or_default(),
            username,
            access_key_id,
            endpoint: secret.endpoint.clone().unwrap_or_default(),
            expires_on: secret.expires_on.clone().unwrap_or_default(),
            deliver: secret.deliver,
            node_patterns: secret.node_patterns.clone(),
        }
    }

    fn from_form(form: &SecretForm) -> Self {
        Self {
            name: form.name.clone(),
            display_name: form.display_name.clone(),
            kind: form.kind.clone(),
            registry_host: form.registry_host.clone(),
            username: form.username.clone(),
            access_key_id: form.access_key_id.clone(),
            endpoint: form.endpoint.clone(),
            expires_on: form.expires_on.clone(),
            deliver: form.deliver.is_some(),
            node_patterns: form.node_patterns.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "secrets/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormState,
    values: SecretFields,
    /// The stored secret, on edit.
    secret: Option<Secret>,
    /// Images that use it, on edit.
    images: Vec<ImageUse>,
    /// "Which secret serves this image?", when asked.
    dry_run: Option<DryRun>,
}

impl SecretFields {
    /// The type as the read-only field shows it.
    pub fn kind_label(&self) -> &'static str {
        Kind::parse(&self.kind).map_or("Image Pull", Kind::label)
    }
}

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
        if self.form.is_new {
            "The access key's secret; never shown again."
        } else {
            "A secret access key is stored; leave blank to keep it."
        }
    }

    fn password_hint(&self) -> &'static str {
        if self.form.is_new {
            "The password or access token (e.g. a GitLab deploy token)."
        } else {
            "A password is stored; leave blank to keep it."
        }
    }

    fn key_hint(&self) -> &'static str {
        if self.form.is_new {
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
            values: SecretFields::of(&secret),
            secret: Some(secret),
            images,
            dry_run: None,
        }
    }

    /// A submitted form shown again with its messages (422).
    fn rejected(
        ctx: Ctx,
        f: &SecretForm,
        stored: Option<(Secret, Vec<ImageUse>)>,
        errors: FieldErrors,
    ) -> Result<HttpResponse, AppError> {
        let form = FormState::rejected(stored.is_none(), f.version, errors);
        let (secret, images) = stored.map_or((None, Vec::new()), |(s, i)| (Some(s), i));
        let values = SecretFields::from_form(f);
        unprocessable(&Self {
            ctx,
            form,
            values,
            secret,
            images,
            dry_run: None,
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
    let form = SecretForm {
        kind: kind.as_str().into(),
        ..SecretForm::default()
    };
    FormPage {
        ctx: ctx.0,
        form: FormState::new_item(),
        values: SecretFields::from_form(&form),
        secret: None,
        images: Vec::new(),
        dry_run: None,
    }
}

/// `POST /admin/secrets`
pub async fn create(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<SecretForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match ops::create(&state, ctx.admin(), &form).await {
        Ok(name) => ctx.done(format!("Secret {name} created."), "/admin/secrets"),
        Err(failure) => FormPage::rejected(ctx.0, &form, None, failure.form_errors()?),
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
    form: web::Form<SecretForm>,
) -> Result<HttpResponse, AppError> {
    let (secret, images) = load(&state, path.into_inner()).await?;
    let mut form = form.into_inner();
    form.name = secret.name.clone();
    form.kind = secret.kind.as_str().into();
    let expected = form.version.expected();
    match ops::update(&state, ctx.admin(), &secret, &form, expected).await {
        Ok(()) => ctx.done(format!("Secret {} updated.", secret.name), "/admin/secrets"),
        Err(Failure::Invalid(errors)) => {
            FormPage::rejected(ctx.0, &form, Some((secret, images)), errors)
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
    let page = ConfirmDelete {
        ctx: ctx.0,
        kind: "secret",
        label: secret.label().to_owned(),
        name: secret.name,
        list: "/admin/secrets",
    };
    render(StatusCode::OK, &page)
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
        message: format!(
            "Secret {label} cannot be deleted: {} image(s) use it as their Image Pull Secret. Choose another secret for them, or delete them, first.",
            images.len()
        ),
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
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    match ops::delete(&state, ctx.admin(), &name).await {
        Ok(()) => ctx.done(format!("Secret {name} deleted."), "/admin/secrets"),
        Err(Failure::Refused(InUse { label, images })) => in_use(ctx.0, &name, &label, images),
        Err(other) => Err(other.into()),
    }
}
