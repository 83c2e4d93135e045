//! The master key (seals credentials) and the session key (signs and
//! encrypts cookies): from the environment, or from files in the data
//! directory that are made on first start with mode 0600.

use std::io::Write;
use std::path::Path;

use actix_web::cookie::Key;
use base64::Engine;
use rusqlite::{Connection, OptionalExtension};

use crate::crypto::MasterKey;
use crate::options::KeyBytes;

/// Why the keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A key has the wrong length or encoding, or does not fit the database.
    #[error("{0}")]
    Invalid(String),
    /// The database could not be asked.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// What the key-check row seals; opening it proves the key is the one the
/// database's credentials were sealed with.
const KEY_CHECK: &[u8] = b"wharf master key check";

/// The master key: `WHARF_MASTER_KEY` or `master.key`, proven against the
/// database before anything is served.
///
/// - The variable and a different `master.key` together are refused:
///   nothing could tell which one sealed the credentials.
/// - A missing `master.key` is made anew only while the database holds
///   nothing sealed (a restore without the key must not go unnoticed).
/// - The key must open the database's key-check value (sealed at the first
///   start); databases from before that check must open a stored secret.
pub fn master_key(
    data_dir: &Path,
    env: Option<&KeyBytes>,
    conn: &Connection,
) -> Result<MasterKey, KeyError> {
    let path = data_dir.join("master.key");
    let file = read_key_file(&path, MasterKey::LEN)?;
    let bytes = match (env, file) {
        (Some(e), Some(f)) if e.0 != f => {
            return Err(KeyError::Invalid(format!(
                "WHARF_MASTER_KEY is set and differs from {}: wharf cannot tell which one sealed \
                 the stored credentials. Unset the variable or remove the file.",
                path.display()
            )));
        }
        (Some(e), _) => e.0.clone(),
        (None, Some(f)) => f,
        (None, None) => {
            if holds_sealed_values(conn)? {
                return Err(KeyError::Invalid(format!(
                    "{} is missing, but the database holds credentials sealed with a master key. \
                     Restore master.key from your backup (or set WHARF_MASTER_KEY); a new key \
                     could never open them.",
                    path.display()
                )));
            }
            create_key_file(&path, MasterKey::LEN)?
        }
    };
    let key = MasterKey::from_bytes(&bytes).ok_or_else(|| {
        KeyError::Invalid(format!("the master key must be {} bytes", MasterKey::LEN))
    })?;
    check_against_database(&key, conn)?;
    Ok(key)
}

/// Whether anything in the database was sealed with a master key.
fn holds_sealed_values(conn: &Connection) -> Result<bool, KeyError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM key_check) OR EXISTS (SELECT 1 FROM secrets)",
        [],
        |r| r.get(0),
    )?)
}

/// Opens the key-check value, or seals one the first time (after proving
/// the key on a stored secret, if there is one).
fn check_against_database(key: &MasterKey, conn: &Connection) -> Result<(), KeyError> {
    let wrong = || {
        KeyError::Invalid(
            "the master key does not open the credentials stored in wharf.db: it is not the key \
             they were sealed with. Start wharf with the right master.key or WHARF_MASTER_KEY."
                .into(),
        )
    };
    let check: Option<Vec<u8>> = conn
        .query_row("SELECT sealed FROM key_check WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(sealed) = check {
        return match key.open(b"key_check", &sealed) {
            Ok(v) if v == KEY_CHECK => Ok(()),
            _ => Err(wrong()),
        };
    }
    let sample: Option<(String, Vec<u8>)> = conn
        .query_row("SELECT name, sealed FROM secrets LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((name, sealed)) = sample {
        key.open(name.as_bytes(), &sealed).map_err(|_| wrong())?;
    }
    conn.execute(
        "INSERT OR IGNORE INTO key_check (id, sealed) VALUES (1, ?1)",
        [key.seal(b"key_check", KEY_CHECK)],
    )?;
    Ok(())
}

/// The cookie key: `WHARF_SESSION_KEY` or `session.key`.
pub fn session_key(data_dir: &Path, env: Option<&KeyBytes>) -> Result<Key, KeyError> {
    let bytes = match env {
        Some(k) => k.0.clone(),
        None => load_or_create(&data_dir.join("session.key"), 64)?,
    };
    Key::try_from(bytes.as_slice())
        .map_err(|_| KeyError::Invalid("the session key must be 64 bytes".into()))
}

fn load_or_create(path: &Path, len: usize) -> Result<Vec<u8>, KeyError> {
    match read_key_file(path, len)? {
        Some(bytes) => Ok(bytes),
        None => create_key_file(path, len),
    }
}

/// The key in a file, or `None` when there is no file.
fn read_key_file(path: &Path, len: usize) -> Result<Option<Vec<u8>>, KeyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KeyError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    warn_if_readable_by_others(path);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| KeyError::Invalid(format!("{} is not base64", path.display())))?;
    if bytes.len() != len {
        return Err(KeyError::Invalid(format!(
            "{} must hold {len} bytes, it holds {}",
            path.display(),
            bytes.len()
        )));
    }
    Ok(Some(bytes))
}

/// Makes a new random key file, mode 0600.
fn create_key_file(path: &Path, len: usize) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(io)?;
    let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
    f.write_all(format!("{text}\n").as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    tracing::info!(path = %path.display(), "created a new key file; back it up");
    Ok(bytes)
}

/// Logs a warning when group or others may read or write `path`.
pub fn warn_if_readable_by_others(path: &Path) {
    if readable_by_others(path) {
        tracing::warn!(
            path = %path.display(),
            "readable by other users of this machine: run chmod go-rwx on it"
        );
    }
}

/// Whether group or others have any permission on `path`.
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Creates `dir` (and its parents) owner-only (0700) if it does not exist.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}
