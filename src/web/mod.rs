//! What every page shares, below the guards that make it: the typed
//! session cookie, the page context, answering with a page (any status) or
//! a redirect, form errors and versions, and the 409 page.

mod form;
mod page;
mod problem;
mod session;

pub use form::{FieldErrors, FormState, FormVersion, redacted};
pub use page::{
    ConfirmDelete, Ctx, CurrentUser, DeleteForm, Link, Refused, conflict, download, home, render,
    render_like_last, see_other, unprocessable,
};
pub use problem::Problem;
pub use session::{SessionUser, TypedSession, new_token};

/// The largest request body taken, form or JSON; a larger one is 413.
pub const MAX_BODY: usize = 256 * 1024;

/// The local address a request's connection reached: what wharf was
/// really asked at, unlike a `Host` header, which the client writes.
#[derive(Clone, Copy, Debug)]
pub struct Reached(pub std::net::SocketAddr);

impl Reached {
    /// Notes the address each TCP connection reached (`HttpServer::on_connect`).
    pub fn note(conn: &dyn std::any::Any, data: &mut actix_web::dev::Extensions) {
        if let Some(addr) = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .and_then(|s| s.local_addr().ok())
        {
            data.insert(Self(addr));
        }
    }

    /// The address `req`'s connection reached, else the one wharf listens
    /// on; an IPv4 client of a dual-stack listener gets the IPv4 address,
    /// and no IPv6 scope (a URL cannot hold it as written).
    pub fn of(req: &actix_web::HttpRequest) -> std::net::SocketAddr {
        let addr = req
            .conn_data::<Self>()
            .map_or_else(|| req.app_config().local_addr(), |r| r.0);
        std::net::SocketAddr::new(addr.ip().to_canonical(), addr.port())
    }
}
