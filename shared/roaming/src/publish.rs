//! Keeping the published objects current, from the domain events (the `ocpi-push` consumer): a
//! location when its site or the chargers standing there change, its EVSEs' status when a connector
//! reports one, a roaming session when it starts, ends or is amended, a CDR when it is made. What
//! changed is queued for every registered partner that receives the module. Idempotent: an event seen
//! twice finds nothing new to publish, and at most queues what is queued already.

use cpms_domain::charger::Charger;
use cpms_domain::events::{DomainEvent, EventBody};
use cpms_domain::roaming::{
    Partner, PartnerState, Published, PushAction, PushJob, RoamingSettings,
};
use cpms_domain::site::Site;
use cpms_domain::{ChargerId, SessionId, TenantId};
use cpms_ports::{Documents, Expected, PageRequest, StoreError, Versioned};
use serde_json::Value;

use crate::objects;
use crate::tariffs::TariffIndex;
use crate::{Roaming, RoamingError};

/// The modules published, and which partners see their objects.
pub const LOCATIONS: &str = "locations";
/// Sessions: seen by the partner whose token it is.
pub const SESSIONS: &str = "sessions";
/// CDRs: seen by the partner that pays.
pub const CDRS: &str = "cdrs";
/// Tariffs: seen by every partner, or by the partner they are assigned to (see [`crate::tariffs`]).
pub const TARIFFS: &str = "tariffs";

impl Roaming {
    /// Applies one domain event; returns the partners that have something new queued.
    pub async fn publish(&self, ev: &DomainEvent) -> Result<Vec<String>, RoamingError> {
        let Some(settings) = self.settings(&ev.tenant).await? else {
            return Ok(Vec::new());
        };
        match &ev.body {
            EventBody::LocationChanged {
                site_id,
                charger_id,
            } => {
                self.refresh_location(&settings, site_id, charger_id.as_ref())
                    .await
            }
            // A charger that went offline reports no status: its EVSEs are UNKNOWN until it is back.
            EventBody::ConnectorStatusChanged { charger_id, .. }
            | EventBody::ChargerConnected { charger_id, .. }
            | EventBody::ChargerDisconnected { charger_id } => {
                self.refresh_status(&settings, charger_id).await
            }
            EventBody::TariffChanged { scope, .. } => {
                self.tariff_changed(&settings, scope.as_deref()).await
            }
            EventBody::SessionStarted { session_id, .. }
            | EventBody::SessionEnded { session_id, .. }
            | EventBody::SessionAmended { session_id, .. } => {
                self.refresh_session(&settings, session_id).await
            }
            EventBody::CdrCreated { cdr_id, .. } => self.refresh_cdr(&settings, cdr_id).await,
            EventBody::CommandEnded { command_id, .. } => {
                self.command_ended(&ev.tenant, command_id).await
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Every registered partner of the tenant that receives `module`.
    pub(crate) async fn receivers(
        &self,
        tenant: &TenantId,
        module: &str,
    ) -> Result<Vec<Partner>, StoreError> {
        Ok(self
            .records::<Partner>()
            .all(tenant)
            .await?
            .into_iter()
            .filter(|p| {
                p.state == PartnerState::Registered && p.endpoint(module, "RECEIVER").is_some()
            })
            .collect())
    }

    /// Queues `action` of an object for `partner` (already queued: its revision moves, so a sender
    /// that read the object before this change sends it again).
    pub(crate) async fn enqueue(
        &self,
        tenant: &TenantId,
        partner: &str,
        module: &str,
        object_id: &str,
        action: PushAction,
    ) -> Result<(), StoreError> {
        let jobs = self.records::<PushJob>();
        let now = self.now();
        let key = PushJob::key(partner, module, object_id, &action);
        for _ in 0..5 {
            let found = jobs.get(tenant, &key).await?;
            let job = match &found {
                Some(v) => {
                    let mut j = v.value.clone();
                    j.revision += 1;
                    // A PUT and a DELETE of one object share a job: the latest is what is meant.
                    j.action = action.clone();
                    if j.dead {
                        j.dead = false;
                        j.attempts = 0;
                        j.next_at = now;
                    }
                    j
                }
                None => PushJob {
                    tenant: tenant.clone(),
                    partner: partner.to_string(),
                    module: module.to_string(),
                    object_id: object_id.to_string(),
                    action: action.clone(),
                    queued_at: now,
                    attempts: 0,
                    next_at: now,
                    last_error: None,
                    dead: false,
                    revision: 0,
                },
            };
            match jobs.put(&job, Expected::from_read(&found)).await {
                Err(StoreError::Conflict) => continue,
                r => return r.map(|_| ()),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Writes a published object when its content changed (`last_updated` aside); returns whether it
    /// did.
    pub(crate) async fn store(
        &self,
        read: Option<Versioned<Published>>,
        fresh: Published,
    ) -> Result<bool, StoreError> {
        if let Some(old) = &read
            && content(&old.value.body) == content(&fresh.body)
            && old.value.members == fresh.members
        {
            return Ok(false);
        }
        let docs = self.records::<Published>();
        docs.put(&fresh, Expected::from_read(&read)).await?;
        Ok(true)
    }

    pub(crate) async fn queue_for_all(
        &self,
        tenant: &TenantId,
        module: &str,
        object_id: &str,
        action: PushAction,
        audience: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for p in self.receivers(tenant, module).await? {
            if audience.is_some_and(|a| a != p.id) {
                continue;
            }
            self.enqueue(tenant, &p.id, module, object_id, action.clone())
                .await?;
            out.push(p.id);
        }
        Ok(out)
    }

    /// The chargers of a site: those the location lists and `joined`, read again (a charger that left
    /// is dropped). Without a location yet, every charger of the tenant is looked at once.
    async fn members(
        &self,
        tenant: &TenantId,
        site: &str,
        listed: Option<&[ChargerId]>,
        joined: Option<&ChargerId>,
    ) -> Result<Vec<Charger>, StoreError> {
        let mut out = Vec::new();
        match listed {
            Some(ids) => {
                let mut ids: Vec<&ChargerId> = ids.iter().chain(joined).collect();
                ids.sort();
                ids.dedup();
                for id in ids {
                    if let Some(c) = self.ports.chargers.get(id).await?
                        && &c.value.tenant == tenant
                        && c.value.site_id.as_deref() == Some(site)
                    {
                        out.push(c.value);
                    }
                }
            }
            None => {
                let mut page = PageRequest::first(500);
                loop {
                    let found = self.ports.chargers.list(tenant, &page).await?;
                    out.extend(
                        found
                            .items
                            .into_iter()
                            .filter(|c| c.site_id.as_deref() == Some(site)),
                    );
                    match found.next {
                        Some(n) => page.cursor = Some(n),
                        None => break,
                    }
                }
            }
        }
        Ok(out)
    }

    /// Builds a site's location again and queues it where it changed.
    pub(crate) async fn refresh_location(
        &self,
        settings: &RoamingSettings,
        site_id: &str,
        joined: Option<&ChargerId>,
    ) -> Result<Vec<String>, RoamingError> {
        self.refresh_location_of(settings, site_id, joined, None)
            .await
    }

    /// [`Roaming::refresh_location`] with the site's chargers and the tariff assignments already read
    /// (a resync reads every charger of the tenant once).
    async fn refresh_location_of(
        &self,
        settings: &RoamingSettings,
        site_id: &str,
        joined: Option<&ChargerId>,
        known: Option<(Vec<Charger>, &TariffIndex)>,
    ) -> Result<Vec<String>, RoamingError> {
        let tenant = &settings.tenant;
        let Some(site) = self.records::<Site>().get(tenant, site_id).await? else {
            return Ok(Vec::new());
        };
        let docs = self.records::<Published>();
        let read = docs
            .get(tenant, &Published::key(LOCATIONS, site_id))
            .await?;
        let read_index;
        let (chargers, index) = match known {
            Some(k) => k,
            None => {
                read_index = self.tariff_index(tenant).await?;
                let chargers = self
                    .members(
                        tenant,
                        site_id,
                        read.as_ref().map(|r| r.value.members.as_slice()),
                        joined,
                    )
                    .await?;
                (chargers, &read_index)
            }
        };
        let now = self.now();
        let loc = objects::location(settings, &site.value, &chargers, index, now);
        let fresh = Published {
            tenant: tenant.clone(),
            module: LOCATIONS.into(),
            object_id: site_id.to_string(),
            audience: None,
            body: serde_json::to_value(&loc).unwrap_or_default(),
            last_updated: now,
            members: chargers.iter().map(|c| c.id.clone()).collect(),
        };
        if !self.store(read, fresh).await? {
            return Ok(Vec::new());
        }
        Ok(self
            .queue_for_all(tenant, LOCATIONS, site_id, PushAction::Put, None)
            .await?)
    }

    /// A charger's connectors reported: its EVSEs' status in its site's location, each one that
    /// changed queued as a PATCH.
    pub(crate) async fn refresh_status(
        &self,
        settings: &RoamingSettings,
        charger_id: &ChargerId,
    ) -> Result<Vec<String>, RoamingError> {
        let tenant = &settings.tenant;
        let Some(c) = self.ports.chargers.get(charger_id).await? else {
            return Ok(Vec::new());
        };
        let c = c.value;
        let Some(site) = c.site_id.clone().filter(|_| &c.tenant == tenant) else {
            return Ok(Vec::new());
        };
        let docs = self.records::<Published>();
        for _ in 0..5 {
            let Some(read) = docs.get(tenant, &Published::key(LOCATIONS, &site)).await? else {
                return self.refresh_location(settings, &site, Some(&c.id)).await;
            };
            if !read.value.members.contains(&c.id) {
                return self.refresh_location(settings, &site, Some(&c.id)).await;
            }
            let now = self.now();
            let mut body = read.value.body.clone();
            let mut changed = Vec::new();
            for e in &c.evses {
                let uid = objects::evse_uid(c.id.as_str(), e.evse_id);
                let status =
                    serde_json::to_value(objects::evse_status(&c, e.evse_id)).unwrap_or_default();
                if let Some(evse) = body["evses"]
                    .as_array_mut()
                    .and_then(|a| a.iter_mut().find(|x| x["uid"] == uid.as_str()))
                    && evse["status"] != status
                {
                    evse["status"] = status;
                    evse["last_updated"] = Value::String(cpms_ocpp::datetime::format(&now));
                    changed.push(uid);
                }
            }
            if changed.is_empty() {
                return Ok(Vec::new());
            }
            body["last_updated"] = Value::String(cpms_ocpp::datetime::format(&now));
            let fresh = Published {
                body,
                last_updated: now,
                ..read.value.clone()
            };
            match docs.put(&fresh, Expected::Version(read.version)).await {
                Err(StoreError::Conflict) => continue,
                r => r?,
            };
            let mut out = Vec::new();
            for uid in changed {
                out.extend(
                    self.queue_for_all(
                        tenant,
                        LOCATIONS,
                        &site,
                        PushAction::PatchEvse { evse_uid: uid },
                        None,
                    )
                    .await?,
                );
            }
            out.sort();
            out.dedup();
            return Ok(out);
        }
        Err(StoreError::Conflict.into())
    }

    /// A session of a roaming token: published to its partner.
    pub(crate) async fn refresh_session(
        &self,
        settings: &RoamingSettings,
        id: &SessionId,
    ) -> Result<Vec<String>, RoamingError> {
        let tenant = &settings.tenant;
        let Some(s) = self.ports.sessions.get(tenant, id).await? else {
            return Ok(Vec::new());
        };
        let s = s.value;
        let Some(token) = &s.id_token else {
            return Ok(Vec::new());
        };
        let key = cpms_domain::token::token_key(&token.value);
        let Some(partner) = self
            .ports
            .tokens
            .get(tenant, &key)
            .await?
            .and_then(|t| t.value.partner)
        else {
            return Ok(Vec::new());
        };
        let Some(c) = self.ports.chargers.get(&id.charger).await? else {
            return Ok(Vec::new());
        };
        let Some(site) = c.value.site_id.clone() else {
            return Ok(Vec::new());
        };
        let spot = objects::Spot::of(&site, id.charger.as_str(), s.evse_id, s.connector_id);
        let now = self.now();
        let o = objects::session(
            settings,
            &s,
            &spot,
            Some(&partner),
            &self.config.currency(),
            None,
            now,
        );
        let object_id = o.id.clone();
        let read = self
            .records::<Published>()
            .get(tenant, &Published::key(SESSIONS, &object_id))
            .await?;
        let fresh = Published {
            tenant: tenant.clone(),
            module: SESSIONS.into(),
            object_id: object_id.clone(),
            audience: Some(partner.clone()),
            body: serde_json::to_value(&o).unwrap_or_default(),
            last_updated: now,
            members: Vec::new(),
        };
        if !self.store(read, fresh).await? {
            return Ok(Vec::new());
        }
        Ok(self
            .queue_for_all(
                tenant,
                SESSIONS,
                &object_id,
                PushAction::Put,
                Some(&partner),
            )
            .await?)
    }

    /// A CDR a partner pays: published to it (once: CDRs do not change).
    pub(crate) async fn refresh_cdr(
        &self,
        settings: &RoamingSettings,
        cdr_id: &str,
    ) -> Result<Vec<String>, RoamingError> {
        let tenant = &settings.tenant;
        let Some(c) = self
            .records::<cpms_domain::billing::Cdr>()
            .get(tenant, cdr_id)
            .await?
        else {
            return Ok(Vec::new());
        };
        let c = c.value;
        let Some(partner) = c.partner.clone() else {
            return Ok(Vec::new());
        };
        let docs = self.records::<Published>();
        let key = Published::key(CDRS, &c.id);
        if docs.get(tenant, &key).await?.is_some() {
            return Ok(Vec::new());
        }
        let charger = self.ports.chargers.get(&c.charger_id).await?;
        let site_id = c
            .site_id
            .clone()
            .or_else(|| charger.as_ref().and_then(|x| x.value.site_id.clone()));
        let Some(site) = (match &site_id {
            Some(s) => self.records::<Site>().get(tenant, s).await?,
            None => None,
        }) else {
            tracing::warn!(cdr = %c.id, "a roaming CDR of a charger without a site is not published");
            return Ok(Vec::new());
        };
        let spec = charger.as_ref().and_then(|x| {
            x.value
                .evses
                .iter()
                .find(|e| Some(e.evse_id) == c.evse_id)
                .and_then(|e| {
                    e.connectors
                        .iter()
                        .find(|k| Some(k.connector_id) == c.connector_id)
                        .or(e.connectors.first())
                })
                .cloned()
        });
        let now = self.now();
        let o = objects::cdr(
            settings,
            &c,
            &objects::CdrPlace {
                site: &site.value,
                charger: c.charger_id.as_str(),
                connector: spec.as_ref(),
            },
            now,
        );
        let fresh = Published {
            tenant: tenant.clone(),
            module: CDRS.into(),
            object_id: c.id.clone(),
            audience: Some(partner.clone()),
            body: serde_json::to_value(&o).unwrap_or_default(),
            last_updated: now,
            members: Vec::new(),
        };
        match docs.put(&fresh, Expected::Absent).await {
            Err(StoreError::Conflict) => return Ok(Vec::new()),
            r => r?,
        };
        Ok(self
            .queue_for_all(tenant, CDRS, &c.id, PushAction::Post, Some(&partner))
            .await?)
    }

    /// Builds every location of the tenant again (each one that changed is queued where it goes);
    /// returns the sites and the partners that got something queued.
    pub(crate) async fn rebuild_locations(
        &self,
        settings: &RoamingSettings,
        index: &TariffIndex,
    ) -> Result<(Vec<String>, Vec<String>), RoamingError> {
        let tenant = &settings.tenant;
        let sites = self.records::<Site>().all(tenant).await?;
        // Every charger of the tenant, read once, by site: a location is built from all of its site's
        // chargers, not from what it listed.
        let mut by_site: std::collections::HashMap<String, Vec<Charger>> = Default::default();
        let mut page = PageRequest::first(500);
        loop {
            let found = self.ports.chargers.list(tenant, &page).await?;
            for c in found.items {
                if let Some(s) = c.site_id.clone() {
                    by_site.entry(s).or_default().push(c);
                }
            }
            match found.next {
                Some(n) => page.cursor = Some(n),
                None => break,
            }
        }
        let mut queued = Vec::new();
        for s in &sites {
            let chargers = by_site.remove(&s.id).unwrap_or_default();
            queued.extend(
                self.refresh_location_of(settings, &s.id, None, Some((chargers, index)))
                    .await?,
            );
        }
        queued.sort();
        queued.dedup();
        Ok((sites.into_iter().map(|s| s.id).collect(), queued))
    }

    /// Publishes every location and tariff of the tenant again and queues them for `partner` (or
    /// every partner), with what was set aside as dead: what a resync does; returns how many
    /// locations were queued.
    pub async fn resync(
        &self,
        tenant: &TenantId,
        partner: Option<&str>,
    ) -> Result<usize, RoamingError> {
        let settings = self.configured(tenant).await?;
        let index = self.tariff_index(tenant).await?;
        let (sites, _) = self.rebuild_locations(&settings, &index).await?;
        self.refresh_tariffs(&settings, &index).await?;
        let targets = |module: &'static str| async move {
            Ok::<_, RoamingError>(
                self.receivers(tenant, module)
                    .await?
                    .into_iter()
                    .filter(|p| partner.is_none_or(|x| x == p.id))
                    .collect::<Vec<Partner>>(),
            )
        };
        for p in &targets(LOCATIONS).await? {
            for s in &sites {
                self.enqueue(tenant, &p.id, LOCATIONS, s, PushAction::Put)
                    .await?;
            }
        }
        for p in &targets(TARIFFS).await? {
            let mut ids = self.published_ids(tenant, TARIFFS, None).await?;
            ids.extend(self.published_ids(tenant, TARIFFS, Some(&p.id)).await?);
            for id in ids {
                self.enqueue(tenant, &p.id, TARIFFS, &id, PushAction::Put)
                    .await?;
            }
        }
        // Dead jobs of the partners come back.
        let everyone: Vec<Partner> = self
            .records::<Partner>()
            .all(tenant)
            .await?
            .into_iter()
            .filter(|p| partner.is_none_or(|x| x == p.id))
            .collect();
        for p in &everyone {
            let q = Documents::<PushJob>::by_index(
                cpms_ports::roaming_records::PUSH_DUE,
                cpms_ports::roaming_records::push_dead(&p.id),
                PageRequest::first(500),
            );
            for j in self.records::<PushJob>().query(tenant, &q).await?.items {
                self.enqueue(
                    tenant,
                    &p.id,
                    &j.value.module,
                    &j.value.object_id,
                    j.value.action,
                )
                .await?;
            }
        }
        Ok(sites.len())
    }
}

/// The body without its `last_updated` fields, for telling a change from a rebuild of the same.
fn content(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "last_updated")
                .map(|(k, v)| (k.clone(), content(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(content).collect()),
        other => other.clone(),
    }
}
