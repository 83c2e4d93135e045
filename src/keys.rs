//! The master key (seals credentials) and the session key (signs and
//! encrypts cookies): from the environment, from files named by
//! `--master-key-file` and `--session-key-file` (made beforehand by
//! `wharf keys generate`, kept apart from the database they protect), or
//! from files in the data directory that are made on first start with mode
//! 0600.

use std::io::Write;
use std::path::Path;

use crate::db::Conn;
use actix_web::cookie::Key;
use base64::Engine;
use rusqlite::OptionalExtension;

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

/// Where a key is read from: a file named on the command line (it must
/// exist), or the data directory's, made on first start.
#[derive(Clone, Copy, Debug)]
pub enum KeyFile<'a> {
    /// `--master-key-file` / `--session-key-file`: made beforehand.
    Given(&'a Path),
    /// The data directory's (`master.key`, `session.key`).
    InDataDir(&'a Path),
}

impl<'a> KeyFile<'a> {
    /// The file named on the command line, else the data directory's.
    pub fn of(given: Option<&'a Path>, data_dir: &'a Path) -> Self {
        given.map_or(Self::InDataDir(data_dir), Self::Given)
    }

    fn path(self, name: &str) -> std::path::PathBuf {
        match self {
            Self::Given(path) => path.to_path_buf(),
            Self::InDataDir(dir) => dir.join(name),
        }
    }

    /// The key in the file; a given file that is missing is an error that
    /// says how to make one, the data directory's is `None`.
    fn read(self, name: &str, len: usize) -> Result<Option<Vec<u8>>, KeyError> {
        let path = self.path(name);
        match (read_key_file(&path, len)?, self) {
            (None, Self::Given(_)) => Err(KeyError::Invalid(format!(
                "{} does not exist. Make the key files with `wharf keys generate --out DIR` \
                 (or restore them from your backup) and name them again.",
                path.display()
            ))),
            (read, _) => Ok(read),
        }
    }
}

/// The master key: `WHARF_MASTER_KEY`, the given file or `master.key`,
/// proven against the database before anything is served.
///
/// - The variable and a different file together are refused: nothing could
///   tell which one sealed the credentials.
/// - A missing `master.key` in the data directory is made anew only while
///   the database holds nothing sealed (a restore without the key must not
///   go unnoticed); a given file is never made.
/// - The key must open the database's key-check value (sealed at the first
///   start); databases from before that check must open a stored secret.
pub fn master_key(
    file: KeyFile<'_>,
    env: Option<&KeyBytes>,
    conn: &Conn<'_>,
) -> Result<MasterKey, KeyError> {
    let path = file.path("master.key");
    let stored = match env {
        // With the variable, only a file that exists is compared.
        Some(_) => read_key_file(&path, MasterKey::LEN)?,
        None => file.read("master.key", MasterKey::LEN)?,
    };
    let bytes = match (env, stored) {
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
fn holds_sealed_values(conn: &Conn<'_>) -> Result<bool, KeyError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM key_check) OR EXISTS (SELECT 1 FROM secrets)",
        (),
        |r| r.get(0),
    )?)
}

/// Opens the key-check value, or seals one the first time (after proving
/// the key on a stored secret, if there is one).
fn check_against_database(key: &MasterKey, conn: &Conn<'_>) -> Result<(), KeyError> {
    let wrong = || {
        KeyError::Invalid(
            "the master key does not open the credentials stored in wharf.db: it is not the key \
             they were sealed with. Start wharf with the right master key file or WHARF_MASTER_KEY."
                .into(),
        )
    };
    let check: Option<Vec<u8>> = conn
        .query_row("SELECT sealed FROM key_check WHERE id = 1", (), |r| {
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
        .query_row("SELECT name, sealed FROM secrets LIMIT 1", (), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((name, sealed)) = sample {
        key.open(name.as_bytes(), &sealed).map_err(|_| wrong())?;
    }
    conn.execute(
        "INSERT INTO key_check (id, sealed) VALUES (1, ?1) ON CONFLICT DO NOTHING",
        [key.seal(b"key_check", KEY_CHECK)],
    )?;
    Ok(())
}

/// The cookie key: `WHARF_SESSION_KEY`, the given file, or `session.key`
/// (made on first start).
pub fn session_key(file: KeyFile<'_>, env: Option<&KeyBytes>) -> Result<Key, KeyError> {
    let bytes = match (env, file) {
        (Some(k), _) => k.0.clone(),
        (None, KeyFile::Given(_)) => file
            .read("session.key", SESSION_KEY_LEN)?
            .unwrap_or_default(),
        (None, KeyFile::InDataDir(_)) => {
            load_or_create(&file.path("session.key"), SESSION_KEY_LEN)?
        }
    };
    Key::try_from(bytes.as_slice())
        .map_err(|_| KeyError::Invalid("the session key must be 64 bytes".into()))
}

/// The session key's length: signing and encryption, 32 bytes each.
const SESSION_KEY_LEN: usize = 64;

/// `wharf keys generate --out DIR`: a new master key and session key in
/// `DIR/master.key` and `DIR/session.key`, mode 0600 (the folder made
/// owner-only if it is new). Refuses to overwrite either: a master key
/// replaced is every stored credential lost.
pub fn generate(dir: &Path) -> Result<[std::path::PathBuf; 2], KeyError> {
    let master = dir.join("master.key");
    let session = dir.join("session.key");
    for path in [&master, &session] {
        if path.exists() {
            return Err(KeyError::Invalid(format!(
                "{} exists already: wharf keys generate never overwrites a key (a new master key \
                 could not open what the old one sealed). Choose another folder.",
                path.display()
            )));
        }
    }
    create_private_dir(dir).map_err(|source| KeyError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    create_key_file(&master, MasterKey::LEN)?;
    create_key_file(&session, SESSION_KEY_LEN)?;
    Ok([master, session])
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

pub use crate::db::create_private_dir;
