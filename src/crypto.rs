//! Sealing stored credentials (XChaCha20-Poly1305 under the master key) and
//! hashing account passwords (argon2id).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::domain::Password;
use crate::error::AppError;

/// Bytes of an XChaCha20 nonce, stored in front of each ciphertext.
const NONCE_LEN: usize = 24;

/// The key that seals every stored password and SSH key.
pub struct MasterKey(XChaCha20Poly1305);

/// A sealed value could not be opened: wrong master key or tampered data.
#[derive(Debug, thiserror::Error)]
#[error("a stored credential could not be decrypted (wrong master key or damaged data)")]
pub struct OpenError;

/// What a secret's value (password, key, access key) is sealed with: its
/// name, so that a value copied to another row cannot be opened there.
pub fn secret_aad(name: &str) -> &[u8] {
    name.as_bytes()
}

impl MasterKey {
    /// Length of the key in bytes.
    pub const LEN: usize = 32;

    /// Builds the key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        XChaCha20Poly1305::new_from_slice(bytes).ok().map(Self)
    }

    /// Encrypts `plaintext` bound to `aad`; the result is nonce || ciphertext.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = XNonce::generate();
        let mut out = nonce.to_vec();
        // Encryption with a valid key and an in-memory buffer cannot fail.
        let ct = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`MasterKey::seal`] made with the same `aad`.
    /// Opens sealed text: a secret's value, sealed under its name (see
    /// [`secret_aad`]), or anything sealed under `aad`. The error names
    /// `what` (a secret's name), never the value.
    pub fn open_text(
        &self,
        aad: &[u8],
        sealed: &[u8],
        what: &str,
    ) -> Result<String, crate::error::AppError> {
        let plain = self
            .open(aad, sealed)
            .map_err(|e| crate::error::AppError::internal(format!("secret {what}: {e}")))?;
        String::from_utf8(plain).map_err(|_| {
            crate::error::AppError::internal(format!(
                "secret {what}: the stored value is not UTF-8"
            ))
        })
    }

    /// Opens what was sealed under `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError)?;
        self.0
            .decrypt(&nonce, Payload { msg: ct, aad })
            .map_err(|_| OpenError)
    }
}

/// Hashes an account password with argon2id at the crate's defaults (the
/// OWASP minimum: 19 MiB, 2 passes, 1 lane). Slow on purpose: call it on
/// the blocking pool.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// A hash of a random password, verified against when the user does not
/// exist so that a sign-in takes as long either way.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random: [u8; 16] = rand::random();
    hash_password(&format!("{random:?}")).unwrap_or_default()
});

/// Checks a password against a stored PHC string (`None`: unknown user,
/// checked against a dummy so timing tells nothing). Slow: blocking pool.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let phc = stored.unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    ok && stored.is_some()
}

/// How long a request waits for a hashing permit before it is told the
/// server is busy.
pub const HASH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs argon2 (19 MiB and tens of milliseconds a hash) with a process-wide
/// bound: at most one hash per core at a time, however many sign-ins
/// arrive, so a burst of guesses cannot fill the blocking pool, the memory
/// or the CPU that every other page needs. Requests wait their turn without
/// holding a thread; past [`HASH_QUEUE_WAIT`] they get 503.
pub struct PasswordHashing {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    in_flight: std::sync::Arc<AtomicUsize>,
    peak: AtomicUsize,
}

impl PasswordHashing {
    /// One permit per core.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_permits(cores)
    }

    /// At most `permits` hashes at once.
    pub fn with_permits(permits: usize) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(permits.max(1))),
            in_flight: std::sync::Arc::new(AtomicUsize::new(0)),
            peak: AtomicUsize::new(0),
        }
    }

    /// The most hashes that ever ran at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// [`verify_password`] within the bound.
    pub async fn verify(&self, stored: Option<String>, password: String) -> Result<bool, AppError> {
        self.bounded(move || verify_password(stored.as_deref(), &password))
            .await
    }

    /// [`hash_password`] within the bound.
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        self.bounded(move || hash_password(password.expose()))
            .await?
            .map_err(AppError::internal)
    }

    async fn bounded<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit =
            actix_web::rt::time::timeout(HASH_QUEUE_WAIT, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| AppError::Busy(HASH_QUEUE_WAIT.as_secs()))?
                .map_err(AppError::internal)?;
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let in_flight = self.in_flight.clone();
        // The permit lives as long as the hash, not the request: a client
        // that hangs up must not free a slot while argon2 still runs.
        let out = actix_web::web::block(move || {
            let out = work();
            in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            out
        })
        .await;
        Ok(out?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_bound_to_aad() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal(b"gitlab", b"glpat-secret");
        assert!(!sealed.windows(12).any(|w| w == b"glpat-secret"));
        assert_eq!(key.open(b"gitlab", &sealed).unwrap(), b"glpat-secret");
        assert!(key.open(b"other", &sealed).is_err());
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open(b"gitlab", &sealed).is_err());
        assert!(key.open(b"gitlab", &sealed[..10]).is_err());
        assert_ne!(key.seal(b"a", b"x"), key.seal(b"a", b"x"), "nonces differ");
    }

    #[test]
    fn argon2id_hashes_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(Some(&h), "correct horse battery"));
        assert!(!verify_password(Some(&h), "wrong"));
        assert!(!verify_password(None, "anything"));
        assert!(!verify_password(Some("not a phc"), "x"));
    }
}
