//! The life of a credential: what a login check's verdict means, and the
//! notifications about credentials that start failing, recover, are about
//! to expire or have expired, kept in the database so a restart sends
//! nothing twice. The background task that runs the checks and deliveries
//! is `secrets::schedule`.

pub mod notify;

pub use notify::{Event, plan_expiry_events, send_test};

pub use crate::state::LifecycleSettings;

/// Days ahead in which an expiry counts as coming ("expiring"): the
/// secrets list's badge and filter, its summary line, the metrics and the
/// notifications all read this one number.
pub const EXPIRING_DAYS: i64 = 30;

/// Days before an expiry on which a notification is sent, nearest first.
pub const WARN_DAYS: [i64; 3] = [1, 7, EXPIRING_DAYS];

/// The last expiry date that counts as expiring on `today`
/// (`YYYY-MM-DD`, as dates are kept).
pub fn expiring_until(today: time::Date) -> String {
    today
        .checked_add(time::Duration::days(EXPIRING_DAYS))
        .unwrap_or(time::Date::MAX)
        .to_string()
}

/// Who asked for a login check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// An administrator pressed Test login (or the API): always audited.
    Manual,
    /// The schedule: audited only when the result changes state.
    Scheduled,
}

/// What a login check's verdict means, given the one before (`None`: never
/// checked): a change of state to tell, if it is one. A first check that
/// fails is news; a first that works is not.
pub fn transition(before: Option<bool>, ok: bool) -> Option<Event> {
    match (before, ok) {
        (Some(true) | None, false) => Some(Event::LoginFailing),
        (Some(false), true) => Some(Event::LoginRecovered),
        _ => None,
    }
}
