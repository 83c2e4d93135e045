//! `wharf credential-provider`: the plugin kubelet runs (KEP-2133). It
//! reads a `CredentialProviderRequest` on stdin, asks wharf's
//! `/api/v1/credentials` with the cluster's token, and writes only the
//! `CredentialProviderResponse` on stdout. Any failure is a line on stderr
//! and exit status 1, within 10 seconds. The last good answer per image is
//! kept (files 0600) and given when wharf cannot be reached or fails
//! (5xx), up to `--max-stale` old; never after wharf refused the token
//! (401, 403), which also forgets every kept answer.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::kube::credential_provider::{API_VERSION, Request, Response};

/// The whole exchange, kubelet's wait included, stays under this.
const DEADLINE: Duration = Duration::from_secs(8);

/// What the plugin is told (flags or environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// wharf's address (`WHARF_URL`).
    pub url: String,
    /// The file holding the cluster's token (`WHARF_TOKEN_FILE`).
    pub token_file: PathBuf,
    /// Where answers are kept.
    pub cache_dir: PathBuf,
    /// How old a kept answer may be and still be given.
    pub max_stale: i64,
}

/// A kept answer.
#[derive(Serialize, Deserialize)]
struct Kept {
    /// When wharf gave it (Unix seconds).
    fetched_at: i64,
    response: Response,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Why wharf gave no answer.
enum Failure {
    /// wharf refused the token: nothing kept may be used.
    Refused(String),
    /// wharf could not be reached or failed: a kept answer may do.
    Unavailable(String),
    /// Anything else (a bad request, a malformed answer).
    Other(String),
}

/// Runs the plugin on `input`, writing the answer to `out`.
pub fn run(settings: &Settings, input: impl Read, mut out: impl Write) -> Result<(), String> {
    let mut raw = Vec::new();
    input
        .take(1 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read the request on stdin: {e}"))?;
    let request: Request = serde_json::from_slice(&raw)
        .map_err(|e| format!("stdin is not a CredentialProviderRequest: {e}"))?;
    if request.api_version != API_VERSION || request.kind != "CredentialProviderRequest" {
        return Err(format!(
            "expected a CredentialProviderRequest of {API_VERSION}, got {} {}",
            request.kind, request.api_version
        ));
    }
    if !settings.cache_dir.is_absolute() {
        return Err(format!(
            "--cache-dir must be an absolute path (kubelet runs the plugin from /), not {}",
            settings.cache_dir.display()
        ));
    }
    // A directory another user may write to could hold an answer planted
    // for an outage: refused before anything is asked or kept.
    own_private_dir(&settings.cache_dir)?;
    let kept_file = settings.cache_dir.join(cache_name(&request.image));
    let response = match ask(settings, &request.image) {
        Ok(response) => {
            // Keeping is a convenience: a failure to keep is only said.
            if let Err(e) = keep(&kept_file, &response) {
                eprintln!(
                    "wharf credential-provider: cannot keep the answer: {}",
                    crate::domain::one_line(&e.to_string())
                );
            }
            response
        }
        Err(Failure::Refused(why)) => {
            forget_all(&settings.cache_dir);
            return Err(why);
        }
        Err(Failure::Unavailable(why)) => match kept(&kept_file, settings.max_stale) {
            Some(mut response) => {
                eprintln!(
                    "wharf credential-provider: {}; giving the last answer kept",
                    crate::domain::one_line(&why)
                );
                // kubelet asks again at the next pull instead of caching
                // an answer that may be stale.
                response.cache_duration = "0s".into();
                response
            }
            None => return Err(format!("{why}, and no answer kept within --max-stale")),
        },
        Err(Failure::Other(why)) => return Err(why),
    };
    let text = serde_json::to_string(&response).map_err(|e| e.to_string())?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the answer: {e}"))
}

/// A file name for an image's kept answer.
fn cache_name(image: &str) -> String {
    let digest = Sha256::digest(image.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.json")
}

fn ask(settings: &Settings, image: &str) -> Result<Response, Failure> {
    // Anyone who can read the token gets every delivered credential: say
    // so on stderr (kubelet logs it), but still answer, since refusing
    // would stop the node's pulls over a file mode.
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(&settings.token_file)
        && meta.mode() & 0o077 != 0
    {
        eprintln!(
            "wharf credential-provider: warning: the token file {} has mode {:o}; others on this node can read the cluster's token. Make it 0600 (sudo chmod 0600 {}).",
            settings.token_file.display(),
            meta.mode() & 0o777,
            settings.token_file.display()
        );
    }
    let token = std::fs::read_to_string(&settings.token_file)
        .map_err(|e| {
            Failure::Other(format!(
                "cannot read the token file {}: {e}",
                settings.token_file.display()
            ))
        })?
        .trim()
        .to_owned();
    // An empty file (in the middle of a rotation, say) is this node's
    // problem, not wharf's refusal: nothing kept is forgotten for it.
    if token.is_empty() {
        return Err(Failure::Other(format!(
            "the token file {} is empty",
            settings.token_file.display()
        )));
    }
    let url = format!("{}/api/v1/credentials", settings.url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(e.to_string()))?;
    let answer = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(DEADLINE)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Failure::Other(e.to_string()))?;
        let res = client
            .get(&url)
            .query(&[("image", image)])
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| {
                if e.is_builder() {
                    // Something local (a token with a control character).
                    Failure::Other(format!("cannot make the request: {e}"))
                } else {
                    Failure::Unavailable(format!("cannot reach wharf at {url}: {e}"))
                }
            })?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| Failure::Unavailable(format!("wharf's answer broke off: {e}")))?;
        let detail = || {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v["detail"]
                        .as_str()
                        .map(|d| crate::domain::truncate(d, 300))
                })
                .unwrap_or_default()
        };
        match status.as_u16() {
            200 => {
                let response: Response = serde_json::from_slice(&body).map_err(|e| {
                    Failure::Other(format!(
                        "wharf's answer is not a CredentialProviderResponse: {e}"
                    ))
                })?;
                if response.is_valid() {
                    Ok(response)
                } else {
                    Err(Failure::Other(
                        "wharf's answer has the wrong apiVersion or kind".into(),
                    ))
                }
            }
            401 | 403 => Err(Failure::Refused(format!(
                "wharf refused the token (HTTP {status}): {}",
                detail()
            ))),
            500..=599 => Err(Failure::Unavailable(format!(
                "wharf failed (HTTP {status})"
            ))),
            _ => Err(Failure::Other(format!(
                "wharf answered HTTP {status}: {}",
                detail()
            ))),
        }
    });
    // A name lookup that hangs stays behind on its blocking thread instead
    // of holding the answer past kubelet's patience.
    runtime.shutdown_background();
    answer
}

/// The plugin's effective user.
fn euid() -> u32 {
    // SAFETY: geteuid takes nothing, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Makes the cache directory (0700) if it is missing, and refuses one that
/// is not a directory owned by this user and writable by no one else.
fn own_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot make the cache directory {}: {e}", dir.display()))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot read the cache directory {}: {e}", dir.display()))?;
    let refuse = |why: String| {
        Err(format!(
            "the cache directory {} {why}, so another user could plant an answer: it is not used. \
             Remove it (the plugin makes it again, 0700) or give it to this user with mode 0700.",
            dir.display()
        ))
    };
    if !meta.is_dir() {
        return refuse("is not a directory (a link, or a file)".into());
    }
    if meta.uid() != euid() {
        return refuse(format!(
            "belongs to user {}, not to this one ({})",
            meta.uid(),
            euid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!(
            "is writable by others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

fn keep(file: &Path, response: &Response) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_vec(&Kept {
        fetched_at: now(),
        response: response.clone(),
    })?;
    // Written whole under another name, then renamed: a reader never sees
    // half a file.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    // Never through a link someone put there.
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&text)?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)
}

fn kept(file: &Path, max_stale: i64) -> Option<Response> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    // Only a file of this user's, never through a link.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .ok()?;
    let meta = f.metadata().ok()?;
    if meta.uid() != euid() || meta.mode() & 0o022 != 0 {
        return None;
    }
    let mut text = Vec::new();
    f.read_to_end(&mut text).ok()?;
    let kept: Kept = serde_json::from_slice(&text).ok()?;
    (now() - kept.fetched_at <= max_stale && kept.response.is_valid()).then_some(kept.response)
}

fn forget_all(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") || name.contains(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
