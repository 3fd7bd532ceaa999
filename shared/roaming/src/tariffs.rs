//! The tariffs module (we are its Sender): which of the tenant's tariffs partners see, and which tariff
//! each connector names.
//!
//! What is published follows the tariff assignments billing prices by (`group` > `partner` > `charger`
//! > `site` > `default`):
//! - a tariff assigned to a charger, a site or the default is public: every partner sees it, and the
//!   connectors there name it (a charger's own before its site's before the default);
//! - a tariff assigned to a partner is that partner's price: only it sees the tariff (kept as
//!   `{id}@{partner}`, one copy per partner it is assigned to), and every connector names it in the
//!   locations that partner is sent, since billing prices its drivers' sessions by it everywhere;
//! - a tariff assigned only to token groups (members' prices), or to nothing, is not published.
//!
//! A tariff that stops being published is DELETEd at the partners that had it. Which tariff a
//! connector names is the assigned one; a tariff that is outside its `start_date_time` ..
//! `end_date_time` says so itself (billing then falls back to the next scope, which the location does
//! not name).

use std::collections::{BTreeMap, BTreeSet};

use cpms_domain::billing::{Scope, TariffAssignment};
use cpms_domain::roaming::{Partner, Published, PushAction, RoamingSettings};
use cpms_domain::tariff::Tariff;
use cpms_domain::{ChargerId, TenantId};
use cpms_ports::{Documents, PageRequest, StoreError, Versioned};
use serde_json::Value;

use crate::objects;
use crate::publish::{LOCATIONS, TARIFFS};
use crate::{Roaming, RoamingError};

/// The OCPI id of a published tariff's record id (`{id}` or `{id}@{partner}`).
pub fn ocpi_id(object_id: &str) -> &str {
    object_id.split_once('@').map_or(object_id, |(id, _)| id)
}

/// Which tariff each scope has now (removed assignments left out).
#[derive(Debug, Clone, Default)]
pub struct TariffIndex {
    by_scope: BTreeMap<String, String>,
}

impl TariffIndex {
    /// From the tenant's assignments.
    pub fn of(assignments: impl IntoIterator<Item = TariffAssignment>) -> Self {
        TariffIndex {
            by_scope: assignments
                .into_iter()
                .filter_map(|a| Some((a.scope, a.tariff_id?)))
                .collect(),
        }
    }

    /// The tariff the connectors of `charger` at `site` name for every partner: the charger's own,
    /// else the site's, else the default.
    pub fn public_for(&self, site: &str, charger: &ChargerId) -> Vec<String> {
        [
            Scope::Charger(charger.to_string()),
            Scope::Site(site.to_string()),
            Scope::Default,
        ]
        .iter()
        .find_map(|s| self.by_scope.get(&s.key()))
        .cloned()
        .into_iter()
        .collect()
    }

    /// Who sees tariff `id`: `Some(None)` every partner, `Some(Some(partners))` only those, `None`
    /// nobody.
    fn audience(&self, id: &str) -> Option<Option<BTreeSet<String>>> {
        let mut partners = BTreeSet::new();
        for (scope, t) in &self.by_scope {
            if t != id {
                continue;
            }
            match Scope::parse(scope) {
                Ok(Scope::Default | Scope::Site(_) | Scope::Charger(_)) => return Some(None),
                Ok(Scope::Partner(p)) => {
                    partners.insert(p);
                }
                Ok(Scope::TokenGroup(_)) | Err(_) => {}
            }
        }
        (!partners.is_empty()).then_some(Some(partners))
    }
}

/// A location as `partner` sees it: every connector names the partner's own tariff, where it has one.
pub fn location_for_partner(body: &mut Value, tariff: Option<&str>) {
    let Some(t) = tariff else {
        return;
    };
    for evse in body["evses"].as_array_mut().into_iter().flatten() {
        for c in evse["connectors"].as_array_mut().into_iter().flatten() {
            c["tariff_ids"] = Value::Array(vec![Value::String(t.to_string())]);
        }
    }
}

impl Roaming {
    /// Which tariff each scope of the tenant has.
    pub(crate) async fn tariff_index(&self, tenant: &TenantId) -> Result<TariffIndex, StoreError> {
        Ok(TariffIndex::of(
            self.records::<TariffAssignment>().all(tenant).await?,
        ))
    }

    /// The tariff a partner's drivers pay, where it has one of its own (one read: what a partner's
    /// GET and a push of a location to it ask).
    pub(crate) async fn partner_tariff(
        &self,
        partner: &Partner,
    ) -> Result<Option<String>, StoreError> {
        let key = Scope::Partner(partner.id.clone()).key();
        Ok(self
            .records::<TariffAssignment>()
            .get(&partner.tenant, &key)
            .await?
            .and_then(|a| a.value.tariff_id))
    }

    /// An object as `partner` is sent it (locations name its own tariff).
    pub(crate) async fn as_seen_by(
        &self,
        partner: &Partner,
        module: &str,
        mut body: Value,
    ) -> Result<Value, StoreError> {
        if module == LOCATIONS {
            let t = self.partner_tariff(partner).await?;
            location_for_partner(&mut body, t.as_deref());
        }
        Ok(body)
    }

    /// Every published tariff record of the tenant, by record id.
    async fn published_tariffs(
        &self,
        tenant: &TenantId,
    ) -> Result<BTreeMap<String, Versioned<Published>>, StoreError> {
        let mut out = BTreeMap::new();
        let mut audiences = vec![None];
        audiences.extend(
            self.records::<Partner>()
                .all(tenant)
                .await?
                .into_iter()
                .map(|p| Some(p.id)),
        );
        for a in audiences {
            for v in self.published_in(tenant, TARIFFS, a.as_deref()).await? {
                out.insert(v.value.object_id.clone(), v);
            }
        }
        Ok(out)
    }

    /// Publishes the tenant's tariffs as the assignments say now: what changed is PUT to the partners
    /// that see it, what is no longer published is DELETEd where it was. Returns the partners that
    /// have something queued.
    pub(crate) async fn refresh_tariffs(
        &self,
        settings: &RoamingSettings,
        index: &TariffIndex,
    ) -> Result<Vec<String>, RoamingError> {
        let tenant = &settings.tenant;
        let mut wanted: BTreeMap<String, (Option<String>, Tariff)> = BTreeMap::new();
        for t in self.records::<Tariff>().all(tenant).await? {
            match index.audience(&t.id) {
                Some(None) => {
                    wanted.insert(t.id.clone(), (None, t));
                }
                Some(Some(partners)) => {
                    for p in partners {
                        wanted.insert(format!("{}@{p}", t.id), (Some(p), t.clone()));
                    }
                }
                None => {}
            }
        }
        let mut had = self.published_tariffs(tenant).await?;
        let docs = self.records::<Published>();
        let mut out = Vec::new();
        // What goes first: a tariff moving from everyone to one partner is deleted, then put again.
        let gone: Vec<String> = had
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for id in gone {
            let Some(old) = had.remove(&id) else {
                continue;
            };
            docs.delete(tenant, &Published::key(TARIFFS, &id)).await?;
            out.extend(
                self.queue_for_all(
                    tenant,
                    TARIFFS,
                    &id,
                    PushAction::Delete,
                    old.value.audience.as_deref(),
                )
                .await?,
            );
        }
        let now = self.now();
        for (id, (audience, t)) in wanted {
            let fresh = Published {
                tenant: tenant.clone(),
                module: TARIFFS.into(),
                object_id: id.clone(),
                audience: audience.clone(),
                body: serde_json::to_value(objects::tariff(settings, &t, now)).unwrap_or_default(),
                last_updated: now,
                members: Vec::new(),
            };
            if self.store(had.remove(&id), fresh).await? {
                out.extend(
                    self.queue_for_all(tenant, TARIFFS, &id, PushAction::Put, audience.as_deref())
                        .await?,
                );
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// A tariff or an assignment changed: the tariffs again, and the locations whose connectors name
    /// another tariff now.
    pub(crate) async fn tariff_changed(
        &self,
        settings: &RoamingSettings,
        scope: Option<&str>,
    ) -> Result<Vec<String>, RoamingError> {
        let tenant = &settings.tenant;
        let index = self.tariff_index(tenant).await?;
        let mut out = self.refresh_tariffs(settings, &index).await?;
        let scope = match scope.map(Scope::parse) {
            Some(Ok(s)) => s,
            // The tariff itself (connectors name its id, which did not change), or a scope unknown.
            _ => return Ok(out),
        };
        match scope {
            Scope::Default => out.extend(self.rebuild_locations(settings, &index).await?.1),
            Scope::Site(site) => out.extend(self.refresh_location(settings, &site, None).await?),
            Scope::Charger(c) => {
                let site = match ChargerId::new(&c) {
                    Ok(id) => self
                        .ports
                        .chargers
                        .get(&id)
                        .await?
                        .filter(|x| &x.value.tenant == tenant)
                        .and_then(|x| x.value.site_id),
                    Err(_) => None,
                };
                if let Some(site) = site {
                    out.extend(self.refresh_location(settings, &site, None).await?);
                }
            }
            // Every location names another tariff for this partner: it is sent them all again.
            Scope::Partner(p) => {
                if self
                    .receivers(tenant, LOCATIONS)
                    .await?
                    .iter()
                    .any(|x| x.id == p)
                {
                    for id in self.published_ids(tenant, LOCATIONS, None).await? {
                        self.enqueue(tenant, &p, LOCATIONS, &id, PushAction::Put)
                            .await?;
                    }
                    out.push(p);
                }
            }
            Scope::TokenGroup(_) => {}
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The ids of the objects of a module `audience` sees (`None`: what every partner sees).
    pub(crate) async fn published_ids(
        &self,
        tenant: &TenantId,
        module: &str,
        audience: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .published_in(tenant, module, audience)
            .await?
            .into_iter()
            .map(|v| v.value.object_id)
            .collect())
    }

    /// The objects of a module `audience` sees, whole.
    async fn published_in(
        &self,
        tenant: &TenantId,
        module: &str,
        audience: Option<&str>,
    ) -> Result<Vec<Versioned<Published>>, StoreError> {
        let docs = self.records::<Published>();
        let list = Published::audience_list(module, audience);
        let mut page = PageRequest::first(500);
        let mut out = Vec::new();
        loop {
            let found = docs
                .query(
                    tenant,
                    &Documents::<Published>::by_index(0, &list, page.clone()),
                )
                .await?;
            out.extend(found.items);
            match found.next {
                Some(n) => page.cursor = Some(n),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn assigned(scope: &str, tariff: Option<&str>) -> TariffAssignment {
        TariffAssignment {
            tenant: TenantId::default_tenant(),
            scope: scope.into(),
            tariff_id: tariff.map(str::to_string),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_connector_names_its_chargers_tariff_before_its_sites_before_the_default() {
        let cp = ChargerId::new("CP-1").unwrap();
        let other = ChargerId::new("CP-2").unwrap();
        let idx = TariffIndex::of([
            assigned("default", Some("STD")),
            assigned("site:north", Some("NORTH")),
            assigned("charger:CP-1", Some("FAST")),
            assigned("site:south", None),
        ]);
        assert_eq!(idx.public_for("north", &cp), ["FAST"]);
        assert_eq!(idx.public_for("north", &other), ["NORTH"]);
        // A removed assignment falls back.
        assert_eq!(idx.public_for("south", &other), ["STD"]);
        assert!(TariffIndex::default().public_for("x", &cp).is_empty());
    }

    #[test]
    fn a_partners_tariff_is_seen_by_that_partner_alone_and_a_groups_by_nobody() {
        let idx = TariffIndex::of([
            assigned("partner:NL-EXA", Some("ROAM")),
            assigned("partner:DE-ABC", Some("ROAM")),
            assigned("group:staff", Some("STAFF")),
            assigned("site:north", Some("STD")),
            assigned("partner:FR-XYZ", Some("STD")),
        ]);
        let only: BTreeSet<String> = ["DE-ABC".to_string(), "NL-EXA".to_string()].into();
        assert_eq!(idx.audience("ROAM"), Some(Some(only)));
        assert_eq!(idx.audience("STAFF"), None);
        // Public somewhere: everyone sees it.
        assert_eq!(idx.audience("STD"), Some(None));
        assert_eq!(idx.audience("NONE"), None);
        assert_eq!(ocpi_id("ROAM@NL-EXA"), "ROAM");
        assert_eq!(ocpi_id("STD"), "STD");
    }

    #[test]
    fn a_partner_with_its_own_tariff_sees_it_on_every_connector() {
        let mut loc = serde_json::json!({"evses": [
            {"uid": "CP-1-1", "connectors": [{"id": "1", "tariff_ids": ["STD"]}, {"id": "2", "tariff_ids": []}]},
            {"uid": "CP-1-2", "connectors": [{"id": "1", "tariff_ids": ["STD"]}]}
        ]});
        let before = loc.clone();
        location_for_partner(&mut loc, None);
        assert_eq!(loc, before);
        location_for_partner(&mut loc, Some("ROAM"));
        for e in loc["evses"].as_array().unwrap() {
            for c in e["connectors"].as_array().unwrap() {
                assert_eq!(c["tariff_ids"], serde_json::json!(["ROAM"]));
            }
        }
    }
}
