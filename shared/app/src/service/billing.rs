//! Pricing sessions into CDRs: which tariff applies (assignment precedence), who pays, the usage rules,
//! and corrections. Idempotent: pricing a session again changes nothing unless its data changed, in
//! which case the current CDR gets a credit CDR and a new CDR replaces it (all in one batch with the
//! session's billing record, so concurrent consumers cannot both correct it).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cpms_domain::billing::{Cdr, CdrKind, Party, Scope, SessionBilling, TariffAssignment};
use cpms_domain::charger::Charger;
use cpms_domain::events::for_cdr;
use cpms_domain::meter::MeterSample;
use cpms_domain::session::{Session, SessionStatus};
use cpms_domain::tariff::usage::Flag;
use cpms_domain::tariff::{Tariff, TariffTerms, Usage, price};
use cpms_domain::token::token_key;
use cpms_domain::{SessionId, TenantId};
use cpms_ports::{DocWrite, Documents, Expected, PageRequest, StoreError};

use crate::Csms;
use crate::service::{RETRIES, backoff};

/// What pricing a session did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Billed {
    /// Its first CDR.
    Created(String),
    /// Its data changed: the old CDR was credited and a new one made.
    Corrected {
        /// The credit CDR.
        credit: String,
        /// The new CDR.
        cdr: String,
    },
    /// Priced as before: nothing written.
    Unchanged(String),
    /// Not billable (still running, refused at start, or unknown).
    Skipped(&'static str),
}

/// The tariff that prices a session, and the scope it was assigned to.
pub struct Resolved {
    /// The tariff.
    pub tariff: Tariff,
    /// Its assignment scope.
    pub scope: String,
}

/// What pricing a session needs besides the session.
pub(crate) struct Context {
    pub charger: Option<Charger>,
    pub site_id: Option<String>,
    pub tz: Tz,
    pub group: Option<String>,
    pub partner: Option<String>,
}

impl Csms {
    /// The tariff for a session on `charger` in `ctx` (its site, the token's group and partner),
    /// starting at `at`: the first assignment in precedence order whose tariff is valid then.
    pub(crate) async fn tariff_for(
        &self,
        tenant: &TenantId,
        charger: &str,
        ctx: &Context,
        at: DateTime<Utc>,
    ) -> Result<Option<Resolved>, StoreError> {
        let assignments = self.records::<TariffAssignment>();
        let tariffs = self.records::<Tariff>();
        let scopes = Scope::precedence(
            ctx.group.as_deref(),
            ctx.partner.as_deref(),
            charger,
            ctx.site_id.as_deref(),
        );
        for scope in scopes {
            let Some(a) = assignments.get(tenant, &scope.key()).await? else {
                continue;
            };
            let Some(id) = &a.value.tariff_id else {
                continue; // removed
            };
            if let Some(t) = tariffs.get(tenant, id).await?
                && t.value.valid_at(at)
            {
                return Ok(Some(Resolved {
                    tariff: t.value,
                    scope: scope.key(),
                }));
            }
        }
        Ok(None)
    }

    /// The time zone of a site (UTC when the charger has no site).
    async fn site_zone(&self, tenant: &TenantId, site: Option<&str>) -> Result<Tz, StoreError> {
        let Some(site) = site else {
            return Ok(chrono_tz::UTC);
        };
        let s = self
            .records::<cpms_domain::site::Site>()
            .get(tenant, site)
            .await?;
        Ok(s.and_then(|s| s.value.time_zone.parse().ok())
            .unwrap_or(chrono_tz::UTC))
    }

    /// What pricing at `charger` (of `tenant`, already read) for `token` needs: the site and its zone,
    /// the token's group and partner.
    pub(crate) async fn pricing_context(
        &self,
        tenant: &TenantId,
        charger: Option<Charger>,
        token: Option<&str>,
    ) -> Result<Context, StoreError> {
        let site_id = charger.as_ref().and_then(|c| c.site_id.clone());
        let tz = self.site_zone(tenant, site_id.as_deref()).await?;
        let token = match token {
            Some(t) => self
                .ports
                .tokens
                .get(tenant, &token_key(t))
                .await?
                .map(|t| t.value),
            None => None,
        };
        Ok(Context {
            charger,
            site_id,
            tz,
            group: token.as_ref().and_then(|t| t.group_id.clone()),
            partner: token.and_then(|t| t.partner),
        })
    }

    async fn all_samples(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Vec<MeterSample>, StoreError> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let p = self.ports.sessions.samples(tenant, id, &page).await?;
            out.extend(p.items);
            match p.next {
                Some(n) => page.cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// The CDR a session would get now (revision and id to be set by the caller).
    ///
    /// `agreed`: the tariff a correction keeps (the one the session was first priced with; the driver
    /// agreed to it when starting), instead of what is assigned now.
    pub(crate) async fn price_session(
        &self,
        tenant: &TenantId,
        s: &Session,
        until: DateTime<Utc>,
        agreed: Option<(String, TariffTerms)>,
    ) -> Result<Cdr, StoreError> {
        let ctx = self.session_context(tenant, s).await?;
        let samples = self.all_samples(tenant, &s.id).await?;
        self.price_with(tenant, s, until, agreed, ctx, &samples)
            .await
    }

    /// The pricing context of a session: its charger (when of `tenant`) and its token.
    async fn session_context(&self, tenant: &TenantId, s: &Session) -> Result<Context, StoreError> {
        let charger = self
            .ports
            .chargers
            .get(&s.id.charger)
            .await?
            .map(|c| c.value)
            .filter(|c| c.tenant == *tenant);
        let token = s.id_token.as_ref().map(|t| t.value.as_str());
        self.pricing_context(tenant, charger, token).await
    }

    /// [`Csms::price_session`] from the given samples (all of the session's, or a summary of them).
    async fn price_with(
        &self,
        tenant: &TenantId,
        s: &Session,
        until: DateTime<Utc>,
        agreed: Option<(String, TariffTerms)>,
        ctx: Context,
        samples: &[MeterSample],
    ) -> Result<Cdr, StoreError> {
        let max_kw = ctx.charger.as_ref().and_then(|c| {
            c.evses
                .iter()
                .filter(|e| s.evse_id.is_none_or(|id| id == e.evse_id))
                .flat_map(|e| e.connectors.iter().map(|k| k.max_power_kw))
                .max()
        });
        let (usage, mut flags) = Usage::of_session(s, samples, until, max_kw);
        let start = usage.start;
        let resolved = match agreed {
            Some((id, terms)) => Some((id, terms)),
            None => self
                .tariff_for(tenant, s.id.charger.as_str(), &ctx, start)
                .await?
                .map(|r| (r.tariff.id, r.tariff.terms)),
        };
        if resolved.is_none() {
            flags.push(Flag {
                kind: "no_tariff".into(),
                detail: "no tariff is assigned to the session's token group, partner, charger or site, nor as the default; priced at zero".into(),
            });
        }
        if s.status == SessionStatus::Reconciled {
            flags.push(Flag {
                kind: "reconciled".into(),
                detail: "the session was closed by reconciliation, not by the charger; its end is the next session's start".into(),
            });
        }
        let terms = resolved.as_ref().map_or_else(
            || TariffTerms {
                currency: self.config.default_currency.clone(),
                elements: Vec::new(),
                min_price: None,
                max_price: None,
            },
            |r| r.1.clone(),
        );
        let pricing = price(&terms, ctx.tz, &usage);
        let token = s.id_token.as_ref().map(|t| t.value.clone());
        Ok(Cdr {
            tenant: tenant.clone(),
            id: String::new(),
            kind: CdrKind::Regular,
            credits: None,
            session_id: s.id.clone(),
            revision: 0,
            charger_id: s.id.charger.clone(),
            evse_id: s.evse_id,
            connector_id: s.connector_id,
            site_id: ctx.site_id,
            billed_party: Party::of(
                token.as_deref(),
                ctx.group.as_deref(),
                ctx.partner.as_deref(),
            ),
            token,
            token_group: ctx.group,
            partner: ctx.partner,
            tariff_id: resolved.as_ref().map(|r| r.0.clone()),
            tariff: resolved.map(|r| r.1),
            time_zone: ctx.tz.name().to_string(),
            start_date_time: start,
            end_date_time: usage.end(),
            pricing,
            review: !flags.is_empty(),
            flags,
            created_at: self.now(),
        })
    }

    /// Prices an ended session into its CDR, or corrects the CDR when the session changed since.
    pub async fn bill_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Billed, StoreError> {
        let cdrs = self.records::<Cdr>();
        let bills = self.records::<SessionBilling>();
        for attempt in 0..RETRIES {
            backoff(attempt).await;
            let Some(s) = self.ports.sessions.get(tenant, id).await? else {
                return Ok(Billed::Skipped("unknown session"));
            };
            let s = s.value;
            if s.ended_at.is_none() && s.status == SessionStatus::Active {
                return Ok(Billed::Skipped("still running"));
            }
            if s.status == SessionStatus::Failed {
                return Ok(Billed::Skipped("refused at start"));
            }
            let now = self.now();
            let bill = bills.get(tenant, &id.to_string()).await?;
            let current = match &bill {
                Some(b) => match cdrs.get(tenant, &b.value.current_cdr).await? {
                    Some(c) => Some(c.value),
                    None => {
                        return Err(StoreError::Corrupt {
                            key: b.value.current_cdr.clone(),
                            reason: "the session's current CDR is missing".into(),
                        });
                    }
                },
                None => None,
            };
            let agreed = current
                .as_ref()
                .and_then(|c| Some((c.tariff_id.clone()?, c.tariff.clone()?)));
            let mut cdr = self.price_session(tenant, &s, now, agreed).await?;
            let (writes, outcome) = match (&bill, current) {
                (None, _) | (Some(_), None) => {
                    cdr.revision = 1;
                    cdr.id = Cdr::id_of(id, 1);
                    let rec = SessionBilling {
                        tenant: tenant.clone(),
                        session_id: id.clone(),
                        revision: 1,
                        current_cdr: cdr.id.clone(),
                        updated_at: now,
                    };
                    let w = vec![
                        with_event(Documents::<Cdr>::write_of(&cdr, Expected::Absent)?, &cdr),
                        Documents::<SessionBilling>::write_of(&rec, Expected::Absent)?,
                    ];
                    (w, Billed::Created(cdr.id.clone()))
                }
                (Some(b), Some(current)) => {
                    if current.same_pricing(&cdr) {
                        return Ok(Billed::Unchanged(current.id));
                    }
                    let credit = current.credit(now);
                    let revision = b.value.revision + 1;
                    cdr.revision = revision;
                    cdr.id = Cdr::id_of(id, revision);
                    let rec = SessionBilling {
                        revision,
                        current_cdr: cdr.id.clone(),
                        updated_at: now,
                        ..b.value.clone()
                    };
                    let w = vec![
                        with_event(
                            Documents::<Cdr>::write_of(&credit, Expected::Absent)?,
                            &credit,
                        ),
                        with_event(Documents::<Cdr>::write_of(&cdr, Expected::Absent)?, &cdr),
                        Documents::<SessionBilling>::write_of(&rec, Expected::Version(b.version))?,
                    ];
                    let out = Billed::Corrected {
                        credit: credit.id.clone(),
                        cdr: cdr.id.clone(),
                    };
                    (w, out)
                }
            };
            match self.ports.docs.write(&writes).await {
                Ok(_) => return Ok(outcome),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The total (incl. VAT) an ended session will be billed, for the charger to show; `None` when no
    /// tariff applies (the price is unknown, not free) or the tariff could not be read (the charger's
    /// message is answered all the same).
    pub(crate) async fn final_cost(
        &self,
        tenant: &TenantId,
        s: &Session,
    ) -> Option<rust_decimal::Decimal> {
        match self.price_session(tenant, s, self.now(), None).await {
            Ok(cdr) if cdr.tariff_id.is_some() => Some(cdr.pricing.total_cost.incl()),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, session = %s.id, "cannot price the session for its totalCost");
                None
            }
        }
    }

    /// What a running session has cost so far, by the tariff that will price it.
    pub async fn live_cost(
        &self,
        tenant: &TenantId,
        s: &Session,
    ) -> Result<cpms_domain::tariff::Priced, StoreError> {
        Ok(self
            .price_session(tenant, s, self.now(), None)
            .await?
            .pricing)
    }
}

fn with_event(mut w: DocWrite, c: &Cdr) -> DocWrite {
    w.events.push(for_cdr(c));
    w
}

/// Where a running 2.0.1 session's cost estimate stands (kept 30 days): when it was last priced, what
/// was last sent to the station, and the summary of the samples read so far with where reading stopped,
/// so the next estimate reads only the samples stored since.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CostPush {
    /// Owner.
    pub tenant: TenantId,
    /// The session.
    pub session_id: SessionId,
    /// When it was last priced.
    pub at: DateTime<Utc>,
    /// What was last sent (incl. VAT); meaningful when `sent`.
    #[serde(with = "cpms_ocpp::number")]
    pub total: rust_decimal::Decimal,
    /// Whether a cost was sent at all.
    #[serde(default = "yes")]
    pub sent: bool,
    /// The session's energy readings read so far, thinned.
    #[serde(default)]
    pub summary: cpms_domain::tariff::ReadingSummary,
    /// Cursor of the last full page of samples read, and how many of the page after it were read.
    #[serde(default)]
    pub read_to: (Option<String>, usize),
}

fn yes() -> bool {
    true
}

impl cpms_ports::Record for CostPush {
    const KIND: &'static str = "cost-push";
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    fn id(&self) -> String {
        self.session_id.to_string()
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.at + chrono::Duration::days(30))
    }
}

impl Csms {
    /// A tenant's settings (the defaults when it set none).
    pub(crate) async fn settings(
        &self,
        tenant: &TenantId,
    ) -> Result<cpms_domain::settings::TenantSettings, StoreError> {
        Ok(self
            .records::<cpms_domain::settings::TenantSettings>()
            .get(tenant, "settings")
            .await?
            .map(|v| v.value)
            .unwrap_or_else(|| cpms_domain::settings::TenantSettings::defaults(tenant.clone())))
    }

    /// Sends a running 2.0.1 session's cost so far to its station (`CostUpdated`, OCPP 2.0.1 use case
    /// I02) when it changed by at least the currency's minor unit. At most once per the tenant's
    /// `running_cost_interval_s` the session is priced, from a summary of its readings that is brought
    /// up to date with the samples stored since the last time (so the work does not grow with the
    /// session). Returns what was sent. Chargers that are offline or busy with a full queue are skipped
    /// (the next interval tries again).
    pub async fn push_running_cost(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<rust_decimal::Decimal>, StoreError> {
        if !self.config.running_costs {
            return Ok(None);
        }
        let Some(s) = self.ports.sessions.get(tenant, id).await? else {
            return Ok(None);
        };
        let s = s.value;
        if s.ocpp_version != cpms_domain::OcppVersion::V201
            || s.status != SessionStatus::Active
            || s.ended_at.is_some()
        {
            return Ok(None);
        }
        let pushes = self.records::<CostPush>();
        let last = pushes.get(tenant, &id.to_string()).await?;
        let now = self.now();
        let every = i64::from(self.settings(tenant).await?.running_cost_interval_s);
        if last
            .as_ref()
            .is_some_and(|l| now - l.value.at < chrono::Duration::seconds(every))
        {
            return Ok(None);
        }
        let expected = Expected::from_read(&last);
        let mut state = last.map_or_else(
            || CostPush {
                tenant: tenant.clone(),
                session_id: id.clone(),
                at: now,
                total: rust_decimal::Decimal::ZERO,
                sent: false,
                summary: Default::default(),
                read_to: (None, 0),
            },
            |l| l.value,
        );
        state.at = now;
        self.read_new_samples(tenant, id, &mut state).await?;
        let ctx = self.session_context(tenant, &s).await?;
        let cdr = self
            .price_with(tenant, &s, now, None, ctx, &state.summary.samples())
            .await?;
        let total = cdr.pricing.total_cost.incl();
        let minor = cpms_domain::tariff::money::minor_unit(&cdr.pricing.currency);
        let changed = !state.sent || (total - state.total).abs() >= minor;
        let mut sent = None;
        if cdr.tariff_id.is_some() && changed && self.send_running_cost(tenant, &s, total).await? {
            state.total = total;
            state.sent = true;
            sent = Some(total);
        }
        match pushes.put(&state, expected).await {
            Ok(_) | Err(StoreError::Conflict) => Ok(sent),
            Err(e) => Err(e),
        }
    }

    /// Adds the samples stored since `state` last read to its summary.
    async fn read_new_samples(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        state: &mut CostPush,
    ) -> Result<(), StoreError> {
        const PAGE: usize = 256;
        let (mut cursor, mut skip) = state.read_to.clone();
        loop {
            let page = PageRequest {
                limit: PAGE,
                cursor: cursor.clone(),
            };
            let p = self.ports.sessions.samples(tenant, id, &page).await?;
            if p.items.len() > skip {
                state.summary.add(&p.items[skip..]);
            }
            match p.next {
                Some(n) => {
                    cursor = Some(n);
                    skip = 0;
                }
                None => {
                    skip = p.items.len().max(skip);
                    break;
                }
            }
        }
        state.read_to = (cursor, skip);
        Ok(())
    }

    /// Queues `CostUpdated` for the session's station; `false` when it cannot take it now.
    async fn send_running_cost(
        &self,
        tenant: &TenantId,
        s: &Session,
        total: rust_decimal::Decimal,
    ) -> Result<bool, StoreError> {
        let amount: serde_json::Value =
            serde_json::from_str(&total.to_string()).unwrap_or(serde_json::Value::Null);
        let request = cpms_domain::command::CommandRequest::Raw {
            action: "CostUpdated".into(),
            payload: serde_json::json!({"totalCost": amount, "transactionId": s.id.transaction}),
        };
        match self
            .submit_command(
                tenant,
                s.id.charger.as_str(),
                request,
                30,
                "billing:running-cost",
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(crate::SubmitError::Store(e)) => Err(e),
            Err(e) => {
                tracing::info!(error = %e, session = %s.id, "running cost not sent");
                Ok(false)
            }
        }
    }
}
