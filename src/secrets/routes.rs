//! Handlers and page structs of the Secrets area.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::form::{Credential, SecretForm, Valid};
use super::store::{self, Deleted, Kind, Secret, WriteError};
use crate::audit::audited;
use crate::auth::{AdminCtx, Ctx};
use crate::db;
use crate::error::AppError;
use crate::forms::{FieldErrors, unprocessable, with_status};
use crate::listing::{ListQuery, Listing, Page, QueryPairs};
use crate::pages::Refused;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "secrets/list.html")]
struct ListPage {
    ctx: Ctx,
    page: Page<Secret>,
}

/// `GET /admin/secrets`
pub async fn list(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    query: QueryPairs,
) -> Result<impl Responder, AppError> {
    let listing = Listing::parse(&ListQuery::from(&query), "/admin/secrets", store::SORTS);
    let page = db::run(&state.pool, move |c| Ok(store::list(c, listing)?)).await?;
    Ok(ListPage { ctx: ctx.0, page })
}

/// The add/edit form's values as shown (never a password or key).
pub struct FormView {
    /// Add (true) or edit.
    pub is_new: bool,
    pub name: String,
    pub display_name: String,
    /// `image_pull` or `git_sync`.
    pub kind: String,
    pub registry_host: String,
    pub username: String,
    /// The row version the form was opened at.
    pub version: i64,
    pub errors: FieldErrors,
    /// A message above the form (someone else saved first).
    pub notice: Option<String>,
}

impl FormView {
    fn of(secret: &Secret) -> Self {
        Self {
            is_new: false,
            name: secret.name.clone(),
            display_name: secret.display_name.clone(),
            kind: secret.kind.as_str().into(),
            registry_host: secret.registry_host.clone().unwrap_or_default(),
            username: secret.username.clone().unwrap_or_default(),
            version: secret.version,
            errors: FieldErrors::default(),
            notice: None,
        }
    }

    fn from_form(form: SecretForm, is_new: bool, errors: FieldErrors) -> Self {
        Self {
            is_new,
            name: form.name,
            display_name: form.display_name,
            kind: form.kind,
            registry_host: form.registry_host,
            username: form.username,
            version: form.version.parse().unwrap_or(0),
            errors,
            notice: None,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "secrets/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormView,
    /// The stored secret, on edit.
    secret: Option<Secret>,
    /// Images that use it (name, label), on edit.
    images: Vec<(String, String)>,
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
        form: FormView {
            is_new: true,
            name: String::new(),
            display_name: String::new(),
            kind: kind.as_str().into(),
            registry_host: String::new(),
            username: String::new(),
            version: 0,
            errors: FieldErrors::default(),
            notice: None,
        },
        secret: None,
        images: Vec::new(),
    }
}

/// Seals the new password or key, if one was given, under the master key
/// with the name as associated data.
fn seal(state: &AppState, valid: &Valid) -> Option<Vec<u8>> {
    let value = match &valid.credential {
        Credential::ImagePull { password, .. } => password.as_ref(),
        Credential::GitSync { key } => key.as_ref(),
    }?;
    Some(
        state
            .master
            .seal(valid.name.as_str().as_bytes(), value.expose().as_bytes()),
    )
}

/// Runs `f(write)` with the row fields of a valid form.
fn write_of<'a>(valid: &'a Valid, sealed: Option<Vec<u8>>) -> store::Write<'a> {
    let (host, user) = match &valid.credential {
        Credential::ImagePull { host, username, .. } => {
            (Some(host.as_str()), Some(username.as_str()))
        }
        Credential::GitSync { .. } => (None, None),
    };
    store::Write {
        name: valid.name.as_str(),
        display_name: valid.display_name.as_str(),
        kind: valid.kind(),
        registry_host: host,
        username: user,
        sealed,
    }
}

/// `POST /admin/secrets`
pub async fn create(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<SecretForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let rejected = |ctx: AdminCtx, form: SecretForm, errors| {
        let page = FormPage {
            ctx: ctx.0,
            form: FormView::from_form(form, true, errors),
            secret: None,
            images: Vec::new(),
        };
        unprocessable(page, &req)
    };
    let valid = match form.parse_new() {
        Ok(v) => v,
        Err(errors) => return Ok(rejected(ctx, form, errors)),
    };
    let sealed = seal(&state, &valid);
    let name = valid.name.to_string();
    let target = format!("secret/{}", valid.name);
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "secret created",
        target,
        move |c| Ok(store::insert(c, write_of(&valid, sealed))),
    )
    .await?;
    match outcome {
        Ok(_) => {
            ctx.session.flash(format!("Secret {name} created."))?;
            Ok(crate::auth::see_other("/admin/secrets"))
        }
        Err(e @ WriteError::Duplicate(_)) => {
            let mut errors = FieldErrors::default();
            errors.add("name", e.to_string());
            Ok(rejected(ctx, form, errors))
        }
        Err(e) => Err(AppError::internal(e)),
    }
}

/// Loads a secret by the path's name, or 404.
async fn load(state: &AppState, name: String) -> Result<(Secret, Vec<(String, String)>), AppError> {
    db::run(&state.pool, move |c| {
        let secret = store::find(c, &name)?
            .ok_or_else(|| AppError::NotFound(format!("There is no secret named {name}.")))?;
        let images = store::used_by(c, secret.id)?;
        Ok((secret, images))
    })
    .await
}

/// `GET /admin/secrets/{name}`
pub async fn edit_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<impl Responder, AppError> {
    let (secret, images) = load(&state, path.into_inner()).await?;
    Ok(FormPage {
        ctx: ctx.0,
        form: FormView::of(&secret),
        secret: Some(secret),
        images,
    })
}

/// `POST /admin/secrets/{name}`
pub async fn update(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<SecretForm>,
) -> Result<HttpResponse, AppError> {
    let (secret, images) = load(&state, path.into_inner()).await?;
    let mut form = form.into_inner();
    form.name = secret.name.clone();
    form.kind = secret.kind.as_str().into();
    let valid = match form.parse_edit(&secret.name, secret.kind) {
        Ok(v) => v,
        Err(errors) => {
            let page = FormPage {
                ctx: ctx.0,
                form: FormView::from_form(form, false, errors),
                secret: Some(secret),
                images,
            };
            return Ok(unprocessable(page, &req));
        }
    };
    let version = form.version.trim().parse::<i64>().unwrap_or(-1);
    let sealed = seal(&state, &valid);
    let name = secret.name.clone();
    let target = format!("secret/{name}");
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "secret updated",
        target,
        move |c| Ok(store::update(c, write_of(&valid, sealed), version)),
    )
    .await?;
    match outcome {
        Ok(()) => {
            ctx.session.flash(format!("Secret {name} updated."))?;
            Ok(crate::auth::see_other("/admin/secrets"))
        }
        Err(e @ WriteError::Stale) => {
            // Show what is stored now, so the administrator can redo the edit on top.
            let (current, images) = load(&state, name).await?;
            let mut view = FormView::of(&current);
            view.notice = Some(format!(
                "{e} Here is what it holds now; make your change again."
            ));
            let page = FormPage {
                ctx: ctx.0,
                form: view,
                secret: Some(current),
                images,
            };
            Ok(with_status(page, StatusCode::CONFLICT, &req))
        }
        Err(WriteError::Missing(n)) => {
            Err(AppError::NotFound(format!("There is no secret named {n}.")))
        }
        Err(e) => Err(AppError::internal(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "secrets/delete.html")]
struct DeletePage {
    ctx: Ctx,
    secret: Secret,
}

/// `GET /admin/secrets/{name}/delete`: asks first; a secret in use is
/// refused right here.
pub async fn delete_confirm(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (secret, images) = load(&state, path.into_inner()).await?;
    if !images.is_empty() {
        return Ok(in_use(ctx.0, &secret.name, secret.label(), images, &req));
    }
    Ok(DeletePage { ctx: ctx.0, secret }
        .respond_to(&req)
        .map_into_boxed_body())
}

fn in_use(
    ctx: Ctx,
    name: &str,
    label: &str,
    images: Vec<(String, String)>,
    req: &HttpRequest,
) -> HttpResponse {
    let page = Refused {
        ctx,
        title: format!("Secret {label} is in use"),
        message: format!(
            "Secret {label} cannot be deleted: {} image(s) use it as their Image Pull Secret. Choose another secret for them, or delete them, first.",
            images.len()
        ),
        items: images
            .into_iter()
            .map(|(n, l)| (format!("/admin/images/{n}"), l))
            .collect(),
        back: format!("/admin/secrets/{name}"),
    };
    with_status(page, StatusCode::CONFLICT, req)
}

/// `POST /admin/secrets/{name}/delete`
pub async fn delete(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let n = name.clone();
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "secret deleted",
        format!("secret/{name}"),
        move |c| {
            Ok(match store::delete(c, &n)? {
                Deleted::Yes => Ok(()),
                refused => Err(refused),
            })
        },
    )
    .await?;
    match outcome {
        Ok(()) => {
            ctx.session.flash(format!("Secret {name} deleted."))?;
            Ok(crate::auth::see_other("/admin/secrets"))
        }
        Err(Deleted::InUse(label, images)) => Ok(in_use(ctx.0, &name, &label, images, &req)),
        Err(_) => Err(AppError::NotFound(format!(
            "There is no secret named {name}."
        ))),
    }
}
