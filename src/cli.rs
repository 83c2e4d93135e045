//! The shell commands besides `serve`.

use std::io::BufRead;
use std::path::Path;

use crate::crypto;
use crate::db;
use crate::domain::{Password, Username};
use crate::users::store as users;

/// `wharf user add NAME [--admin] --password-stdin`: reads one line from
/// `input` as the password.
pub fn user_add(
    data_dir: &Path,
    username: &str,
    admin: bool,
    input: impl BufRead,
) -> Result<(), String> {
    let username = Username::parse(username)?;
    let mut line = String::new();
    input
        .take(4096)
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = Password::parse(line.trim_end_matches(['\n', '\r']))?;
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let pool = db::open(&data_dir.join("wharf.db")).map_err(|e| e.to_string())?;
    let hash = crypto::hash_password(password.expose()).map_err(|e| e.to_string())?;
    let conn = pool.get().map_err(|e| e.to_string())?;
    users::create(&conn, username.as_str(), &hash, admin).map_err(|e| e.to_string())?;
    crate::audit::record(
        &conn,
        "cli",
        "user created",
        &format!("user/{username}"),
        "shell",
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}
