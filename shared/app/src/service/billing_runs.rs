//! Billing runs: a month's CDRs into invoices per billed party and currency, and revenue-split statements
//! per partner. Run on demand (API), by a timer in `cpms serve`, or by the monthly schedule on AWS. A run
//! is idempotent: its invoices, statements and run record have ids derived from the period, so running a
//! period again (or resuming an interrupted run) writes nothing that exists.

use std::collections::HashMap;

use cpms_domain::TenantId;
use cpms_domain::access::platform_tenant;
use cpms_domain::billing::{
    BillingRun, Cdr, Invoice, Period, RevenueSplit, RunTotals, Statement, Subscription,
};
use cpms_ports::records::{ALL_CDRS, CDRS_BY_TIME, TenantRecord, cdr_order_at};
use cpms_ports::{Documents, Expected, PageRequest, Record, StoreError};

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
        let subscriptions = self.all::<Subscription>(tenant).await?;
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
        match runs.put(&run, Expected::Absent).await {
            Ok(_) => Ok((run, true)),
            Err(StoreError::Conflict) => match runs.get(tenant, &period.label).await? {
                Some(r) => Ok((r.value, false)),
                None => Err(StoreError::Conflict.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    async fn revenue_splits(
        &self,
        tenant: &TenantId,
    ) -> Result<HashMap<String, RevenueSplit>, StoreError> {
        let all = self.all::<RevenueSplit>(tenant).await?;
        Ok(all.into_iter().map(|s| (s.site_id.clone(), s)).collect())
    }

    /// Every record of type `T` of a tenant (small kinds: splits, subscriptions).
    async fn all<T: Record>(&self, tenant: &TenantId) -> Result<Vec<T>, StoreError> {
        let docs = self.records::<T>();
        let mut out = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let found = docs
                .query(tenant, &Documents::<T>::by_id(page.clone()))
                .await?;
            out.extend(found.items.into_iter().map(|v| v.value));
            match found.next {
                Some(n) => page.cursor = Some(n),
                None => return Ok(out),
            }
        }
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
