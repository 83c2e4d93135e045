//! Handlers and page structs of the Users area.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::store::{self, Account, AccountChange, Refusal};
use crate::audit::{self, Outcome, audited};
use crate::auth::store::CreateError;
use crate::auth::tokens;
use crate::auth::{self, AdminCtx};
use crate::db;
use crate::domain::{Password, Username};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{
    ConfirmDelete, Ctx, FieldErrors, FormState, FormVersion, Link, Refused, conflict, redacted,
    render, unprocessable,
};

crate::web::admin_list!(
    "users/list.html",
    Account,
    "/admin/users",
    store::SORTS,
    store::list
);

/// The user form as posted. Missing checkboxes are unticked.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UserForm {
    username: String,
    password: String,
    is_admin: Option<String>,
    active: Option<String>,
    version: FormVersion,
}

/// The password is never printed, not even in a debug log.
impl std::fmt::Debug for UserForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserForm")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("is_admin", &self.is_admin)
            .field("active", &self.active)
            .field("version", &self.version)
            .finish()
    }
}

impl UserForm {
    /// The password reset the form asks for: `None` when the field is
    /// blank (keep), else a valid new password or the field's error.
    fn reset_password(&self) -> Result<Option<Password>, FieldErrors> {
        if self.password.is_empty() {
            return Ok(None);
        }
        let mut errors = FieldErrors::default();
        match errors.check("password", Password::parse(&self.password)) {
            Some(p) => Ok(Some(p)),
            None => Err(errors),
        }
    }

    /// The change to apply, with the new password's hash if any.
    fn change(&self, password_hash: Option<String>) -> AccountChange {
        AccountChange {
            username: self.username.clone(),
            is_admin: self.is_admin.is_some(),
            active: self.active.is_some(),
            password_hash,
            version: self.version.expected(),
        }
    }
}

/// The form's values as shown (never the password).
pub struct UserFields {
    pub username: String,
    pub is_admin: bool,
    pub active: bool,
}

impl UserFields {
    fn of(a: &Account) -> Self {
        Self {
            username: a.user.username.clone(),
            is_admin: a.user.is_admin,
            active: a.user.active,
        }
    }

    fn from_form(f: &UserForm) -> Self {
        Self {
            username: f.username.clone(),
            is_admin: f.is_admin.is_some(),
            active: f.active.is_some(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/form.html")]
struct FormPage {
    ctx: Ctx,
    form: FormState,
    values: UserFields,
    account: Option<Account>,
    /// On the account's page: the groups it is in.
    groups: Vec<crate::groups::store::GroupTag>,
    /// On the account's page: its live API tokens.
    live_tokens: i64,
}

impl FormPage {
    fn password_hint(&self) -> &'static str {
        if self.form.is_new {
            "At least 12 characters."
        } else {
            "Leave blank to keep the current password; a new one signs the user out everywhere and revokes their API tokens."
        }
    }

    /// The edit form of what is stored now, in `state`, with the
    /// account's groups and live tokens.
    async fn stored(
        ctx: Ctx,
        app: &AppState,
        account: Account,
        state: FormState,
    ) -> Result<Self, AppError> {
        let (groups, live_tokens) = details(app, account.user.id).await?;
        Ok(Self {
            ctx,
            form: state,
            values: UserFields::of(&account),
            account: Some(account),
            groups,
            live_tokens,
        })
    }

    /// A submitted form shown again with its messages (422).
    async fn rejected(
        ctx: Ctx,
        app: &AppState,
        f: &UserForm,
        account: Option<Account>,
        errors: FieldErrors,
    ) -> Result<HttpResponse, AppError> {
        let form = FormState::rejected(account.is_none(), f.version, errors);
        let values = UserFields::from_form(f);
        let (groups, live_tokens) = match &account {
            Some(a) => details(app, a.user.id).await?,
            None => (Vec::new(), 0),
        };
        unprocessable(&Self {
            ctx,
            form,
            values,
            account,
            groups,
            live_tokens,
        })
    }
}

/// An account's groups and how many live API tokens it has.
async fn details(
    state: &AppState,
    id: crate::domain::UserId,
) -> Result<(Vec<crate::groups::store::GroupTag>, i64), AppError> {
    db::run(&state.pool, move |c| {
        Ok((
            crate::groups::store::of_user(c, id)?,
            tokens::live_count(c, id)?,
        ))
    })
    .await
}

/// `GET /admin/users/new`: "Active" is ticked to begin with.
pub async fn new_form(ctx: AdminCtx) -> impl Responder {
    let values = UserFields {
        username: String::new(),
        is_admin: false,
        active: true,
    };
    FormPage {
        ctx: ctx.0,
        form: FormState::new_item(),
        values,
        account: None,
        groups: Vec::new(),
        live_tokens: 0,
    }
}

/// `POST /admin/users`
pub async fn create(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(&form.username));
    let password = errors.check("password", Password::parse(&form.password));
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        return FormPage::rejected(ctx.0, &state, &form, None, errors).await;
    };
    let hash = state.hashing.hash(password).await?;
    let (is_admin, active) = (form.is_admin.is_some(), form.active.is_some());
    let name = username.to_string();
    let created = audited(
        &state.pool,
        ctx.actor(),
        "user created",
        format!("user/{name}"),
        move |c| Ok(auth::store::create(c, &name, &hash, is_admin, active).into()),
    )
    .await?;
    match created {
        Outcome::Done(_) => ctx.done(format!("User {username} created."), "/admin/users"),
        Outcome::Refused(e @ CreateError::Duplicate(_)) => {
            let mut errors = FieldErrors::default();
            errors.add("username", e.to_string());
            FormPage::rejected(ctx.0, &state, &form, None, errors).await
        }
        Outcome::Refused(CreateError::Db(e)) => Err(e.into()),
    }
}

async fn load(state: &AppState, username: String) -> Result<Account, AppError> {
    db::run(&state.pool, move |c| {
        store::find_account(c, &username)?.ok_or_else(|| AppError::no_such("user", &username))
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
    let version = account.version;
    FormPage::stored(ctx.0, &state, account, FormState::editing(version)).await
}

/// `POST /admin/users/{username}`: role, active, and a password reset
/// (blank keeps). The guards hold: never the last active administrator,
/// never yourself disabled.
pub async fn update(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, AppError> {
    let account = load(&state, path.into_inner()).await?;
    let mut form = form.into_inner();
    form.username = account.user.username.clone();
    let reset = match form.reset_password() {
        Ok(reset) => reset,
        Err(errors) => {
            return FormPage::rejected(ctx.0, &state, &form, Some(account), errors).await;
        }
    };
    let password_hash = match reset {
        Some(p) => Some(state.hashing.hash(p).await?),
        None => None,
    };
    let action = match password_hash {
        Some(_) => "user updated (password reset)",
        None => "user updated",
    };
    let change = form.change(password_hash);
    let (actor_id, target) = (ctx.user.id, format!("user/{}", form.username));
    let (by, t) = (ctx.actor(), target.clone());
    let outcome = audited(&state.pool, ctx.actor(), action, target, move |c| {
        let outcome = store::update_account(c, actor_id, &change)?;
        if let Outcome::Done(n @ 1..) = outcome {
            let action = format!("{} revoked", tokens::count_text(n));
            audit::record(c, &by.name, &action, &t, &by.source)?;
        }
        Ok(outcome)
    })
    .await?;
    let name = account.user.username;
    match outcome {
        Outcome::Done(_) if account.user.id == ctx.user.id => updated_yourself(&ctx, &state).await,
        Outcome::Done(0) => ctx.done(format!("User {name} updated."), "/admin/users"),
        Outcome::Done(n) => ctx.done(
            format!("User {name} updated; {} revoked.", tokens::count_text(n)),
            "/admin/users",
        ),
        Outcome::Refused(Refusal::Missing(n)) => Err(AppError::no_such("user", &n)),
        Outcome::Refused(e) => {
            // What is stored now, with why the change was refused.
            let current = load(&state, name).await?;
            let mut shown = FormState::editing(current.version);
            match e.field(form.is_admin.is_some()) {
                Some(field) => shown.errors.add(field, e.to_string()),
                None => shown = FormState::refused(current.version, &e),
            }
            conflict(&FormPage::stored(ctx.0, &state, current, shown).await?)
        }
    }
}

/// After changing your own account: a new password ended your sessions, so
/// this one carries on under the new version; without the role, the Admin
/// Portal is closed to you now.
async fn updated_yourself(ctx: &Ctx, state: &AppState) -> Result<HttpResponse, AppError> {
    let id = ctx.user.id;
    let me = db::run(&state.pool, move |c| Ok(auth::store::find_by_id(c, id)?)).await?;
    let message = format!("User {} updated.", ctx.user.username);
    match me {
        Some(me) => {
            ctx.session.continue_as(me.session_version)?;
            ctx.done(message, if me.is_admin { "/admin/users" } else { "/" })
        }
        None => ctx.done(message, "/admin/users"),
    }
}

/// `POST /admin/users/{username}/tokens/revoke`: "Revoke all tokens".
pub async fn revoke_tokens(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let account = load(&state, path.into_inner()).await?;
    let (id, name) = (account.user.id, account.user.username);
    let (by, target) = (ctx.actor(), format!("user/{name}"));
    let n = db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let n = tokens::revoke_all(&tx, id)?;
        let action = format!("{} revoked", tokens::count_text(n));
        audit::record(&tx, &by.name, &action, &target, &by.source)?;
        tx.commit()?;
        Ok(n)
    })
    .await?;
    ctx.done(
        format!("{} of {name} revoked.", tokens::count_text(n)),
        &format!("/admin/users/{name}"),
    )
}

fn refused(ctx: Ctx, username: &str, e: &Refusal) -> Result<HttpResponse, AppError> {
    Refused {
        ctx,
        title: format!("User {username} cannot be deleted"),
        message: e.to_string(),
        items: vec![Link {
            href: format!("/admin/users/{username}"),
            label: username.to_owned(),
        }],
        back: "/admin/users".into(),
    }
    .respond()
}

/// `GET /admin/users/{username}/delete`: asks first; refuses at once what
/// would be refused anyway.
pub async fn delete_confirm(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let actor_id = ctx.user.id;
    let (account, refusal) = db::run(&state.pool, move |c| {
        let name = path.into_inner();
        let account =
            store::find_account(c, &name)?.ok_or_else(|| AppError::no_such("user", &name))?;
        let refusal = store::delete_refusal(c, actor_id, &account)?;
        Ok((account, refusal))
    })
    .await?;
    match refusal {
        Some(e) => refused(ctx.0, &account.user.username, &e),
        None => {
            let name = account.user.username;
            let page = ConfirmDelete {
                ctx: ctx.0,
                kind: "user",
                label: name.clone(),
                name,
                list: "/admin/users",
            };
            render(StatusCode::OK, &page)
        }
    }
}

/// `POST /admin/users/{username}/delete`
pub async fn delete(
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
        Outcome::Done(()) => ctx.done(format!("User {name} deleted."), "/admin/users"),
        Outcome::Refused(Refusal::Missing(n)) => Err(AppError::no_such("user", &n)),
        Outcome::Refused(e) => refused(ctx.0, &name, &e),
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
