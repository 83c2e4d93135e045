//! Who callers are, as the database said at one [`Stamp`]: a session's or
//! a token's user. A request that sees the same stamp
//! is answered from here without a hop to the database; any commit (by
//! this process or another) changes the stamp, so a revocation, a disabled
//! account or a demotion shows on the very next request. (A viewer's
//! groups are kept the same way by the images lists.)

use std::sync::Arc;

use super::store::User;
use super::tokens::{ClusterHolder, Holder};
use crate::changes::Memo;
use crate::domain::UserId;

/// Entries kept at most per memo.
const KEPT: usize = 4096;

/// What the guards and pages keep between requests.
pub struct Known {
    /// A user row, by id (sessions carry the id).
    pub users: Memo<UserId, User>,
    /// The live token with this SHA-256, and its user.
    pub tokens: Memo<[u8; 32], Arc<Holder>>,
    /// The cluster whose token has this SHA-256.
    pub clusters: Memo<[u8; 32], Arc<ClusterHolder>>,
}

impl Default for Known {
    fn default() -> Self {
        Self {
            users: Memo::new(KEPT),
            tokens: Memo::new(KEPT),
            clusters: Memo::new(KEPT),
        }
    }
}
