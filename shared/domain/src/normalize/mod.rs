//! The normalizer: the only place where versioned OCPP messages turn into domain inputs. Everything past
//! it sees one model for both versions.

pub mod v16;
pub mod v201;

use sha2::{Digest, Sha256};

use crate::ChargerId;

/// A stable hash of a message's content: the same message resent (after a reconnect, by a Lambda retry)
/// has the same fingerprint. `serde_json` keeps object keys sorted, so the text is canonical.
pub fn fingerprint(action: &str, payload: &serde_json::Value) -> u64 {
    let mut h = Sha256::new();
    h.update(action.as_bytes());
    h.update([0]);
    // Writing into the hasher avoids building the text.
    let _ = serde_json::to_writer(&mut h, payload);
    first_u64(&h.finalize())
}

/// The transaction id the CSMS assigns to a 1.6 StartTransaction: derived from the charger and the
/// start's fingerprint, so a resent start gets the same id without a counter (and without a second
/// write). `attempt` moves to another id when the derived one is taken by a different session.
/// Always in `1..=i32::MAX`.
pub fn transaction_id_v16(charger: &ChargerId, fingerprint: u64, attempt: u32) -> i32 {
    let mut h = Sha256::new();
    h.update(charger.as_str().as_bytes());
    h.update(fingerprint.to_be_bytes());
    h.update(attempt.to_be_bytes());
    let n = first_u64(&h.finalize()) % (i32::MAX as u64);
    n as i32 + 1
}

fn first_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_and_see_content() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        let b = json!({"a": 2, "b": 1});
        assert_eq!(fingerprint("X", &a), fingerprint("X", &b));
        assert_ne!(fingerprint("X", &a), fingerprint("Y", &a));
        assert_ne!(
            fingerprint("X", &a),
            fingerprint("X", &json!({"a": 3, "b": 1}))
        );
    }

    #[test]
    fn transaction_ids_are_positive_stable_and_move_on_collision() {
        let cp = ChargerId::new("CP1").unwrap();
        let a = transaction_id_v16(&cp, 7, 0);
        assert_eq!(a, transaction_id_v16(&cp, 7, 0));
        assert_ne!(a, transaction_id_v16(&cp, 7, 1));
        for fp in 0..1000 {
            assert!(transaction_id_v16(&cp, fp, 0) > 0);
        }
    }
}
