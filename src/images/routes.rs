//! Handlers and page structs of the Images area and the catalogue.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;

use super::form::{Choices, ImageInput};
use super::ops;
use super::store::{self, Image, registry_mismatch};
use crate::auth::{AdminCtx, Gate};
use crate::db::{self, Named};
use crate::error::AppError;
use crate::groups::store::GroupTag;
use crate::listing::{Listing, Page, QueryPairs};
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{
    ConfirmDelete, Ctx, FieldErrors, FormState, FormVersion, conflict, render_like_last,
    unprocessable,
};

#[derive(Template, WebTemplate)]
#[template(path = "images/list.html")]
struct ListPage {
    ctx: Ctx,
    page: Page<usize>,
    view: store::View,
}

impl ListPage {
    /// A row's HTML: made once per image and snapshot.
    fn row(&self, at: &usize) -> askama::Result<std::borrow::Cow<'_, str>> {
        self.view.row(*at, |i| ImageRow { i }.render())
    }
}

#[derive(Template)]
#[template(path = "images/_row.html")]
struct ImageRow<'a> {
    i: &'a Image,
}

#[derive(Template)]
#[template(path = "images/_card.html")]
struct ImageCard<'a> {
    i: &'a Image,
}

/// `GET /admin/images`: the session check and the page in one hop.
pub async fn list(
    gate: Gate,
    cache: web::Data<store::ImagesList>,
    query: QueryPairs,
) -> Result<impl Responder, AppError> {
    let listing = Listing::lenient::<store::ImageSort>(&query, "/admin/images");
    let (ctx, (page, view)) = gate
        .admin(move |read| store::list(read, &cache, &listing))
        .await?;
    static LAST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    render_like_last(
        StatusCode::OK,
        &ListPage {
            ctx: ctx.0,
            page,
            view,
        },
        &LAST,
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "images/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormState,
    /// What the fields show.
    values: ImageInput,
    choices: Choices,
    /// The stored image, on edit.
    image: Option<Image>,
}

impl FormPage {
    fn ticked(&self, group: &str) -> bool {
        self.values.groups.iter().any(|g| g == group)
    }

    /// The registry mismatch warning for what the form shows now.
    fn warning(&self) -> Option<String> {
        let v = &self.values;
        if !v.use_pull_secret {
            return None;
        }
        let choice = self
            .choices
            .secrets
            .iter()
            .find(|c| c.name == v.pull_secret)?;
        let gpu = Some(v.url_for_gpu.as_str()).filter(|u| !u.trim().is_empty());
        registry_mismatch(&choice.registry_host, &choice.label, &v.url, gpu)
    }

    /// The edit form of what is stored now, in `form`.
    fn stored(ctx: Ctx, image: Image, choices: Choices, form: FormState) -> Self {
        Self {
            ctx,
            form,
            values: ImageInput::of(&image),
            choices,
            image: Some(image),
        }
    }

    /// A submitted form shown again with its messages (422).
    fn rejected(
        ctx: Ctx,
        values: ImageInput,
        version: FormVersion,
        choices: Choices,
        image: Option<Image>,
        errors: FieldErrors,
    ) -> Result<HttpResponse, AppError> {
        let form = FormState::rejected(image.is_none(), version, errors);
        unprocessable(&Self {
            ctx,
            form,
            values,
            choices,
            image,
        })
    }
}

async fn choices(state: &AppState) -> Result<Choices, AppError> {
    db::run(&state.pool, |c| Ok(Choices::load(c)?)).await
}

/// `GET /admin/images/new`
pub async fn new_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
) -> Result<impl Responder, AppError> {
    Ok(FormPage {
        ctx: ctx.0,
        form: FormState::new_item(),
        values: ImageInput::default(),
        choices: choices(&state).await?,
        image: None,
    })
}

/// `POST /admin/images`
pub async fn create(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (input, version) = ImageInput::from_form(form.into_inner());
    let errors = match ops::create(&state, ctx.admin(), &input).await {
        Ok(name) => return ctx.done(format!("Image {name} created."), "/admin/images"),
        Err(failure) => failure.form_errors()?,
    };
    let choices = choices(&state).await?;
    FormPage::rejected(ctx.0, input, version, choices, None, errors)
}

async fn load(state: &AppState, name: String) -> Result<(Image, Choices), AppError> {
    db::run(&state.pool, move |c| {
        let image = store::find(c, &name)?.ok_or_else(|| AppError::no_such("image", &name))?;
        Ok((image, Choices::load(c)?))
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
    let form = FormState::editing(image.version);
    Ok(FormPage::stored(ctx.0, image, choices, form))
}

/// `POST /admin/images/{name}`
pub async fn update(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (mut input, version) = ImageInput::from_form(form.into_inner());
    let name = path.into_inner();
    let image = db::run(&state.pool, move |c| {
        store::find(c, &name)?.ok_or_else(|| AppError::no_such("image", &name))
    })
    .await?;
    input.name = image.name.clone();
    match ops::update(&state, ctx.admin(), &image, &input, version.expected()).await {
        Ok(()) => ctx.done(format!("Image {} updated.", image.name), "/admin/images"),
        Err(Failure::Invalid(errors)) => {
            // Beside the fields, over what is stored now.
            let (current, choices) = load(&state, image.name).await?;
            FormPage::rejected(ctx.0, input, version, choices, Some(current), errors)
        }
        Err(e @ Failure::Stale { .. }) => {
            let (current, choices) = load(&state, image.name).await?;
            let shown = FormState::refused(current.version, &e);
            conflict(&FormPage::stored(ctx.0, current, choices, shown))
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /admin/images/{name}/delete`
pub async fn delete_confirm(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<impl Responder, AppError> {
    let (image, _) = load(&state, path.into_inner()).await?;
    Ok(ConfirmDelete {
        uses: Vec::new(),
        type_name: false,
        error: None,
        ctx: ctx.0,
        kind: "image",
        label: image.label().to_owned(),
        name: image.name,
        list: "/admin/images",
    })
}

/// `POST /admin/images/{name}/delete`
pub async fn delete(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    ops::delete(&state, ctx.admin(), &name).await?;
    ctx.done(format!("Image {name} deleted."), "/admin/images")
}

#[derive(Template, WebTemplate)]
#[template(path = "images/catalogue.html")]
struct CataloguePage {
    ctx: Ctx,
    page: Page<usize>,
    view: store::View,
    /// The viewer's groups, to filter by.
    groups: Vec<GroupTag>,
    /// The group filtered by, if any.
    group: Option<String>,
    /// Why there is nothing to show: `?group=` named no group of theirs.
    no_group: Option<String>,
}

impl CataloguePage {
    /// A card's HTML: kept per image and snapshot, unless the viewer sees
    /// only some of its groups.
    fn card(&self, at: &usize) -> askama::Result<std::borrow::Cow<'_, str>> {
        self.view.card(*at, |i| ImageCard { i }.render())
    }

    fn group_href(&self, name: &str) -> String {
        format!(
            "/?group={}",
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
        )
    }
}

/// `GET /`: the images a signed-in user may use (the global ones and those
/// of their groups; administrators see all), 50 a page, searchable,
/// `?group=` for one of their groups (any other name, whether a group or
/// not, is 404 with the same sentence), with whether each needs a pull
/// secret, but nothing of the secret itself.
pub async fn catalogue(
    gate: Gate,
    cache: web::Data<store::ImagesList>,
    query: QueryPairs,
) -> Result<HttpResponse, AppError> {
    let mut listing = Listing::lenient::<store::CatalogueSort>(&query, "/");
    let group = Some(query.get("group").trim().to_owned()).filter(|g| !g.is_empty());
    listing.keep = group.clone().map(|g| ("group", g));
    let asked = group.clone();
    // From memory, or the session check and the page in one trip.
    let (ctx, found) = gate
        .user(move |u, read| store::catalogue(read, &cache, &listing, u.id, u.is_admin, &asked))
        .await?;
    let status = match found.no_group {
        Some(_) => StatusCode::NOT_FOUND,
        None => StatusCode::OK,
    };
    static LAST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    render_like_last(
        status,
        &CataloguePage {
            ctx,
            page: found.page,
            view: found.view,
            groups: found.groups,
            group,
            no_group: found.no_group.map(|e| e.to_string()),
        },
        &LAST,
    )
}
