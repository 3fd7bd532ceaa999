//! Which roaming records live in the document store, and the orders a partner's request is found
//! in. An OCPI request carries only its token, so partners are listed by the digests of the tokens we
//! issued them: token C in one index, the registration token A in the other. Lookups stay within a
//! tenant: each tenant has its own OCPI base URL (and party ids), which names the tenant.

use chrono::{DateTime, Utc};
use cpms_domain::TenantId;
use cpms_domain::roaming::{Partner, Published, PushAttempt, PushJob, PushLease, RoamingSettings};

use crate::documents::{INDEX_SLOTS, IndexKey, Record};

/// Index slot of partners by the digest of their token C.
pub const BY_TOKEN: usize = 0;
/// Index slot of partners by the digest of their registration token A.
pub const BY_REGISTRATION_TOKEN: usize = 1;

/// The partition of a token digest in either index.
pub fn token_partition(sha256: &str) -> String {
    format!("token:{sha256}")
}

impl Record for Partner {
    const KIND: &'static str = "ocpi-partner";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let by = |digest: &Option<String>| {
            digest.as_ref().map(|d| IndexKey {
                partition: token_partition(d),
                sort: self.id.clone(),
            })
        };
        [by(&self.token_sha256), by(&self.registration_token_sha256)]
    }
}

/// The id of a tenant's one [`RoamingSettings`] record.
pub const SETTINGS_ID: &str = "ocpi";

impl Record for RoamingSettings {
    const KIND: &'static str = "ocpi-settings";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        SETTINGS_ID.into()
    }
}

impl Record for Published {
    const KIND: &'static str = "ocpi-object";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        Published::key(&self.module, &self.object_id)
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        [
            Some(IndexKey {
                partition: Published::audience_list(&self.module, self.audience.as_deref()),
                sort: Published::order(self.last_updated, &self.object_id),
            }),
            None,
        ]
    }
}

/// Index slot of push jobs in their partner's order.
pub const PUSH_QUEUE: usize = 0;
/// Index slot of push jobs by when they are due (dead jobs by partner instead).
pub const PUSH_DUE: usize = 1;

/// The partition of a partner's queue.
pub fn push_queue(partner: &str) -> String {
    format!("queue:{partner}")
}

/// The partition of due jobs (all partners of a tenant).
pub const PUSH_DUE_LIST: &str = "due";

/// The partition of a partner's dead jobs.
pub fn push_dead(partner: &str) -> String {
    format!("dead:{partner}")
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where due jobs up to `t` end in the due list.
pub fn due_until(t: DateTime<Utc>) -> String {
    format!("{}~", stamp(t))
}

impl Record for PushJob {
    const KIND: &'static str = "ocpi-push";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        PushJob::id(self)
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        let id = PushJob::id(self);
        [
            Some(IndexKey {
                partition: push_queue(&self.partner),
                sort: format!("{}|{id}", stamp(self.queued_at)),
            }),
            Some(if self.dead {
                IndexKey {
                    partition: push_dead(&self.partner),
                    sort: format!("{}|{id}", stamp(self.queued_at)),
                }
            } else {
                IndexKey {
                    partition: PUSH_DUE_LIST.into(),
                    sort: format!("{}|{id}", stamp(self.next_at)),
                }
            }),
        ]
    }
}

/// The partition of a partner's delivery log, or of one object's when `object` is given.
pub fn push_log(partner: &str, object: Option<(&str, &str)>) -> String {
    match object {
        Some((module, id)) => format!("log:{partner}:{module}:{id}"),
        None => format!("log:{partner}"),
    }
}

impl Record for PushAttempt {
    const KIND: &'static str = "ocpi-push-attempt";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn index(&self) -> [Option<IndexKey>; INDEX_SLOTS] {
        [
            Some(IndexKey {
                partition: push_log(&self.partner, None),
                sort: self.id.clone(),
            }),
            Some(IndexKey {
                partition: push_log(&self.partner, Some((&self.module, &self.object_id))),
                sort: self.id.clone(),
            }),
        ]
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.at + chrono::Duration::days(30))
    }
}

impl Record for PushLease {
    const KIND: &'static str = "ocpi-push-lease";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.partner.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpms_domain::roaming::{Connection, PartnerRole};

    #[test]
    fn a_partner_is_listed_under_the_digests_of_the_tokens_it_holds() {
        // GIVEN an invited partner
        let now = chrono::Utc::now();
        let (mut p, _) = Partner::invite(
            TenantId::default_tenant(),
            "eMSP".into(),
            "NL",
            "EXA",
            vec![PartnerRole::Emsp],
            [1; 32],
            now,
        );
        // THEN it is found by its registration token only
        let [c, a] = p.index();
        assert!(c.is_none());
        let a = a.unwrap();
        assert_eq!(
            a.partition,
            token_partition(p.registration_token_sha256.as_ref().unwrap())
        );
        assert_eq!(a.sort, "NL-EXA");
        // WHEN it registers THEN by its token C only
        p.registered(
            false,
            ("nl", "exa"),
            "b".into(),
            Connection {
                versions_url: "http://e/versions".into(),
                version: "2.2.1".into(),
                endpoints: vec![],
            },
            [2; 32],
            now,
        )
        .unwrap();
        let [c, a] = p.index();
        assert!(a.is_none());
        assert_eq!(
            c.unwrap().partition,
            token_partition(p.token_sha256.as_ref().unwrap())
        );
    }
}
