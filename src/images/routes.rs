//! Handlers and page structs of the Images area and the catalogue.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;

use super::form::{Choice, ImageForm};
use super::store::{self, Image, WriteError, registry_mismatch};
use crate::audit::audited;
use crate::auth::{AdminCtx, Ctx, see_other};
use crate::db;
use crate::error::AppError;
use crate::forms::{FieldErrors, unprocessable, with_status};
use crate::listing::{ListQuery, Listing, Page, QueryPairs};
use crate::secrets::store as secrets;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "images/list.html")]
struct ListPage {
    ctx: Ctx,
    page: Page<Image>,
}

/// `GET /admin/images`
pub async fn list(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    query: QueryPairs,
) -> Result<impl Responder, AppError> {
    let listing = Listing::parse(&ListQuery::from(&query), "/admin/images", store::SORTS);
    let page = db::run(&state.pool, move |c| Ok(store::list(c, listing)?)).await?;
    Ok(ListPage { ctx: ctx.0, page })
}

/// The form's values as shown.
pub struct FormView {
    pub is_new: bool,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub image_type: String,
    pub url: String,
    pub url_for_gpu: String,
    pub use_pull_secret: bool,
    /// The chosen secret's name.
    pub pull_secret: String,
    pub version: i64,
    pub errors: FieldErrors,
    pub notice: Option<String>,
}

impl FormView {
    fn of(image: &Image) -> Self {
        Self {
            is_new: false,
            name: image.name.clone(),
            display_name: image.display_name.clone(),
            description: image.description.clone(),
            image_type: image.image_type.as_str().into(),
            url: image.url.clone(),
            url_for_gpu: image.url_for_gpu.clone().unwrap_or_default(),
            use_pull_secret: image.pull_secret.is_some(),
            pull_secret: image
                .pull_secret
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            version: image.version,
            errors: FieldErrors::default(),
            notice: None,
        }
    }

    fn from_form(f: ImageForm, is_new: bool, errors: FieldErrors) -> Self {
        Self {
            is_new,
            image_type: f.image_type_value().to_owned(),
            name: f.name,
            display_name: f.display_name,
            description: f.description,
            url: f.url,
            url_for_gpu: f.url_for_gpu,
            use_pull_secret: f.use_pull_secret.is_some(),
            pull_secret: f.pull_secret,
            version: f.version.trim().parse().unwrap_or(0),
            errors,
            notice: None,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "images/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormView,
    choices: Vec<Choice>,
    /// The stored image, on edit.
    image: Option<Image>,
}

impl FormPage {
    /// The registry mismatch warning for what the form shows now.
    fn warning(&self) -> Option<String> {
        if !self.form.use_pull_secret {
            return None;
        }
        let choice = self.choices.iter().find(|c| c.1 == self.form.pull_secret)?;
        let gpu = Some(self.form.url_for_gpu.as_str()).filter(|u| !u.trim().is_empty());
        registry_mismatch(&choice.3, &choice.2, &self.form.url, gpu)
    }
}

async fn choices(state: &AppState) -> Result<Vec<Choice>, AppError> {
    db::run(&state.pool, |c| Ok(secrets::image_pull_choices(c)?)).await
}

/// `GET /admin/images/new`
pub async fn new_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
) -> Result<impl Responder, AppError> {
    Ok(FormPage {
        ctx: ctx.0,
        form: FormView::from_form(ImageForm::default(), true, FieldErrors::default()),
        choices: choices(&state).await?,
        image: None,
    })
}

/// `POST /admin/images`
pub async fn create(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<ImageForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let choices = choices(&state).await?;
    let valid = match form.parse(&form.name, &choices) {
        Ok(v) => v,
        Err(errors) => {
            let page = FormPage {
                ctx: ctx.0,
                form: FormView::from_form(form, true, errors),
                choices,
                image: None,
            };
            return Ok(unprocessable(page, &req));
        }
    };
    let name = valid.name.to_string();
    let target = format!("image/{name}");
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "image created",
        target,
        move |c| Ok(store::insert(c, &valid.write())),
    )
    .await?;
    match outcome {
        Ok(_) => {
            ctx.session.flash(format!("Image {name} created."))?;
            Ok(see_other("/admin/images"))
        }
        Err(e @ (WriteError::Duplicate(_) | WriteError::SecretGone)) => {
            let mut errors = FieldErrors::default();
            let field = if let WriteError::SecretGone = e {
                "pull_secret"
            } else {
                "name"
            };
            errors.add(field, e.to_string());
            let choices = self::choices(&state).await?;
            let page = FormPage {
                ctx: ctx.0,
                form: FormView::from_form(form, true, errors),
                choices,
                image: None,
            };
            Ok(unprocessable(page, &req))
        }
        Err(e) => Err(AppError::internal(e)),
    }
}

async fn load(state: &AppState, name: String) -> Result<(Image, Vec<Choice>), AppError> {
    db::run(&state.pool, move |c| {
        let image = store::find(c, &name)?
            .ok_or_else(|| AppError::NotFound(format!("There is no image named {name}.")))?;
        Ok((image, secrets::image_pull_choices(c)?))
    })
    .await
}

/// `GET /admin/images/{name}`
pub async fn edit_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<impl Responder, AppError> {
    let (image, choices) = load(&state, path.into_inner()).await?;
    Ok(FormPage {
        ctx: ctx.0,
        form: FormView::of(&image),
        choices,
        image: Some(image),
    })
}

/// `POST /admin/images/{name}`
pub async fn update(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ImageForm>,
) -> Result<HttpResponse, AppError> {
    let (image, choices) = load(&state, path.into_inner()).await?;
    let mut form = form.into_inner();
    form.name = image.name.clone();
    let valid = match form.parse(&image.name, &choices) {
        Ok(v) => v,
        Err(errors) => {
            let page = FormPage {
                ctx: ctx.0,
                form: FormView::from_form(form, false, errors),
                choices,
                image: Some(image),
            };
            return Ok(unprocessable(page, &req));
        }
    };
    let version = form.version.trim().parse::<i64>().unwrap_or(-1);
    let name = image.name.clone();
    let target = format!("image/{name}");
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "image updated",
        target,
        move |c| Ok(store::update(c, &valid.write(), version)),
    )
    .await?;
    match outcome {
        Ok(()) => {
            ctx.session.flash(format!("Image {name} updated."))?;
            Ok(see_other("/admin/images"))
        }
        Err(e @ WriteError::Stale) => {
            let (current, choices) = load(&state, name).await?;
            let mut view = FormView::of(&current);
            view.notice = Some(format!(
                "{e} Here is what it holds now; make your change again."
            ));
            let page = FormPage {
                ctx: ctx.0,
                form: view,
                choices,
                image: Some(current),
            };
            Ok(with_status(page, StatusCode::CONFLICT, &req))
        }
        Err(e @ WriteError::SecretGone) => {
            let mut errors = FieldErrors::default();
            errors.add("pull_secret", e.to_string());
            let (current, choices) = load(&state, name).await?;
            let page = FormPage {
                ctx: ctx.0,
                form: FormView::from_form(form, false, errors),
                choices,
                image: Some(current),
            };
            Ok(unprocessable(page, &req))
        }
        Err(WriteError::Missing(n)) => {
            Err(AppError::NotFound(format!("There is no image named {n}.")))
        }
        Err(e) => Err(AppError::internal(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "images/delete.html")]
struct DeletePage {
    ctx: Ctx,
    image: Image,
}

/// `GET /admin/images/{name}/delete`
pub async fn delete_confirm(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<impl Responder, AppError> {
    let (image, _) = load(&state, path.into_inner()).await?;
    Ok(DeletePage { ctx: ctx.0, image })
}

/// `POST /admin/images/{name}/delete`
pub async fn delete(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let n = name.clone();
    let deleted = audited(
        &state.pool,
        ctx.actor(),
        "image deleted",
        format!("image/{name}"),
        move |c| {
            Ok(if store::delete(c, &n)? {
                Ok(())
            } else {
                Err(())
            })
        },
    )
    .await?;
    if deleted.is_err() {
        return Err(AppError::NotFound(format!(
            "There is no image named {name}."
        )));
    }
    ctx.session.flash(format!("Image {name} deleted."))?;
    Ok(see_other("/admin/images"))
}

#[derive(Template, WebTemplate)]
#[template(path = "images/catalogue.html")]
struct CataloguePage {
    ctx: Ctx,
    page: Page<Image>,
}

/// Sort keys of the catalogue: by what people read first.
const CATALOGUE_SORTS: &[&str] = &["display_name", "name", "type", "updated"];

/// `GET /`: the images a signed-in user can start, 50 a page, searchable,
/// with whether each needs a pull secret, but nothing of the secret itself.
pub async fn catalogue(
    ctx: Ctx,
    state: web::Data<AppState>,
    query: QueryPairs,
) -> Result<impl Responder, AppError> {
    let listing = Listing::parse(&ListQuery::from(&query), "/", CATALOGUE_SORTS);
    let page = db::run(&state.pool, move |c| Ok(store::list(c, listing)?)).await?;
    Ok(CataloguePage { ctx, page })
}
