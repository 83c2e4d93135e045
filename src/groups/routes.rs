//! Handlers and page structs of the Groups area.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;

use super::store::{self, Group, GroupTag, WriteError};
use crate::audit::{self, Outcome, audited};
use crate::auth::AdminCtx;
use crate::db;
use crate::domain::{DisplayName, GroupName};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Ctx, FieldErrors, FormState, FormVersion, conflict, render, unprocessable};

crate::web::admin_list!(
    "groups/list.html",
    Group,
    "/admin/groups",
    store::SORTS,
    store::list
);

/// The group form as posted; `members` repeats, one per ticked user.
#[derive(Default, Debug)]
pub struct GroupForm {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub members: Vec<String>,
    pub version: FormVersion,
}

impl GroupForm {
    /// Reads the form's pairs: a repeated `members` is a list (serde's
    /// form reader keeps only one value of a key).
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "display_name" => f.display_name = v,
                "description" => f.description = v,
                "members" => f.members.push(v),
                "version" => f.version = FormVersion::parse(&v),
                _ => {}
            }
        }
        f
    }

    /// Checks the fields; returns the name, display name and description.
    pub fn parse(&self, name: &str) -> Result<(GroupName, DisplayName, String), FieldErrors> {
        let mut e = FieldErrors::default();
        let name = e.check("name", GroupName::parse(name));
        let display = e.check("display_name", DisplayName::parse(&self.display_name));
        let description = self.description.trim();
        if description.chars().count() > 2000 {
            e.add(
                "description",
                "Description must be at most 2000 characters.",
            );
        }
        match (name, display, e.is_empty()) {
            (Some(n), Some(d), true) => Ok((n, d, description.to_owned())),
            _ => Err(e),
        }
    }
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
    let (name, display, description) = match form.parse(&form.name) {
        Ok(v) => v,
        Err(errors) => return rejected(ctx.0, &state, form, None, errors).await,
    };
    let members = form.members.clone();
    let n = name.as_str().to_owned();
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "group created",
        format!("group/{n}"),
        move |c| {
            let w = store::Write {
                name: name.as_str(),
                display_name: display.as_str(),
                description: &description,
                members: &members,
            };
            Ok(store::insert(c, &w).into())
        },
    )
    .await?;
    match outcome {
        Outcome::Done(_) => ctx.done(format!("Group {n} created."), "/admin/groups"),
        Outcome::Refused(e @ WriteError::Duplicate(_)) => {
            let mut errors = FieldErrors::default();
            errors.add("name", e.to_string());
            rejected(ctx.0, &state, form, None, errors).await
        }
        Outcome::Refused(e) => Err(AppError::internal(e)),
    }
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
    let (name, display, description) = match form.parse(&group.name) {
        Ok(v) => v,
        Err(errors) => return rejected(ctx.0, &state, form, Some(group), errors).await,
    };
    let (members, version) = (form.members.clone(), form.version.expected());
    let n = name.as_str().to_owned();
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "group updated",
        format!("group/{n}"),
        move |c| {
            let w = store::Write {
                name: name.as_str(),
                display_name: display.as_str(),
                description: &description,
                members: &members,
            };
            Ok(store::update(c, &w, version).into())
        },
    )
    .await?;
    match outcome {
        Outcome::Done(()) => ctx.done(format!("Group {n} updated."), "/admin/groups"),
        Outcome::Refused(e @ WriteError::Stale) => {
            let (current, members) = load(&state, n).await?;
            let shown = FormState::refused(current.version, &e);
            conflict(&stored(ctx.0, &state, current, members, shown).await?)
        }
        Outcome::Refused(WriteError::Missing(n)) => Err(AppError::no_such("group", &n)),
        Outcome::Refused(e) => Err(AppError::internal(e)),
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
    audit::delete_named(&state.pool, ctx.actor(), "group", &name, store::delete).await?;
    ctx.done(format!("Group {name} deleted."), "/admin/groups")
}
