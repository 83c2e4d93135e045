//! The master key (seals credentials) and the session key (signs and
//! encrypts cookies): from the environment, or from files in the data
//! directory that are made on first start with mode 0600.

use std::io::Write;
use std::path::Path;

use actix_web::cookie::Key;
use base64::Engine;

use crate::config::KeyBytes;
use crate::crypto::MasterKey;

/// Why the keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A key has the wrong length or encoding.
    #[error("{0}")]
    Invalid(String),
}

/// The master key: `WHARF_MASTER_KEY` or `master.key`.
pub fn master_key(data_dir: &Path, env: Option<&KeyBytes>) -> Result<MasterKey, KeyError> {
    let bytes = match env {
        Some(k) => k.0.clone(),
        None => load_or_create(&data_dir.join("master.key"), MasterKey::LEN)?,
    };
    MasterKey::from_bytes(&bytes).ok_or_else(|| {
        KeyError::Invalid(format!("the master key must be {} bytes", MasterKey::LEN))
    })
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
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
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
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
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
        Err(e) => Err(io(e)),
    }
}
