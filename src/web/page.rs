//! The page context every signed-in page is rendered with, answering with
//! a page or a redirect, and the 409 page of a refused action.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;
use askama_web::WebTemplate;

use super::session::TypedSession;
use crate::audit::Actor;
use crate::domain::UserId;
use crate::error::AppError;

/// The signed-in user, as checked against the database for this request.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// Row id.
    pub id: UserId,
    /// Account name.
    pub username: String,
    /// Whether the Admin Portal is open to them.
    pub is_admin: bool,
}

/// Everything a signed-in page needs: the user, the CSRF token for its
/// forms, the flash message left for it, the session and the client
/// address. The guards in `auth` extract it from the request.
pub struct Ctx {
    /// Who is signed in.
    pub user: CurrentUser,
    /// Goes into every form as `csrf_token`.
    pub csrf: String,
    /// A message from the previous action ("Secret x created.").
    pub flash: Option<String>,
    /// The session, to leave the next flash message.
    pub session: TypedSession,
    /// The client's address, for the audit log.
    pub source: String,
    /// The request path, to mark the sidebar's current section.
    pub path: String,
}

impl Ctx {
    /// The signed-in user as the author of a change.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.user.username.clone(),
            source: self.source.clone(),
        }
    }

    /// The Admin Portal section the page belongs to (`secrets`, `images`, ...).
    pub fn section(&self) -> &str {
        self.path
            .strip_prefix("/admin/")
            .and_then(|p| p.split('/').next())
            .unwrap_or("")
    }

    /// Leaves `message` for the next page and sends the browser there: how
    /// every successful form ends.
    pub fn done(&self, message: impl Into<String>, to: &str) -> Result<HttpResponse, AppError> {
        self.session.flash(message)?;
        Ok(see_other(to))
    }
}

/// Where someone lands after signing in (by password or by SSO) or
/// changing their password: administrators on the Secrets list, everyone
/// else on the catalogue.
pub fn home(is_admin: bool) -> &'static str {
    if is_admin { "/admin/secrets" } else { "/" }
}

/// A 303 to a GET page.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Renders a page with any status.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// Renders a list page into a buffer the size of the last one it made
/// (`last`): a 20-30 KB page grown from the template's own size by
/// doubling was copied about twice over.
pub fn render_like_last<T: Template>(
    status: StatusCode,
    page: &T,
    last: &std::sync::atomic::AtomicUsize,
) -> Result<HttpResponse, AppError> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut html = String::with_capacity(last.load(Relaxed).max(T::SIZE_HINT) + 1024);
    page.render_into(&mut html)?;
    last.store(html.len(), Relaxed);
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A rejected form, shown again with its messages: 422.
pub fn unprocessable(page: &impl Template) -> Result<HttpResponse, AppError> {
    render(StatusCode::UNPROCESSABLE_ENTITY, page)
}

/// Someone else saved first, or a guard refused: the form again, 409.
pub fn conflict(page: &impl Template) -> Result<HttpResponse, AppError> {
    render(StatusCode::CONFLICT, page)
}

/// "Are you sure to delete X secret?" with "Yes" and "Cancel".
#[derive(Template, WebTemplate)]
#[template(path = "confirm_delete.html")]
pub struct ConfirmDelete {
    pub ctx: Ctx,
    /// What is deleted: `secret`, `image`, `user`.
    pub kind: &'static str,
    /// Its name, in the form's address.
    pub name: String,
    /// Its Display Name, or the name, in the question.
    pub label: String,
    /// The area's list (`/admin/secrets`), where Cancel goes.
    pub list: &'static str,
    /// What depends on it, one sentence each (clusters that fetch it).
    pub uses: Vec<String>,
    /// Its name must be typed to delete it (it is in use).
    pub type_name: bool,
    /// Why the last try was refused (the typed name did not match).
    pub error: Option<String>,
}

/// A delete form: the name typed, when the question asked for it
/// ([`ConfirmDelete::type_name`]).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    confirm_name: Option<String>,
}

impl DeleteForm {
    /// The name typed, if the form had the field.
    pub fn typed(&self) -> Option<&str> {
        self.confirm_name.as_deref().map(str::trim)
    }
}

/// One thing in the way of a refused action, linked.
pub struct Link {
    /// Where it lives.
    pub href: String,
    /// What administrators call it.
    pub label: String,
}

/// A refused action (409): says why and names what is in the way, with no
/// way to go ahead.
#[derive(Template, WebTemplate)]
#[template(path = "refused.html")]
pub struct Refused {
    pub ctx: Ctx,
    pub title: String,
    pub message: String,
    /// Each thing in the way.
    pub items: Vec<Link>,
    /// Where "Back" goes.
    pub back: String,
}

impl Refused {
    /// The page, with its 409.
    pub fn respond(self) -> Result<HttpResponse, AppError> {
        conflict(&self)
    }
}

/// A file to save: `body` as `content_type`, named `filename`.
pub fn download(body: String, content_type: &str, filename: String) -> HttpResponse {
    use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
    HttpResponse::Ok()
        .content_type(content_type.to_owned())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename)],
        })
        .body(body)
}
