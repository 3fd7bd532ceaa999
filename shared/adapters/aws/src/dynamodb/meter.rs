//! Capacity accounting: the read and write units each request consumes, computed from item sizes with
//! DynamoDB's on-demand rules (writes: 1 unit per started KiB of the item; strongly consistent reads:
//! 1 unit per started 4 KiB; queries and batch reads: summed before rounding). The cost model reads it.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;

/// Units consumed so far (tenths of a unit, to keep half units of eventually consistent reads exact).
#[derive(Debug, Default)]
pub struct Meter {
    reads_x10: AtomicU64,
    writes_x10: AtomicU64,
    read_requests: AtomicU64,
    write_requests: AtomicU64,
}

/// A reading of the meter.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    /// Read request units.
    pub reads: f64,
    /// Write request units.
    pub writes: f64,
    /// Read requests sent.
    pub read_requests: u64,
    /// Write requests sent (a transaction is one).
    pub write_requests: u64,
}

impl std::ops::Sub for Units {
    type Output = Units;
    fn sub(self, o: Units) -> Units {
        Units {
            reads: self.reads - o.reads,
            writes: self.writes - o.writes,
            read_requests: self.read_requests - o.read_requests,
            write_requests: self.write_requests - o.write_requests,
        }
    }
}

impl Meter {
    /// What has been consumed so far.
    pub fn units(&self) -> Units {
        Units {
            reads: self.reads_x10.load(Ordering::Relaxed) as f64 / 10.0,
            writes: self.writes_x10.load(Ordering::Relaxed) as f64 / 10.0,
            read_requests: self.read_requests.load(Ordering::Relaxed),
            write_requests: self.write_requests.load(Ordering::Relaxed),
        }
    }

    /// A write of an item of `bytes`.
    pub(crate) fn write(&self, bytes: usize) {
        self.write_requests.fetch_add(1, Ordering::Relaxed);
        let units = bytes.div_ceil(1024).max(1) as u64;
        self.writes_x10.fetch_add(units * 10, Ordering::Relaxed);
    }

    /// A TransactWriteItems of items of `sizes`: one request, each item billed twice.
    pub(crate) fn transaction(&self, sizes: &[usize]) {
        self.write_requests.fetch_add(1, Ordering::Relaxed);
        let units: u64 = sizes
            .iter()
            .map(|b| b.div_ceil(1024).max(1) as u64 * 2)
            .sum();
        self.writes_x10.fetch_add(units * 10, Ordering::Relaxed);
    }

    /// A read (GetItem, Query, BatchGetItem) returning `bytes` in total.
    pub(crate) fn read(&self, bytes: usize, consistent: bool) {
        self.read_requests.fetch_add(1, Ordering::Relaxed);
        let units = bytes.div_ceil(4096).max(1) as u64 * 10;
        self.reads_x10.fetch_add(
            if consistent { units } else { units / 2 },
            Ordering::Relaxed,
        );
    }
}

/// The size DynamoDB bills for an item: attribute names plus values.
pub(crate) fn item_size<'a>(
    item: impl IntoIterator<Item = (&'a String, &'a AttributeValue)>,
) -> usize {
    item.into_iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        AttributeValue::Ss(l) => l.iter().map(String::len).sum(),
        AttributeValue::Ns(l) => l.iter().map(|n| n.len()).sum(),
        AttributeValue::Bs(l) => l.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_on_demand_rules() {
        let m = Meter::default();
        m.write(100);
        m.write(1025);
        m.read(100, true);
        m.read(5000, false);
        m.transaction(&[1500, 300]);
        let u = m.units();
        assert_eq!(
            (u.writes, u.reads, u.write_requests, u.read_requests),
            (9.0, 2.0, 3, 2)
        );
    }
}
