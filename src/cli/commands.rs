//! The shell commands besides `serve`: `wharf user add` and `wharf backup`.

use std::io::BufRead;
use std::path::Path;

use crate::auth::store as users;
use crate::crypto;
use crate::db;
use crate::ops::Failure;
use crate::users::ops;
use std::convert::Infallible;

/// The author of what the shell changes, in the audit log.
/// A refused write as the shell says it: each field's message after the
/// flag or argument it came from.
fn shell_message<R: std::fmt::Display>(f: Failure<R>) -> String {
    match f {
        Failure::Invalid(errors) => errors
            .iter()
            .map(|(field, message)| match field {
                "scope" => "--scope must be read or write".to_owned(),
                "name" => format!("--name: {message}"),
                "expires_in_days" => "--expires-in must be more than 0".to_owned(),
                _ => message.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `wharf user add NAME [--admin] --password-stdin`: reads one line from
/// `input` as the password.
pub fn user_add(
    db: &db::Location,
    username: &str,
    admin: bool,
    input: impl BufRead,
) -> Result<(), String> {
    let mut line = String::new();
    input
        .take(4096)
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let typed = ops::NewAccount {
        username,
        password: line.trim_end_matches(['\n', '\r']),
        is_admin: admin,
        active: true,
    };
    let (username, password) =
        ops::parse_new(&typed).map_err(|e| shell_message::<Infallible>(Failure::Invalid(e)))?;
    let pool = db.open(true)?;
    let hash = crypto::hash_password(password.expose()).map_err(|e| e.to_string())?;
    db::off_runtime(|| {
        let conn = pool.get().map_err(|e| e.to_string())?;
        let conn = conn.conn();
        let tx = db::write_tx(&conn).map_err(|e| e.to_string())?;
        ops::create_in(
            &tx,
            &crate::auth::Admin::shell(),
            &username,
            &hash,
            (admin, true),
            false,
        )
        .map_err(shell_message)?;
        tx.commit().map_err(|e| e.to_string())
    })?
}

/// `wharf token create USERNAME --name NAME [--scope read|write]
/// [--expires-in 90d]`: returns the new token (shown only this once).
pub fn token_create(
    db: &db::Location,
    username: &str,
    name: &str,
    scope: &str,
    lifetime: i64,
) -> Result<String, String> {
    use crate::tokens::ops::{self, Holder, Lifetime, TokenInput};
    let input = TokenInput {
        name: name.to_owned(),
        scope: scope.to_owned(),
        lifetime: Lifetime::Seconds(lifetime),
    };
    // The flags first: a typo is told before the database is opened.
    ops::parse(&input).map_err(|e| shell_message::<Infallible>(Failure::Invalid(e)))?;
    let pool = db.open(false)?;
    db::off_runtime(|| {
        let conn = pool.get().map_err(|e| e.to_string())?;
        let conn = conn.conn();
        let tx = db::write_tx(&conn).map_err(|e| e.to_string())?;
        let user = users::credentials_by_name(&tx, username)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("there is no user named {username}"))?
            .user;
        let holder = Holder {
            id: user.id,
            username: username.to_owned(),
            session_version: None,
        };
        let made = ops::create_in(&tx, &crate::auth::Admin::shell(), &holder, &input).map_err(
            |e| match e {
                Failure::Refused(ops::Inactive) => {
                    format!("{username} is disabled; enable the account before making a token")
                }
                other => shell_message(other),
            },
        )?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(made.text)
    })?
}

/// `wharf backup FILE`: `VACUUM INTO`, which copies the database from one
/// read snapshot, so the copy is consistent and finishes however busy the
/// server is (the online backup API restarts on every write from another
/// connection, and can loop for ever under load).
pub fn backup(data_dir: &Path, file: &Path) -> Result<(), String> {
    let db_path = data_dir.join("wharf.db");
    if !db_path.exists() {
        return Err(format!("{} does not exist", db_path.display()));
    }
    if file.exists() {
        return Err(format!(
            "{} already exists; choose a new file",
            file.display()
        ));
    }
    let src =
        rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| e.to_string())?;
    src.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    // An empty file made owner-only first: VACUUM INTO fills it and keeps
    // its mode.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(file)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let target = file
        .to_str()
        .ok_or_else(|| format!("{}: the path is not UTF-8", file.display()))?;
    let copied = src
        .execute("VACUUM INTO ?1", [target])
        .map_err(|e| e.to_string())
        .and_then(|_| {
            let dst = rusqlite::Connection::open(file).map_err(|e| e.to_string())?;
            let check: String = dst
                .query_row("PRAGMA integrity_check", (), |r| r.get(0))
                .map_err(|e| e.to_string())?;
            match check.as_str() {
                "ok" => Ok(()),
                _ => Err(format!("the copy failed its integrity check: {check}")),
            }
        });
    // No half-made copy is left behind to block the next try.
    if copied.is_err() {
        let _ = std::fs::remove_file(file);
    }
    copied
}
