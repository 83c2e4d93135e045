//! Handlers and page structs of the Users area.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::ops;
use super::store::{self, Account, Refusal};
use crate::audit::action;
use crate::auth::tokens;
use crate::auth::{self, AdminCtx};
use crate::db;
use crate::error::AppError;
use crate::listing::{Page, QueryPairs};
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{
    ConfirmDelete, Ctx, FieldErrors, FormState, FormVersion, Link, Refused, conflict, redacted,
    render, unprocessable,
};

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
    let page = crate::listing::load::<store::UserSort, _>(
        &state.pool,
        &query,
        "/admin/users",
        store::list,
    )
    .await?;
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
    /// On the account's page: its single sign-on identity, or a refused
    /// sign-in to link.
    sso: Option<super::sso::AccountSso>,
    /// `--oidc-admin-group`: the role of an SSO account follows it.
    sso_admin_group: Option<String>,
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
        let (groups, live_tokens, sso) = details(app, account.user.id).await?;
        Ok(Self {
            ctx,
            form: state,
            values: UserFields::of(&account),
            account: Some(account),
            groups,
            live_tokens,
            sso: Some(sso),
            sso_admin_group: admin_group(app),
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
        let (groups, live_tokens, sso) = match &account {
            Some(a) => {
                let (g, t, s) = details(app, a.user.id).await?;
                (g, t, Some(s))
            }
            None => (Vec::new(), 0, None),
        };
        unprocessable(&Self {
            ctx,
            form,
            values,
            account,
            groups,
            live_tokens,
            sso,
            sso_admin_group: admin_group(app),
        })
    }
}

fn admin_group(state: &AppState) -> Option<String> {
    state.sso.as_ref()?.config.groups.admin.clone()
}

type Details = (
    Vec<crate::groups::store::GroupTag>,
    i64,
    super::sso::AccountSso,
);

/// An account's groups, how many live API tokens it has, and its single
/// sign-on.
async fn details(state: &AppState, id: crate::domain::UserId) -> Result<Details, AppError> {
    db::run(&state.pool, move |c| {
        Ok((
            crate::groups::store::of_user(c, id)?,
            tokens::live_count(c, id)?,
            super::sso::of_account(c, id)?,
        ))
    })
    .await
}

/// The buttons of an account's single sign-on.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SsoForm {
    /// `link`, `unlink` or `dismiss`.
    action: String,
    /// With `link`: the identity the page showed.
    issuer: String,
    subject: String,
}

/// `POST /admin/users/{username}/sso`: "Link SSO identity" (the refused
/// sign-in's identity, as the page showed it), "Unlink SSO identity" or
/// "Dismiss".
pub async fn change_sso(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<SsoForm>,
) -> Result<HttpResponse, AppError> {
    let SsoForm {
        action,
        issuer,
        subject,
    } = form.into_inner();
    let name = path.into_inner();
    let back = format!("/admin/users/{name}");
    let (change, done) = match action.as_str() {
        "link" => (
            ops::SsoChange::Link { issuer, subject },
            format!(
                "The single sign-on identity is linked to {name}; they can sign in with it now."
            ),
        ),
        "unlink" => (
            ops::SsoChange::Unlink,
            format!("{name} no longer signs in by single sign-on."),
        ),
        "dismiss" => (
            ops::SsoChange::Dismiss,
            format!("The refused single sign-on of {name} is dismissed."),
        ),
        _ => {
            return Err(AppError::BadRequest("Say link, unlink or dismiss.".into()));
        }
    };
    match ops::change_sso(&state, ctx.admin(), &name, change).await {
        Ok(None) => ctx.done(done, &back),
        Ok(Some(n)) => ctx.done(
            format!(
                "{done} Their sessions are ended; {}.",
                action::tokens_revoked(n)
            ),
            &back,
        ),
        Err(Failure::Refused(r)) => ctx.done(r.to_string(), &back),
        Err(other) => Err(other.into()),
    }
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
        sso: None,
        sso_admin_group: None,
    }
}

/// `POST /admin/users`
pub async fn create(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = ops::NewAccount {
        username: &form.username,
        password: &form.password,
        is_admin: form.is_admin.is_some(),
        active: form.active.is_some(),
    };
    let errors = match ops::create(&state, ctx.admin(), &input, false).await {
        Ok(user) => {
            return ctx.done(format!("User {} created.", user.username), "/admin/users");
        }
        Err(failure) => failure.form_errors()?,
    };
    FormPage::rejected(ctx.0, &state, &form, None, errors).await
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
    let input = ops::AccountInput {
        is_admin: form.is_admin.is_some(),
        active: form.active.is_some(),
        password: &form.password,
    };
    let expected = form.version.expected();
    let name = account.user.username.clone();
    let e = match ops::update(&state, ctx.admin(), &name, &input, expected).await {
        Ok(_) if account.user.id == ctx.user.id => return updated_yourself(&ctx, &state).await,
        Ok(ops::Updated { tokens_revoked: 0 }) => {
            return ctx.done(format!("User {name} updated."), "/admin/users");
        }
        Ok(ops::Updated { tokens_revoked: n }) => {
            let message = format!("User {name} updated; {}.", action::tokens_revoked(n));
            return ctx.done(message, "/admin/users");
        }
        Err(Failure::Invalid(errors)) => {
            return FormPage::rejected(ctx.0, &state, &form, Some(account), errors).await;
        }
        Err(e @ Failure::Stale { .. }) => e,
        Err(Failure::Refused(r)) => {
            // What is stored now, with why the change was refused.
            let current = load(&state, name).await?;
            let mut shown = FormState::editing(current.version);
            match r.field(form.is_admin.is_some()) {
                Some(field) => shown.errors.add(field, r.to_string()),
                None => shown = FormState::refused(current.version, &r),
            }
            return conflict(&FormPage::stored(ctx.0, &state, current, shown).await?);
        }
        Err(other) => return Err(other.into()),
    };
    let current = load(&state, name).await?;
    let shown = FormState::refused(current.version, &e);
    conflict(&FormPage::stored(ctx.0, &state, current, shown).await?)
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
    let name = path.into_inner();
    let n = ops::revoke_tokens(&state, ctx.admin(), &name).await?;
    ctx.done(
        format!("{} of {name} revoked.", action::api_tokens(n)),
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
    let actor_id = ctx.admin().user_id();
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
                uses: Vec::new(),
                type_name: false,
                error: None,
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
    match ops::delete(&state, ctx.admin(), &name).await {
        Ok(()) => ctx.done(format!("User {name} deleted."), "/admin/users"),
        Err(Failure::Refused(e)) => refused(ctx.0, &name, &e),
        Err(other) => Err(other.into()),
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
