//! An SSO sign-in as one operation: find the account by issuer and
//! subject (or make it), take the role and the groups from the claims,
//! keep the ID token for sign-out, audit each of it, in one transaction.
//! Linking an identity to a password account is here too.

use crate::db::Conn;
use rusqlite::{OptionalExtension, params};

use crate::audit::{self, action};
use crate::auth::store::{self as accounts, CreateError, User};
use crate::crypto::MasterKey;
use crate::db;
use crate::domain::{UserId, Username};
use crate::error::AppError;
use crate::sso::GroupRules;

/// Who the provider says signed in, from a verified ID token.
pub struct Identity {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// The groups claim's names; `None` when the ID token has no such
    /// claim (a mapper missing at the provider), which changes nothing.
    pub groups: Option<Vec<String>>,
    /// The ID token as received, kept sealed for `id_token_hint`.
    pub id_token: String,
}

/// Why a verified SSO sign-in still did not sign anyone in.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The username belongs to an account with a password.
    #[error("the username {0} belongs to an account with a password")]
    Taken(String),
    /// The account is disabled.
    #[error("the account {0} is disabled")]
    Disabled(String),
    /// Neither `preferred_username` nor `email` gave a username.
    #[error("the ID token has no usable preferred_username or email")]
    NoUsername,
    /// Every numbered variant of the name is taken.
    #[error("the username {0} and its numbered variants are all taken")]
    NoFreeName(String),
    /// The ID token does not list the group that may sign in: the group,
    /// and who the provider says signed in (its subject).
    #[error("subject {1} is not in the group {0}, which --oidc-required-group names")]
    NotMember(String, String),
}

/// A signed-in account.
pub struct SignedIn {
    /// The account as it is now.
    pub user: User,
    /// Made by this sign-in.
    pub created: bool,
}

/// The account name for an identity: `preferred_username`, else the
/// e-mail's local part, lowercased, with every character a username cannot
/// have made a `-`.
pub fn username_for(preferred: Option<&str>, email: Option<&str>) -> Option<Username> {
    let local = email.and_then(|e| e.split('@').next());
    [preferred, local]
        .into_iter()
        .flatten()
        .find_map(|raw| Username::parse(&cleaned(raw)).ok())
}

fn cleaned(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(60)
        .collect()
}

/// The sealed ID token's associated data: bound to the identity.
fn id_token_aad(issuer: &str, subject: &str) -> Vec<u8> {
    format!("oidc-id-token/{issuer}/{subject}").into_bytes()
}

/// Signs `identity` in: see the module. `rules`: who may sign in, and
/// whose role follows the admin group.
pub async fn sign_in(
    (pool, master): (&db::Pool, &MasterKey),
    identity: Identity,
    rules: GroupRules,
    source: String,
) -> Result<Result<SignedIn, Refusal>, AppError> {
    let sealed = master.seal(
        &id_token_aad(&identity.issuer, &identity.subject),
        identity.id_token.as_bytes(),
    );
    db::run(pool, move |c| {
        let tx = db::write_tx(c)?;
        let outcome = sign_in_in(&tx, &sealed, &identity, &rules, &source)?;
        tx.commit()?;
        Ok(outcome)
    })
    .await
}

fn sign_in_in(
    c: &Conn<'_>,
    sealed_id_token: &[u8],
    who: &Identity,
    rules: &GroupRules,
    source: &str,
) -> Result<Result<SignedIn, Refusal>, AppError> {
    // Membership first: no account is made, linked or changed for a
    // person the group leaves out (nor for a token without the claim).
    if let Some(required) = &rules.required
        && !who.groups.iter().flatten().any(|g| g == required)
    {
        // Audited under no account's name: the person is no one here, and
        // the name they claim could be someone else's.
        let refusal = Refusal::NotMember(
            required.clone(),
            crate::domain::truncate(&crate::domain::one_line(&who.subject), 80),
        );
        refuse(c, &refusal, source)?;
        return Ok(Err(refusal));
    }
    let (user, created) = match by_identity(c, &who.issuer, &who.subject)? {
        Some(user) => (user, false),
        None => match create(c, who, source)? {
            Ok(user) => (user, true),
            Err(refusal) => {
                refuse(c, &refusal, source)?;
                return Ok(Err(refusal));
            }
        },
    };
    if !user.active {
        let refusal = Refusal::Disabled(user.username.clone());
        refuse(c, &refusal, source)?;
        return Ok(Err(refusal));
    }
    let name = user.username.clone();
    let target = format!("user/{name}");
    match &who.groups {
        Some(groups) => {
            if let Some(admin_group) = rules.admin.as_deref() {
                sync_role(c, &user, groups, admin_group, source)?;
            }
            sync_groups(c, user.id, groups, &name, source)?;
        }
        // A provider that sends no groups claim at all (its mapper is
        // missing) must not demote every administrator and empty every
        // group: nothing changes, and the log says why.
        None => {
            let what = format!(
                "{} (the ID token has no groups claim: role and groups left as they were)",
                action::SIGN_IN_SSO
            );
            audit::record(c, &name, &what, &target, source)?;
        }
    }
    c.execute(
        "UPDATE users SET oidc_id_token = ?2, last_login_at = ?3 WHERE id = ?1",
        params![user.id, sealed_id_token, db::now()],
    )?;
    audit::record(c, &name, action::SIGN_IN_SSO, "", source)?;
    let user = accounts::find_by_id(c, user.id)?
        .ok_or_else(|| AppError::internal("the account went away during sign-in"))?;
    Ok(Ok(SignedIn { user, created }))
}

/// The role follows the admin group, except that the last active
/// administrator is never demoted (as on the Users page): that is audited
/// instead.
fn sync_role(
    c: &Conn<'_>,
    user: &User,
    groups: &[String],
    admin_group: &str,
    source: &str,
) -> rusqlite::Result<()> {
    let admin = groups.iter().any(|g| g == admin_group);
    if admin == user.is_admin {
        return Ok(());
    }
    let (name, target) = (&user.username, format!("user/{}", user.username));
    if !admin && accounts::other_active_admins(c, user.id)? == 0 {
        let what = format!(
            "administrator role kept: the last active administrator (not in group {admin_group})"
        );
        return audit::record(c, name, &what, &target, source).map(drop);
    }
    c.execute(
        "UPDATE users SET is_admin = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1",
        params![user.id, admin, db::now()],
    )?;
    let what = if admin {
        format!("administrator role given by SSO (group {admin_group})")
    } else {
        format!("administrator role removed by SSO (not in group {admin_group})")
    };
    audit::record(c, name, &what, &target, source).map(drop)
}

/// Audits a refused sign-in under the name it was for.
fn refuse(c: &Conn<'_>, refusal: &Refusal, source: &str) -> rusqlite::Result<()> {
    let (actor, target) = match refusal {
        Refusal::Taken(n) | Refusal::Disabled(n) => (n.clone(), format!("user/{n}")),
        Refusal::NoUsername | Refusal::NoFreeName(_) | Refusal::NotMember(..) => {
            (crate::auth::UNKNOWN_USER.to_owned(), String::new())
        }
    };
    let what = format!("{} ({refusal})", action::SIGN_IN_SSO_REFUSED);
    audit::record(c, &actor, &what, &target, source).map(drop)
}

fn by_identity(c: &Conn<'_>, issuer: &str, subject: &str) -> rusqlite::Result<Option<User>> {
    c.query_row(
        &format!(
            "SELECT {} FROM users WHERE oidc_issuer = ?1 AND oidc_subject = ?2",
            accounts::COLUMNS
        ),
        params![issuer, subject],
        accounts::from_row,
    )
    .optional()
}

/// A new account for `who`, named after them. A name held by a password
/// account is refused (and offered to an administrator for linking); one
/// held by another SSO identity gets a number (`ada-2`).
fn create(c: &Conn<'_>, who: &Identity, source: &str) -> Result<Result<User, Refusal>, AppError> {
    let Some(base) = username_for(who.preferred_username.as_deref(), who.email.as_deref()) else {
        return Ok(Err(Refusal::NoUsername));
    };
    for n in 1..=20 {
        let name = if n == 1 {
            base.as_str().to_owned()
        } else {
            format!("{base}-{n}")
        };
        let Ok(name) = Username::parse(&name) else {
            break;
        };
        match holder(c, name.as_str())? {
            // The person's own name, held by a password account: theirs,
            // perhaps, which only an administrator may say.
            Some((id, false)) if n == 1 => {
                offer_link(c, id, who)?;
                return Ok(Err(Refusal::Taken(name.as_str().to_owned())));
            }
            Some(_) => continue,
            None => {}
        }
        let user = match accounts::create(c, name.as_str(), accounts::NO_PASSWORD, false, true) {
            Ok(user) => user,
            Err(CreateError::Duplicate(_)) => continue,
            Err(CreateError::Db(e)) => return Err(e.into()),
        };
        c.execute(
            "UPDATE users SET oidc_issuer = ?2, oidc_subject = ?3 WHERE id = ?1",
            params![user.id, who.issuer, who.subject],
        )?;
        let target = format!("user/{name}");
        audit::record(c, name.as_str(), action::USER_CREATED_SSO, &target, source)?;
        return Ok(Ok(user));
    }
    Ok(Err(Refusal::NoFreeName(base.as_str().to_owned())))
}

/// The account named `name`: its id and whether an SSO identity is bound
/// to it.
fn holder(c: &Conn<'_>, name: &str) -> rusqlite::Result<Option<(UserId, bool)>> {
    c.query_row(
        "SELECT id, oidc_issuer IS NOT NULL FROM users WHERE username = ?1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

fn offer_link(c: &Conn<'_>, user: UserId, who: &Identity) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO sso_link_offers (user_id, issuer, subject, claimed_username, email, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (user_id) DO UPDATE SET issuer = ?2, subject = ?3, claimed_username = ?4,
           email = ?5, seen_at = ?6",
        params![
            user,
            who.issuer,
            who.subject,
            who.preferred_username.as_deref().unwrap_or(""),
            who.email.as_deref().unwrap_or(""),
            db::now()
        ],
    )?;
    Ok(())
}

/// Memberships follow the claim: in every wharf group it names, out of
/// every group SSO put the account in earlier that it no longer names.
/// Memberships an administrator made stay. Each change is audited, and
/// bumps the group's version (a group form opened before is stale).
fn sync_groups(
    c: &Conn<'_>,
    user: UserId,
    claimed: &[String],
    name: &str,
    source: &str,
) -> rusqlite::Result<()> {
    let claimed = crate::db::List::texts(claimed.iter().cloned());
    let pick = |sql: &str| -> rusqlite::Result<Vec<(i64, String)>> {
        c.query_map(sql, (user, &claimed), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    };
    let join = pick(
        "SELECT g.id, g.name FROM groups g WHERE g.name IN rarray(?2)
           AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = ?1)
         ORDER BY g.name",
    )?;
    let leave = pick(
        "SELECT g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = ?1 AND m.from_sso = 1 AND g.name NOT IN rarray(?2)
         ORDER BY g.name",
    )?;
    let ids = |rows: &[(i64, String)]| crate::db::List::ints(rows.iter().map(|(id, _)| *id));
    let target = format!("user/{name}");
    if !join.is_empty() {
        c.execute(
            "INSERT INTO group_members (group_id, user_id, from_sso)
             SELECT value, ?1, 1 FROM rarray(?2)",
            (user, ids(&join)),
        )?;
    }
    if !leave.is_empty() {
        c.execute(
            "DELETE FROM group_members WHERE user_id = ?1 AND group_id IN rarray(?2)",
            (user, ids(&leave)),
        )?;
    }
    let changed: Vec<(i64, String)> = join.iter().chain(&leave).cloned().collect();
    if !changed.is_empty() {
        c.execute(
            "UPDATE groups SET version = version + 1, updated_at = ?2 WHERE id IN rarray(?1)",
            (ids(&changed), db::now()),
        )?;
    }
    for (_, group) in &join {
        let what = format!("added to group {group} by SSO");
        audit::record(c, name, &what, &target, source)?;
    }
    for (_, group) in &leave {
        let what = format!("removed from group {group} by SSO");
        audit::record(c, name, &what, &target, source)?;
    }
    Ok(())
}

/// The ID token kept for an account, sealed, with what opens it.
pub struct KeptIdToken {
    issuer: String,
    subject: String,
    sealed: Vec<u8>,
}

impl KeptIdToken {
    /// The token, for `id_token_hint`.
    pub fn open(&self, master: &MasterKey) -> Option<String> {
        let plain = master
            .open(&id_token_aad(&self.issuer, &self.subject), &self.sealed)
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The ID token kept for the account, if it signed in by SSO, and
/// forgotten.
pub fn take_id_token(c: &Conn<'_>, user: UserId) -> rusqlite::Result<Option<KeptIdToken>> {
    let kept = c
        .query_row(
            "SELECT oidc_issuer, oidc_subject, oidc_id_token FROM users
             WHERE id = ?1 AND oidc_issuer IS NOT NULL AND oidc_id_token IS NOT NULL",
            [user],
            |r| {
                Ok(KeptIdToken {
                    issuer: r.get(0)?,
                    subject: r.get(1)?,
                    sealed: r.get(2)?,
                })
            },
        )
        .optional()?;
    if kept.is_some() {
        c.execute(
            "UPDATE users SET oidc_id_token = NULL WHERE id = ?1",
            [user],
        )?;
    }
    Ok(kept)
}

/// A refused single sign-on that an administrator may link.
pub struct Offer {
    /// The provider.
    pub issuer: String,
    /// The person there.
    pub subject: String,
    /// Their `preferred_username` there.
    pub claimed_username: String,
    /// Their e-mail address there.
    pub email: String,
    /// When (Unix seconds).
    pub seen_at: i64,
}

impl Offer {
    /// When the refused sign-in was, as administrators read it.
    pub fn seen(&self) -> String {
        db::format_time(self.seen_at)
    }
}

/// An account's single sign-on, as its page shows it.
pub struct AccountSso {
    /// The identity bound to it: issuer and subject.
    pub identity: Option<(String, String)>,
    /// A refused sign-in that may be linked.
    pub offer: Option<Offer>,
}

/// What the account's page shows about its single sign-on.
pub fn of_account(c: &Conn<'_>, user: UserId) -> rusqlite::Result<AccountSso> {
    let identity = c
        .query_row(
            "SELECT oidc_issuer, oidc_subject FROM users WHERE id = ?1 AND oidc_issuer IS NOT NULL",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let offer = c
        .query_row(
            "SELECT issuer, subject, claimed_username, email, seen_at FROM sso_link_offers
             WHERE user_id = ?1",
            [user],
            |r| {
                Ok(Offer {
                    issuer: r.get(0)?,
                    subject: r.get(1)?,
                    claimed_username: r.get(2)?,
                    email: r.get(3)?,
                    seen_at: r.get(4)?,
                })
            },
        )
        .optional()?;
    Ok(AccountSso { identity, offer })
}

/// Why an identity could not be linked.
#[derive(Debug, thiserror::Error)]
pub enum LinkRefusal {
    /// No refused sign-in to link, or another one than the page showed
    /// (a newer refused sign-in replaced it).
    #[error(
        "The single sign-on shown is no longer the one waiting for {0}: look at the page again."
    )]
    NoOffer(String),
    /// The identity is another account's already.
    #[error("That single sign-on identity already belongs to another account.")]
    Elsewhere,
    /// Nothing is linked to unlink.
    #[error("No single sign-on identity is linked to {0}.")]
    NotLinked(String),
}

/// Binds the refused sign-in's identity (`issuer`, `subject`: the one the
/// administrator saw) to account `user` and forgets the offer. Run inside
/// a write transaction.
pub fn link(
    c: &Conn<'_>,
    user: UserId,
    name: &str,
    (issuer, subject): (&str, &str),
) -> rusqlite::Result<Result<(), LinkRefusal>> {
    let offered = of_account(c, user)?.offer;
    if !offered.is_some_and(|o| o.issuer == issuer && o.subject == subject) {
        return Ok(Err(LinkRefusal::NoOffer(name.to_owned())));
    }
    if by_identity(c, issuer, subject)?.is_some() {
        return Ok(Err(LinkRefusal::Elsewhere));
    }
    c.execute(
        "UPDATE users SET oidc_issuer = ?2, oidc_subject = ?3, version = version + 1, updated_at = ?4
         WHERE id = ?1",
        params![user, issuer, subject, db::now()],
    )?;
    c.execute("DELETE FROM sso_link_offers WHERE user_id = ?1", [user])?;
    Ok(Ok(()))
}

/// Unbinds the account's identity (and forgets its kept ID token): the
/// person no longer signs in to it by SSO; a later SSO sign-in with that
/// name is refused as for any password account. Run inside a write
/// transaction.
pub fn unlink(c: &Conn<'_>, user: UserId, name: &str) -> rusqlite::Result<Result<(), LinkRefusal>> {
    let n = c.execute(
        "UPDATE users SET oidc_issuer = NULL, oidc_subject = NULL, oidc_id_token = NULL,
           version = version + 1, updated_at = ?2
         WHERE id = ?1 AND oidc_issuer IS NOT NULL",
        params![user, db::now()],
    )?;
    Ok(if n == 0 {
        Err(LinkRefusal::NotLinked(name.to_owned()))
    } else {
        Ok(())
    })
}

/// Forgets a refused sign-in without linking it. Run inside a write
/// transaction; false if there was none.
pub fn dismiss(c: &Conn<'_>, user: UserId) -> rusqlite::Result<bool> {
    Ok(c.execute("DELETE FROM sso_link_offers WHERE user_id = ?1", [user])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_preferred_username_else_the_email() {
        let name = |p: Option<&str>, e: Option<&str>| username_for(p, e).map(|u| u.to_string());
        assert_eq!(
            name(Some("Ada.Lovelace"), None).as_deref(),
            Some("ada.lovelace")
        );
        assert_eq!(name(None, Some("Vic@Example.com")).as_deref(), Some("vic"));
        assert_eq!(name(Some("  "), Some("bob@x.org")).as_deref(), Some("bob"));
        assert_eq!(
            name(Some("José Núñez"), None).as_deref(),
            Some("jos--n--ez")
        );
        assert_eq!(name(Some("_svc"), None).as_deref(), Some("svc"));
        assert_eq!(name(Some("new"), None), None);
        // A name that cleans to nothing usable: the e-mail's local part.
        assert_eq!(
            name(Some("山田"), Some("yamada@example.jp")).as_deref(),
            Some("yamada")
        );
        assert_eq!(name(Some("new"), Some("neo@x.org")).as_deref(), Some("neo"));
        assert_eq!(name(None, None), None);
        assert_eq!(
            name(Some(&"a".repeat(200)), None).map(|n| n.len()),
            Some(60)
        );
    }
}
