//! Boot admission: a token bucket that spreads reconnect storms. When too many chargers boot at once,
//! the excess is answered `Pending` with a random retry interval, so they come back spread out instead
//! of hammering the gateway (500 new connections per second per account on API Gateway).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket of boot acceptances.
pub(crate) struct Admission {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Admission {
    /// `rate` acceptances per second, `burst` at once.
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Admission {
            rate: rate.max(0.0),
            burst: burst.max(1.0),
            state: Mutex::new((burst.max(1.0), Instant::now())),
        }
    }

    /// Takes one acceptance if one is available.
    pub(crate) fn admit(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() * self.rate;
        s.0 = (s.0 + refill).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A random duration in `[lo, hi]` (whole seconds).
pub(crate) fn jitter(lo: Duration, hi: Duration) -> Duration {
    let (lo, hi) = (lo.as_secs(), hi.as_secs().max(lo.as_secs()));
    Duration::from_secs(rand::random_range(lo..=hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_admitted_and_the_rest_waits() {
        let a = Admission::new(0.0, 3.0);
        assert_eq!((0..5).filter(|_| a.admit()).count(), 3);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(10), Duration::from_secs(20));
            assert!((10..=20).contains(&d.as_secs()));
        }
    }
}
