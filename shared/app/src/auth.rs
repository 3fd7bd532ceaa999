//! Charger credentials: Argon2id hashes of Basic-auth passwords, and their verification at connect time.
//!
//! Argon2 is deliberately costly (about 8 ms and 8 MiB per run), so it never runs on the async workers:
//! hashing and verification go to [`PasswordHasher::PARALLEL`] threads of its own (bounded memory; a
//! storm of connects queues there instead of stalling every other charger's frames).
//!
//! Chargers reconnect often (API Gateway ends connections after 2 hours; a restart of `cpms serve`
//! reconnects all of them at once), so a successful verification is remembered twice:
//! - in memory, per charger, keyed by the stored hash and a SHA-256 of the presented password;
//! - with the charger record, as an HMAC-SHA256 of (stored hash, presented password) under the
//!   installation's credential key (a file in the data directory; `CPMS_CREDENTIAL_KEY` on AWS). That
//!   survives restarts and is shared by every Lambda instance, so a reconnect storm costs one HMAC per
//!   charger. It names the hash it was made for, so a rotated password never matches it, and without
//!   the key (which is not in the database) a copy of the table gives no fast way to test guesses.
//!
//! OCPP 1.6 AuthorizationKey is set as hex; chargers differ on whether they send the hex text or the raw
//! bytes it encodes. Both are accepted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Argon2id with 8 MiB and one pass: charger passwords are machine-generated (16-40 characters), so the
/// hash need not be as slow as for human passwords, and connect storms stay affordable.
fn argon2() -> Argon2<'static> {
    let params = Params::new(8 * 1024, 1, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (blocking: call it through [`PasswordHasher::hash`] from async
/// code).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).unwrap_or_else(|_| {
        // 16 bytes always encode; keep a fixed salt rather than panic if that ever changes.
        SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").expect("constant salt")
    });
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// A secret of the installation that keys the credential checks kept with chargers.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialKey([u8; 32]);

impl CredentialKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        CredentialKey(bytes)
    }

    /// A key from 64 hex digits.
    pub fn from_hex(hex_text: &str) -> Option<Self> {
        let bytes = hex::decode(hex_text.trim()).ok()?;
        Some(CredentialKey(bytes.try_into().ok()?))
    }

    /// A new random key.
    pub fn generate() -> Self {
        CredentialKey(rand::random())
    }

    /// The key as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn mac(&self, phc: &str, presented: &[u8]) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        m.update(phc.as_bytes());
        m.update(&[0]);
        m.update(presented);
        m
    }
}

impl std::fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialKey(..)")
    }
}

/// Verifies presented passwords, remembering recent successes.
pub struct PasswordHasher {
    verified: Mutex<HashMap<String, [u8; 32]>>,
    key: Option<CredentialKey>,
    permits: Arc<Semaphore>,
    workers: std::sync::OnceLock<Workers>,
}

type Work = Box<dyn FnOnce() + Send>;

/// [`PasswordHasher::PARALLEL`] long-lived threads for Argon2. Each reuses the memory of its last run,
/// so what the allocator keeps stays at about `PARALLEL` x 8 MiB (on tokio's blocking pool, which
/// starts threads as it needs them, every new thread kept its own). They end when the hasher is dropped.
struct Workers {
    tx: std::sync::mpsc::Sender<Work>,
    started: usize,
}

impl Workers {
    fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Work>();
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for n in 0..PasswordHasher::PARALLEL {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cpms-argon2-{n}"))
                .spawn(move || {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(work) = next else { return };
                        // A panic ends this run only; its caller sees the dropped answer.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a password hashing thread"),
            }
        }
        Workers { tx, started }
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher::new(None)
    }
}

/// How many remembered verifications before the memory is reset.
const MAX_REMEMBERED: usize = 200_000;

impl PasswordHasher {
    /// Argon2 runs at once, at most (each holds 8 MiB).
    pub const PARALLEL: usize = 4;

    /// A hasher; with a key, verifications are also kept with the chargers (see the module).
    pub fn new(key: Option<CredentialKey>) -> Self {
        PasswordHasher {
            verified: Mutex::default(),
            key,
            permits: Arc::new(Semaphore::new(Self::PARALLEL)),
            workers: std::sync::OnceLock::new(),
        }
    }

    /// Hashes a password on the bounded blocking pool.
    pub async fn hash(&self, password: String) -> String {
        self.blocking(move || hash_password(&password)).await
    }

    /// Runs Argon2 work on one of the hashing threads once one is free.
    async fn blocking<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let _permit = self.permits.clone().acquire_owned().await;
        let workers = self.workers.get_or_init(Workers::start);
        if workers.started == 0 {
            // No thread of its own could start: tokio's blocking pool does the work instead.
            return match tokio::task::spawn_blocking(f).await {
                Ok(r) => r,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move || {
            let _ = tx.send(f());
        });
        // The threads hold the receiver until the hasher is dropped, so sending cannot fail here.
        let _ = workers.tx.send(work);
        rx.await
            .unwrap_or_else(|_| panic!("password hashing failed (its thread panicked)"))
    }

    /// The check to keep with the charger after `presented` matched `phc` (`None` without a key).
    pub fn check_for(&self, phc: &str, presented: &[u8]) -> Option<String> {
        let key = self.key.as_ref()?;
        Some(hex::encode(key.mac(phc, presented).finalize().into_bytes()))
    }

    /// Whether `presented` (raw bytes from the Basic-auth header) matches `phc` for `charger`; `kept`
    /// is the check stored with the charger, if any.
    pub async fn verify(
        &self,
        charger: &str,
        phc: &str,
        presented: &[u8],
        kept: Option<&str>,
    ) -> bool {
        let token = memo(phc, presented);
        {
            let seen = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get(charger) == Some(&token) {
                return true;
            }
        }
        let known = match (&self.key, kept.and_then(|k| hex::decode(k).ok())) {
            (Some(key), Some(kept)) => key.mac(phc, presented).verify_slice(&kept).is_ok(),
            _ => false,
        };
        let ok = known || {
            let (phc, presented) = (phc.to_string(), presented.to_vec());
            self.blocking(move || {
                let Ok(parsed) = PasswordHash::new(&phc) else {
                    return false;
                };
                candidates(&presented)
                    .iter()
                    .any(|c| argon2().verify_password(c, &parsed).is_ok())
            })
            .await
        };
        if ok {
            let mut seen = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() >= MAX_REMEMBERED {
                seen.clear();
            }
            seen.insert(charger.to_string(), token);
        }
        ok
    }
}

fn memo(phc: &str, presented: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(phc.as_bytes());
    h.update([0]);
    h.update(presented);
    h.finalize().into()
}

/// The forms a password may arrive in: as registered; the hex text of raw bytes; the raw bytes of hex text.
fn candidates(presented: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![presented.to_vec()];
    out.push(hex::encode(presented).into_bytes());
    out.push(hex::encode_upper(presented).into_bytes());
    if let Ok(raw) = hex::decode(presented) {
        out.push(raw);
    }
    out
}

/// Reads `Authorization: Basic base64(user:password)`. The password is raw bytes (it may not be UTF-8).
pub(crate) fn parse_basic(header: &str) -> Option<(String, Vec<u8>)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8_lossy(&decoded[..colon]).into_owned();
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hashed_password_verifies_and_others_do_not() {
        let phc = hash_password("s3cret-s3cret-s3cret");
        let h = PasswordHasher::default();
        assert!(h.verify("CP1", &phc, b"s3cret-s3cret-s3cret", None).await);
        assert!(
            h.verify("CP1", &phc, b"s3cret-s3cret-s3cret", None).await,
            "remembered"
        );
        assert!(!h.verify("CP1", &phc, b"wrong", None).await);
        assert!(!h.verify("CP1", "not a phc string", b"x", None).await);
    }

    #[tokio::test]
    async fn hex_and_raw_forms_of_an_authorization_key_are_accepted() {
        let key_hex = "0011AAFF0011AAFF0011AAFF0011AAFF";
        let phc = hash_password(key_hex);
        let raw = hex::decode(key_hex).unwrap();
        assert!(
            PasswordHasher::default()
                .verify("CP2", &phc, &raw, None)
                .await
        );
        let phc_raw = hash_password("AAAABBBBCCCCDDDD");
        let h = PasswordHasher::default();
        assert!(h.verify("CP3", &phc_raw, b"AAAABBBBCCCCDDDD", None).await);
    }

    #[tokio::test]
    async fn a_kept_check_lets_a_new_process_in_without_argon2_and_only_for_that_hash() {
        // GIVEN a verification kept with the charger by one process
        let key = CredentialKey::generate();
        let phc = hash_password("first-password-0001");
        let first = PasswordHasher::new(Some(key.clone()));
        assert!(
            first
                .verify("CP1", &phc, b"first-password-0001", None)
                .await
        );
        let kept = first.check_for(&phc, b"first-password-0001").unwrap();
        // WHEN another process with the same key checks a connect (a garbage hash: Argon2 would refuse)
        let second = PasswordHasher::new(Some(key.clone()));
        let unrelated = second
            .verify("CP1", "$argon2id$garbage", b"x", Some(&kept))
            .await;
        assert!(!unrelated, "the check names the hash it was made for");
        // THEN the kept check lets the same password in, and nothing else
        assert!(
            second
                .verify("CP1", &phc, b"first-password-0001", Some(&kept))
                .await
        );
        let third = PasswordHasher::new(Some(key));
        assert!(!third.verify("CP1", &phc, b"wrong", Some(&kept)).await);
        let other_key = PasswordHasher::new(Some(CredentialKey::generate()));
        assert!(!other_key.verify("CP1", &phc, b"guess", Some(&kept)).await);
        assert!(
            other_key
                .verify("CP1", &phc, b"first-password-0001", Some(&kept))
                .await,
            "another key falls back to Argon2"
        );
    }

    #[test]
    fn basic_headers_are_parsed() {
        let h = format!("Basic {}", STANDARD.encode(b"CP1:pa:ss"));
        assert_eq!(parse_basic(&h), Some(("CP1".into(), b"pa:ss".to_vec())));
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(
            parse_basic(&format!("basic {}", STANDARD.encode(b"nocolon"))),
            None
        );
    }
}
