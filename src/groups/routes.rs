//! Handlers and page structs of the Groups area.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;

use super::form::GroupForm;
use super::ops;
use super::store::{self, Group, GroupTag};
use crate::auth::AdminCtx;
use crate::db::{self, Named};
use crate::error::AppError;
use crate::listing::{Page, QueryPairs};
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{Ctx, FieldErrors, FormState, conflict, render, unprocessable};

#[derive(Template, WebTemplate)]
#[template(path = "groups/list.html")]
struct ListPage {
    ctx: Ctx,
    page: Page<Group>,
}

/// `GET /admin/groups`
pub async fn list(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    query: QueryPairs,
) -> Result<impl Responder, AppError> {
    let page = crate::listing::load::<store::GroupSort, _>(
        &state.pool,
        &query,
        "/admin/groups",
        store::list,
    )
    .await?;
    Ok(ListPage { ctx: ctx.0, page })
}

/// The form's values as shown.
pub struct GroupFields {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub members: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "groups/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormState,
    values: GroupFields,
    /// Every user, for the Members checkboxes.
    users: Vec<String>,
    /// On edit: the images for the group.
    images: Vec<GroupTag>,
    group: Option<Group>,
}

impl FormPage {
    fn ticked(&self, user: &str) -> bool {
        self.values.members.iter().any(|m| m == user)
    }
}

/// Every user, and the group's images when there is a group.
async fn context(
    state: &AppState,
    group: Option<crate::domain::GroupId>,
) -> Result<(Vec<String>, Vec<GroupTag>), AppError> {
    db::run(&state.pool, move |c| {
        let images = match group {
            Some(id) => store::images_of(c, id)?,
            None => Vec::new(),
        };
        Ok((store::usernames(c)?, images))
    })
    .await
}

/// `GET /admin/groups/new`
pub async fn new_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
) -> Result<impl Responder, AppError> {
    let (users, _) = context(&state, None).await?;
    Ok(FormPage {
        ctx: ctx.0,
        form: FormState::new_item(),
        values: GroupFields {
            name: String::new(),
            display_name: String::new(),
            description: String::new(),
            members: Vec::new(),
        },
        users,
        images: Vec::new(),
        group: None,
    })
}

async fn rejected(
    ctx: Ctx,
    state: &AppState,
    f: GroupForm,
    group: Option<Group>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (users, images) = context(state, group.as_ref().map(|g| g.id)).await?;
    let form = FormState::rejected(group.is_none(), f.version, errors);
    let values = GroupFields {
        name: f.name,
        display_name: f.display_name,
        description: f.description,
        members: f.members,
    };
    unprocessable(&FormPage {
        ctx,
        form,
        values,
        users,
        images,
        group,
    })
}

/// `POST /admin/groups`
pub async fn create(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = GroupForm::from_pairs(form.into_inner());
    let errors = match ops::create(&state, ctx.admin(), &form).await {
        Ok(name) => return ctx.done(format!("Group {name} created."), "/admin/groups"),
        Err(failure) => failure.form_errors()?,
    };
    rejected(ctx.0, &state, form, None, errors).await
}

async fn load(state: &AppState, name: String) -> Result<(Group, Vec<String>), AppError> {
    db::run(&state.pool, move |c| {
        let group = store::find(c, &name)?.ok_or_else(|| AppError::no_such("group", &name))?;
        let members = store::members(c, group.id)?;
        Ok((group, members))
    })
    .await
}

async fn stored(
    ctx: Ctx,
    state: &AppState,
    group: Group,
    members: Vec<String>,
    form: FormState,
) -> Result<FormPage, AppError> {
    let (users, images) = context(state, Some(group.id)).await?;
    Ok(FormPage {
        ctx,
        form,
        values: GroupFields {
            name: group.name.clone(),
            display_name: group.display_name.clone(),
            description: group.description.clone(),
            members,
        },
        users,
        images,
        group: Some(group),
    })
}

/// `GET /admin/groups/{name}`
pub async fn edit_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<impl Responder, AppError> {
    let (group, members) = load(&state, path.into_inner()).await?;
    let form = FormState::editing(group.version);
    stored(ctx.0, &state, group, members, form).await
}

/// `POST /admin/groups/{name}`
pub async fn update(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (group, _) = load(&state, path.into_inner()).await?;
    let mut form = GroupForm::from_pairs(form.into_inner());
    form.name = group.name.clone();
    let expected = form.version.expected();
    match ops::update(&state, ctx.admin(), &group, &form, expected).await {
        Ok(()) => ctx.done(format!("Group {} updated.", group.name), "/admin/groups"),
        Err(Failure::Invalid(errors)) => rejected(ctx.0, &state, form, Some(group), errors).await,
        Err(e @ Failure::Stale { .. }) => {
            let (current, members) = load(&state, group.name).await?;
            let shown = FormState::refused(current.version, &e);
            conflict(&stored(ctx.0, &state, current, members, shown).await?)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "groups/delete.html")]
struct DeletePage {
    ctx: Ctx,
    group: Group,
    /// The images that will lose the group.
    images: Vec<GroupTag>,
}

/// `GET /admin/groups/{name}/delete`: asks first, naming the images that
/// will lose the group (they are not deleted).
pub async fn delete_confirm(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (group, _) = load(&state, path.into_inner()).await?;
    let (_, images) = context(&state, Some(group.id)).await?;
    render(
        StatusCode::OK,
        &DeletePage {
            ctx: ctx.0,
            group,
            images,
        },
    )
}

/// `POST /admin/groups/{name}/delete`
pub async fn delete(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    ops::delete(&state, ctx.admin(), &name).await?;
    ctx.done(format!("Group {name} deleted."), "/admin/groups")
}
