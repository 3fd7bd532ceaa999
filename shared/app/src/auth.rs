//! Charger credentials: Argon2id hashes of Basic-auth passwords, and their verification at connect time.
//!
//! Chargers reconnect often (API Gateway ends connections after 2 hours), so a successful verification is
//! remembered per charger (keyed by the stored hash and a SHA-256 of the presented password): a reconnect
//! storm costs one Argon2 run per charger, not one per reconnect.
//!
//! OCPP 1.6 AuthorizationKey is set as hex; chargers differ on whether they send the hex text or the raw
//! bytes it encodes. Both are accepted.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Argon2id with 8 MiB and one pass: charger passwords are machine-generated (16-40 characters), so the
/// hash need not be as slow as for human passwords, and connect storms stay affordable.
fn argon2() -> Argon2<'static> {
    let params = Params::new(8 * 1024, 1, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
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

/// Verifies presented passwords, remembering recent successes.
#[derive(Default)]
pub struct PasswordHasher {
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

/// How many remembered verifications before the memory is reset.
const MAX_REMEMBERED: usize = 200_000;

impl PasswordHasher {
    /// Whether `presented` (raw bytes from the Basic-auth header) matches `phc` for `charger`.
    pub fn verify(&self, charger: &str, phc: &str, presented: &[u8]) -> bool {
        let token = memo(phc, presented);
        {
            let seen = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get(charger) == Some(&token) {
                return true;
            }
        }
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let ok = candidates(presented)
            .iter()
            .any(|c| argon2().verify_password(c, &parsed).is_ok());
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

    #[test]
    fn a_hashed_password_verifies_and_others_do_not() {
        let phc = hash_password("s3cret-s3cret-s3cret");
        let h = PasswordHasher::default();
        assert!(h.verify("CP1", &phc, b"s3cret-s3cret-s3cret"));
        assert!(h.verify("CP1", &phc, b"s3cret-s3cret-s3cret"), "remembered");
        assert!(!h.verify("CP1", &phc, b"wrong"));
        assert!(!h.verify("CP1", "not a phc string", b"x"));
    }

    #[test]
    fn hex_and_raw_forms_of_an_authorization_key_are_accepted() {
        let key_hex = "0011AAFF0011AAFF0011AAFF0011AAFF";
        let phc = hash_password(key_hex);
        let raw = hex::decode(key_hex).unwrap();
        assert!(PasswordHasher::default().verify("CP2", &phc, &raw));
        let phc_raw = hash_password("AAAABBBBCCCCDDDD");
        assert!(PasswordHasher::default().verify("CP3", &phc_raw, b"AAAABBBBCCCCDDDD"));
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
