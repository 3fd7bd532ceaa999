//! Billing runs: a month's CDRs into invoices per billed party and currency, and revenue-split statements
//! per partner. Run on demand (API), by a timer in `cpms serve`, or by the monthly schedule on AWS. A run
//! is idempotent: its invoices, statements and run record have ids derived from the period, so running a
//! period again (or resuming an interrupted run) writes nothing that exists.

use std::collections::HashMap;

use cpms_domain::TenantId;
use cpms_domain::access::platform_tenant;
use cpms_domain::billing::{
    BillingRun, Cdr, Invoice, Period, RevenueSplit, RunTotals, SessionBilling, Statement,
    Subscription,
};
use cpms_domain::session::SessionStatus;
use cpms_ports::records::{ALL_CDRS, CDRS_BY_TIME, TenantRecord, cdr_order_at};
use cpms_ports::{Documents, Expected, PageRequest, Record, SessionFilter, StoreError};

use crate::Csms;

/// Why a run cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The period has not ended.
    #[error("the period {0} has not ended yet; CDRs can still be made in it")]
    NotOver(String),
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Csms {
    /// Runs billing for `period` of `tenant`; returns the run and whether this call made it.
    pub async fn run_billing(
        &self,
        tenant: &TenantId,
        period: &Period,
        trigger: &str,
    ) -> Result<(BillingRun, bool), RunError> {
        let now = self.now();
        if period.to > now {
            return Err(RunError::NotOver(period.label.clone()));
        }
        let runs = self.records::<BillingRun>();
        if let Some(r) = runs.get(tenant, &period.label).await? {
            return Ok((r.value, false));
        }
        let late = self.bill_missing(tenant, period).await?;
        let mut totals = RunTotals::default();
        let cdrs = self.records::<Cdr>();
        let mut page = PageRequest::first(500);
        loop {
            let q = Documents::<Cdr>::by_index(CDRS_BY_TIME, ALL_CDRS, page.clone()).range(
                Some(cdr_order_at(period.from)),
                Some(cdr_order_at(period.to)),
            );
            let found = cdrs.query(tenant, &q).await?;
            for c in &found.items {
                totals.add(&c.value);
            }
            match found.next {
                Some(n) => page.cursor = Some(n),
                None => break,
            }
        }
        let splits = self.revenue_splits(tenant).await?;
        let subscriptions = self.records::<Subscription>().all(tenant).await?;
        let (invoices, statements, run) = totals.finish(
            tenant,
            period,
            |site| splits.get(site).cloned(),
            &subscriptions,
            trigger,
            now,
        );
        for i in &invoices {
            create_once(&self.records::<Invoice>(), i).await?;
        }
        for s in &statements {
            create_once(&self.records::<Statement>(), s).await?;
        }
        let mut run = run;
        run.late_cdrs = late;
        match runs.put(&run, Expected::Absent).await {
            Ok(_) => Ok((run, true)),
            Err(StoreError::Conflict) => match runs.get(tenant, &period.label).await? {
                Some(r) => Ok((r.value, false)),
                None => Err(StoreError::Conflict.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Prices the sessions that ended in `period` and have no CDR (their end event was lost, or its
    /// billing failed every retry). Their CDRs are made now, so they are invoiced with the next period;
    /// returns how many. Reads the tenant's sessions newest first, back to a month before the period.
    async fn bill_missing(&self, tenant: &TenantId, period: &Period) -> Result<u32, StoreError> {
        let bills = self.records::<SessionBilling>();
        let horizon = period.from - chrono::Duration::days(31);
        let mut page = PageRequest::first(500);
        let mut made = 0;
        loop {
            let found = self
                .ports
                .sessions
                .list(tenant, &SessionFilter::default(), &page)
                .await?;
            let mut older = false;
            for s in &found.items {
                older |= s.started_at.unwrap_or(s.created_at) < horizon;
                let ended_in = s
                    .ended_at
                    .is_some_and(|e| e >= period.from && e < period.to);
                if !ended_in || s.status == SessionStatus::Failed {
                    continue;
                }
                if bills.get(tenant, &s.id.to_string()).await?.is_none()
                    && matches!(
                        self.bill_session(tenant, &s.id).await?,
                        crate::Billed::Created(_)
                    )
                {
                    tracing::warn!(session = %s.id, "session had no CDR at the billing run; priced now");
                    made += 1;
                }
            }
            match found.next {
                Some(n) if !older => page.cursor = Some(n),
                _ => return Ok(made),
            }
        }
    }

    async fn revenue_splits(
        &self,
        tenant: &TenantId,
    ) -> Result<HashMap<String, RevenueSplit>, StoreError> {
        let all = self.records::<RevenueSplit>().all(tenant).await?;
        Ok(all.into_iter().map(|s| (s.site_id.clone(), s)).collect())
    }

    /// Runs billing for the previous month for every tenant (the monthly schedule and the local timer);
    /// returns the runs made now.
    pub async fn run_due_billing(&self, trigger: &str) -> Result<Vec<BillingRun>, RunError> {
        let period = Period::previous_month(self.now());
        let mut made = Vec::new();
        let mut tenants = vec![self.config.default_tenant.clone()];
        let docs = self.records::<TenantRecord>();
        let platform = platform_tenant();
        let mut page = PageRequest::first(100);
        loop {
            let found = docs
                .query(&platform, &Documents::<TenantRecord>::by_id(page.clone()))
                .await?;
            tenants.extend(found.items.into_iter().map(|t| t.value.0.id));
            match found.next {
                Some(n) => page.cursor = Some(n),
                None => break,
            }
        }
        for t in tenants {
            let (run, created) = self.run_billing(&t, &period, trigger).await?;
            if created {
                made.push(run);
            }
        }
        Ok(made)
    }
}

/// Writes a record unless it exists (an interrupted run resumed writes only what is missing).
async fn create_once<T: Record>(docs: &Documents<T>, r: &T) -> Result<(), StoreError> {
    match docs.put(r, Expected::Absent).await {
        Ok(_) | Err(StoreError::Conflict) => Ok(()),
        Err(e) => Err(e),
    }
}
