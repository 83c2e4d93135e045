//! Handlers and page structs of the Users area.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::store::{self, Account, AccountChange, CreateError, Refusal};
use crate::audit::audited;
use crate::auth::{AdminCtx, Ctx, see_other};
use crate::db;
use crate::domain::{Password, Username};
use crate::error::AppError;
use crate::forms::{FieldErrors, unprocessable, with_status};
use crate::listing::{ListQuery, Listing, Page, QueryPairs};
use crate::pages::Refused;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "users/list.html")]
struct ListPage {
    ctx: Ctx,
    page: Page<Account>,
}

/// `GET /admin/users`
pub async fn list(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    query: QueryPairs,
) -> Result<impl Responder, AppError> {
    let listing = Listing::parse(&ListQuery::from(&query), "/admin/users", store::SORTS);
    let page = db::run(&state.pool, move |c| Ok(store::list(c, listing)?)).await?;
    Ok(ListPage { ctx: ctx.0, page })
}

/// The user form as posted. Missing checkboxes are unticked.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UserForm {
    username: String,
    password: String,
    is_admin: Option<String>,
    active: Option<String>,
    version: String,
}

/// The password is never printed, not even in a debug log.
impl std::fmt::Debug for UserForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserForm")
            .field("username", &self.username)
            .field("password", &crate::forms::redacted(&self.password))
            .field("is_admin", &self.is_admin)
            .field("active", &self.active)
            .field("version", &self.version)
            .finish()
    }
}

/// The form's values as shown (never the password).
pub struct FormView {
    pub is_new: bool,
    pub username: String,
    pub is_admin: bool,
    pub active: bool,
    pub version: i64,
    pub errors: FieldErrors,
    pub notice: Option<String>,
}

impl FormView {
    fn of(a: &Account) -> Self {
        Self {
            is_new: false,
            username: a.user.username.clone(),
            is_admin: a.user.is_admin,
            active: a.user.active,
            version: a.version,
            errors: FieldErrors::default(),
            notice: None,
        }
    }

    fn from_form(f: UserForm, is_new: bool, errors: FieldErrors) -> Self {
        Self {
            is_new,
            username: f.username,
            is_admin: f.is_admin.is_some(),
            active: f.active.is_some(),
            version: f.version.trim().parse().unwrap_or(0),
            errors,
            notice: None,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormView,
    account: Option<Account>,
}

/// `GET /admin/users/new`: "Active" is ticked to begin with.
pub async fn new_form(ctx: AdminCtx) -> impl Responder {
    let form = FormView {
        is_new: true,
        username: String::new(),
        is_admin: false,
        active: true,
        version: 0,
        errors: FieldErrors::default(),
        notice: None,
    };
    FormPage {
        ctx: ctx.0,
        form,
        account: None,
    }
}

/// `POST /admin/users`
pub async fn create(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(&form.username));
    let password = errors.check("password", Password::parse(&form.password));
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        let page = FormPage {
            ctx: ctx.0,
            form: FormView::from_form(form, true, errors),
            account: None,
        };
        return Ok(unprocessable(page, &req));
    };
    let hash = state.hashing.hash(password).await?;
    let (is_admin, active) = (form.is_admin.is_some(), form.active.is_some());
    let name = username.to_string();
    let created = audited(
        &state.pool,
        ctx.actor(),
        "user created",
        format!("user/{name}"),
        move |c| Ok(store::create(c, &name, &hash, is_admin, active)),
    )
    .await?;
    match created {
        Ok(_) => {
            ctx.session.flash(format!("User {username} created."))?;
            Ok(see_other("/admin/users"))
        }
        Err(e @ CreateError::Duplicate(_)) => {
            let mut errors = FieldErrors::default();
            errors.add("username", e.to_string());
            let page = FormPage {
                ctx: ctx.0,
                form: FormView::from_form(form, true, errors),
                account: None,
            };
            Ok(unprocessable(page, &req))
        }
        Err(CreateError::Db(e)) => Err(e.into()),
    }
}

async fn load(state: &AppState, username: String) -> Result<Account, AppError> {
    db::run(&state.pool, move |c| {
        store::find_account(c, &username)?
            .ok_or_else(|| AppError::NotFound(format!("There is no user named {username}.")))
    })
    .await
}

/// `GET /admin/users/{username}`
pub async fn edit_form(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<impl Responder, AppError> {
    let account = load(&state, path.into_inner()).await?;
    Ok(FormPage {
        ctx: ctx.0,
        form: FormView::of(&account),
        account: Some(account),
    })
}

/// `POST /admin/users/{username}`: role, active, and a password reset
/// (blank keeps). The guards hold: never the last active administrator,
/// never yourself disabled.
pub async fn update(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, AppError> {
    let account = load(&state, path.into_inner()).await?;
    let mut form = form.into_inner();
    form.username = account.user.username.clone();
    let mut errors = FieldErrors::default();
    let password = if form.password.is_empty() {
        Some(None)
    } else {
        errors
            .check("password", Password::parse(&form.password))
            .map(Some)
    };
    let Some(password) = password else {
        let page = FormPage {
            ctx: ctx.0,
            form: FormView::from_form(form, false, errors),
            account: Some(account),
        };
        return Ok(unprocessable(page, &req));
    };
    let password_hash = match password {
        Some(p) => Some(state.hashing.hash(p).await?),
        None => None,
    };
    let change = (
        form.is_admin.is_some(),
        form.active.is_some(),
        form.version.trim().parse::<i64>().unwrap_or(-1),
    );
    let (actor_id, name) = (ctx.user.id, account.user.username.clone());
    let action = if password_hash.is_some() {
        "user updated (password reset)"
    } else {
        "user updated"
    };
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        action,
        format!("user/{name}"),
        move |c| {
            let change = AccountChange {
                username: &name,
                is_admin: change.0,
                active: change.1,
                password_hash,
                version: change.2,
            };
            Ok(store::update_account(c, actor_id, &change)?)
        },
    )
    .await?;
    let username = account.user.username.clone();
    match outcome {
        Ok(()) => {
            ctx.session.flash(format!("User {username} updated."))?;
            if account.user.id != ctx.user.id {
                return Ok(see_other("/admin/users"));
            }
            // Your own account: a new password ended your sessions, so this
            // one carries on under the new version; without the role, the
            // Admin Portal is closed to you now.
            let id = ctx.user.id;
            let me = db::run(&state.pool, move |c| Ok(store::find_by_id(c, id)?)).await?;
            if let Some(me) = me {
                ctx.session.continue_as(me.session_version)?;
                if !me.is_admin {
                    return Ok(see_other("/"));
                }
            }
            Ok(see_other("/admin/users"))
        }
        Err(Refusal::Missing(n)) => Err(AppError::NotFound(format!("There is no user named {n}."))),
        Err(e) => {
            // Show what is stored now, with why the change was refused.
            let current = load(&state, username).await?;
            let mut view = FormView::of(&current);
            let field = match e {
                Refusal::DisableSelf => "active",
                Refusal::LastAdmin(_) if form.is_admin.is_none() => "is_admin",
                Refusal::LastAdmin(_) => "active",
                _ => "",
            };
            if field.is_empty() {
                view.notice = Some(format!(
                    "{e} Here is what it holds now; make your change again."
                ));
            } else {
                view.errors.add(field, e.to_string());
            }
            let page = FormPage {
                ctx: ctx.0,
                form: view,
                account: Some(current),
            };
            Ok(with_status(page, StatusCode::CONFLICT, &req))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/delete.html")]
struct DeletePage {
    ctx: Ctx,
    account: Account,
}

fn refused(ctx: Ctx, username: &str, e: &Refusal, req: &HttpRequest) -> HttpResponse {
    let page = Refused {
        ctx,
        title: format!("User {username} cannot be deleted"),
        message: e.to_string(),
        items: vec![(format!("/admin/users/{username}"), username.to_owned())],
        back: "/admin/users".into(),
    };
    with_status(page, StatusCode::CONFLICT, req)
}

/// `GET /admin/users/{username}/delete`: asks first; refuses at once what
/// would be refused anyway.
pub async fn delete_confirm(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let account = load(&state, path.into_inner()).await?;
    let (actor_id, id) = (ctx.user.id, account.user.id);
    let last_admin = id != actor_id
        && account.user.is_admin
        && account.user.active
        && db::run(&state.pool, move |c| Ok(store::other_active_admins(c, id)?)).await? == 0;
    let name = account.user.username.clone();
    if id == actor_id {
        return Ok(refused(ctx.0, &name, &Refusal::DeleteSelf, &req));
    }
    if last_admin {
        return Ok(refused(
            ctx.0,
            &name,
            &Refusal::LastAdmin(name.clone()),
            &req,
        ));
    }
    Ok(DeletePage {
        ctx: ctx.0,
        account,
    }
    .respond_to(&req)
    .map_into_boxed_body())
}

/// `POST /admin/users/{username}/delete`
pub async fn delete(
    req: HttpRequest,
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let (actor_id, n) = (ctx.user.id, name.clone());
    let outcome = audited(
        &state.pool,
        ctx.actor(),
        "user deleted",
        format!("user/{name}"),
        move |c| Ok(store::delete_account(c, actor_id, &n)?),
    )
    .await?;
    match outcome {
        Ok(()) => {
            ctx.session.flash(format!("User {name} deleted."))?;
            Ok(see_other("/admin/users"))
        }
        Err(Refusal::Missing(n)) => Err(AppError::NotFound(format!("There is no user named {n}."))),
        Err(e) => Ok(refused(ctx.0, &name, &e, &req)),
    }
}

#[cfg(test)]
mod tests {
    use super::UserForm;

    #[test]
    fn debug_never_prints_the_password() {
        let form = UserForm {
            username: "ops".into(),
            password: "the-user-password".into(),
            ..UserForm::default()
        };
        let shown = format!("{form:?}");
        assert!(shown.contains("ops") && shown.contains("***"), "{shown}");
        assert!(!shown.contains("the-user-password"), "{shown}");
    }
}
