//! The life of a credential: scheduled registry login checks, and
//! notifications about credentials that start failing, recover, are about
//! to expire or have expired. Runs inside `wharf serve` as one background
//! task; everything it decides is kept in the database, so a restart
//! neither re-checks what is fresh nor sends anything twice.

pub mod notify;
mod schedule;

pub use notify::{Event, plan_expiry_events, send_test};
pub use schedule::{CheckMode, spawn};

/// What the background task is told.
#[derive(Clone, Debug, Default)]
pub struct LifecycleSettings {
    /// Seconds between login checks of a secret; `None`: no scheduled checks.
    pub check_every: Option<i64>,
    /// Where notifications go; `None`: none are sent (nor kept).
    pub notify_url: Option<String>,
    /// wharf's public address, for links in notifications.
    pub public_url: Option<String>,
}
