//! The single-table layout: every item's keys, and every access pattern with its key condition.
//!
//! Attributes of every item: `pk`, `sk` (strings), `v` (version, number), `d` (the record as JSON), and
//! where listed the index keys `g1pk`/`g1sk`, `g2pk`/`g2sk`, `g3pk`/`g3sk` and `ttl` (epoch seconds).
//! The global secondary indexes `gsi1`..`gsi3` are keyed by `g1pk`/`g1sk`..`g3pk`/`g3sk` (short names:
//! attribute names are billed on every item). All three project keys only: an update that does not change an index key costs
//! no index write (session and charger records change on every message, their index keys almost never).
//!
//! | record | pk | sk | indexes |
//! |---|---|---|---|
//! | charger | `CP#{id}` | `CP` | g1: `T#{tenant}#CP` / `{id}` |
//! | token | `T#{tenant}#TK#{key}` | `TK` | g1: `T#{tenant}#TK` / `{key}` |
//! | session | `T#{tenant}#CP#{charger}` | `S#{tx}` | g1: `T#{tenant}#S` / `{order}#{charger}#{tx}`; g3: `T#{tenant}#CP#{charger}#S` / `{order}#{tx}`; g2 (only while active): `T#{tenant}#CP#{charger}#A` / `{tx}` |
//! | meter samples of one message | `T#{tenant}#CP#{charger}#S#{tx}` | `M#{first sample ms}#{content hash}` | |
//! | charger log entry | `T#{tenant}#CP#{charger}#L` | `{seq}` | ttl 90 days |
//! | refused connection attempt | `AT#{yyyy-mm-dd}` | `{seq}` | ttl 30 days |
//! | live connection | `CONN#{id}` | `CONN` | ttl 3 hours (API Gateway ends connections after 2) |
//!
//! `{order}` is `u64::MAX - created_at_ms`, zero-padded to 20 digits, so ascending order is newest first.
//! Charger identities are global (the OCPP URL carries only the identity), so the charger item is the one
//! record not under a tenant prefix; its tenant is an attribute, and every tenant-scoped list goes through
//! `g1` under the tenant.
//!
//! | access pattern | operation and key condition |
//! |---|---|
//! | charger by identity (connect, every charger message) | GetItem `CP#{id}` / `CP` |
//! | chargers of a tenant | Query g1 `g1pk = T#{tenant}#CP` |
//! | token | GetItem `T#{tenant}#TK#{key}` / `TK` |
//! | tokens of a tenant | Query g1 `g1pk = T#{tenant}#TK` |
//! | session | GetItem `T#{tenant}#CP#{charger}` / `S#{tx}` |
//! | sessions of a tenant, newest first | Query g1 `g1pk = T#{tenant}#S` |
//! | sessions of a charger, newest first | Query g3 `g3pk = T#{tenant}#CP#{charger}#S` |
//! | open sessions of a charger | Query g2 `g2pk = T#{tenant}#CP#{charger}#A` |
//! | samples of a session | Query `pk = T#{tenant}#CP#{charger}#S#{tx}` and `begins_with(sk, M#)` |
//! | a charger's log, newest first | Query `pk = T#{tenant}#CP#{charger}#L`, descending |
//! | refused attempts, newest first | Query `pk = AT#{day}`, descending, day by day |
//! | connection | GetItem `CONN#{id}` / `CONN` (consistent read) |
//!
//! No request path scans the table.

use cpms_domain::session::Session;
use cpms_domain::{ChargerId, SessionId, TenantId};

/// Order key: ascending is newest first.
pub(crate) fn order(created_ms: i64) -> String {
    format!("{:020}", u64::MAX - created_ms.max(0) as u64)
}

pub(crate) fn charger(id: &ChargerId) -> (String, String) {
    (format!("CP#{id}"), "CP".into())
}

pub(crate) fn chargers_of(tenant: &TenantId) -> String {
    format!("T#{tenant}#CP")
}

pub(crate) fn token(tenant: &TenantId, key: &str) -> (String, String) {
    (format!("T#{tenant}#TK#{key}"), "TK".into())
}

pub(crate) fn tokens_of(tenant: &TenantId) -> String {
    format!("T#{tenant}#TK")
}

pub(crate) fn session(tenant: &TenantId, id: &SessionId) -> (String, String) {
    (
        format!("T#{tenant}#CP#{}", id.charger),
        format!("S#{}", id.transaction),
    )
}

pub(crate) fn sessions_of(tenant: &TenantId) -> String {
    format!("T#{tenant}#S")
}

pub(crate) fn sessions_of_charger(tenant: &TenantId, charger: &ChargerId) -> String {
    format!("T#{tenant}#CP#{charger}#S")
}

pub(crate) fn active_of_charger(tenant: &TenantId, charger: &ChargerId) -> String {
    format!("T#{tenant}#CP#{charger}#A")
}

/// The index keys of a session item (g2 only while it has not ended).
pub(crate) fn session_indexes(s: &Session) -> Vec<(&'static str, String)> {
    let ord = order(s.created_at.timestamp_millis());
    let (t, cp, tx) = (&s.tenant, &s.id.charger, &s.id.transaction);
    let mut out = vec![
        ("g1pk", sessions_of(t)),
        ("g1sk", format!("{ord}#{cp}#{tx}")),
        ("g3pk", sessions_of_charger(t, cp)),
        ("g3sk", format!("{ord}#{tx}")),
    ];
    if s.ended_at.is_none() {
        out.push(("g2pk", active_of_charger(t, cp)));
        out.push(("g2sk", tx.clone()));
    }
    out
}

pub(crate) fn samples_of(tenant: &TenantId, id: &SessionId) -> String {
    format!("T#{tenant}#CP#{}#S#{}", id.charger, id.transaction)
}

pub(crate) fn log_of(tenant: &TenantId, charger: &ChargerId) -> String {
    format!("T#{tenant}#CP#{charger}#L")
}

pub(crate) fn attempts_on(day: chrono::NaiveDate) -> String {
    format!("AT#{}", day.format("%Y-%m-%d"))
}

pub(crate) fn connection(id: &str) -> (String, String) {
    (format!("CONN#{id}"), "CONN".into())
}

/// A sequence number for log and attempt keys: microseconds and three random digits, so writers in
/// different Lambda instances do not collide.
pub(crate) fn seq(at: chrono::DateTime<chrono::Utc>) -> String {
    let micros = at.timestamp_micros().max(0) as u64;
    format!("{:020}", micros * 1000 + u64::from(rand_digits()))
}

fn rand_digits() -> u16 {
    rand::random_range(0..1000)
}
