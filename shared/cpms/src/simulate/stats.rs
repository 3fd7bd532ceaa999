//! What a simulation measured.

use std::time::Duration;

use serde::Serialize;

/// Counters and latencies of one simulated charger, merged into the run's.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// CALLs sent.
    pub calls: u64,
    /// CALLRESULTs received.
    pub results: u64,
    /// CALLERRORs received.
    pub errors: u64,
    /// Calls that got no answer or lost their connection.
    pub failures: u64,
    /// Chargers that connected.
    pub connected: u64,
    /// Chargers that could not connect or boot.
    pub connect_failures: u64,
    /// Sessions that ran to their stop.
    pub sessions: u64,
    /// Of those, sessions the CSMS started.
    pub remote_sessions: u64,
    /// Calls of the CSMS answered.
    pub answered: u64,
    /// Connections made again after one was lost.
    pub reconnects: u64,
    /// Reboots the CSMS asked for (Reset).
    pub reboots: u64,
    /// Calls cut off by a lost connection (transaction messages among them are sent again).
    pub interrupted: u64,
    /// Round-trip times in microseconds.
    pub latencies_us: Vec<u32>,
    /// From a session's start sent to its charging profile received, in microseconds.
    pub profile_latencies_us: Vec<u32>,
    /// Completion time of each answered call, in milliseconds since the run started.
    pub done_at_ms: Vec<u32>,
    /// First failures, for the report.
    pub samples: Vec<String>,
}

impl Stats {
    /// Adds another charger's numbers.
    pub fn merge(&mut self, o: Stats) {
        self.calls += o.calls;
        self.results += o.results;
        self.errors += o.errors;
        self.failures += o.failures;
        self.connected += o.connected;
        self.connect_failures += o.connect_failures;
        self.sessions += o.sessions;
        self.remote_sessions += o.remote_sessions;
        self.answered += o.answered;
        self.reconnects += o.reconnects;
        self.reboots += o.reboots;
        self.interrupted += o.interrupted;
        self.latencies_us.extend(o.latencies_us);
        self.profile_latencies_us.extend(o.profile_latencies_us);
        self.done_at_ms.extend(o.done_at_ms);
        for s in o.samples {
            if self.samples.len() < 10 {
                self.samples.push(s);
            }
        }
    }

    /// Records a problem (the first few are kept for the report).
    pub fn note(&mut self, what: String) {
        if self.samples.len() < 10 {
            self.samples.push(what);
        }
    }
}

/// The summary printed at the end.
#[derive(Debug, Serialize)]
pub struct Report {
    pub chargers_connected: u64,
    pub connect_failures: u64,
    pub sessions_completed: u64,
    /// Sessions the CSMS started (remote start).
    pub remote_sessions: u64,
    /// Calls of the CSMS the chargers answered.
    pub csms_calls_answered: u64,
    pub reconnects: u64,
    pub reboots: u64,
    /// Calls cut off by a lost connection.
    pub interrupted_calls: u64,
    pub calls: u64,
    pub call_results: u64,
    pub call_errors: u64,
    pub failed_calls: u64,
    pub duration_s: f64,
    pub msgs_per_s: f64,
    /// Busiest 10-second window.
    pub peak_msgs_per_s: f64,
    pub latency_ms: Latency,
    /// From a session's start sent to its charging profile received (smart charging), when profiles
    /// came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_latency_ms: Option<Latency>,
    pub problems: Vec<String>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Percentiles of times in microseconds (an HDR histogram, 3 significant digits).
    pub fn of(us: &[u32]) -> Latency {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("3 significant digits");
        for v in us {
            h.record(u64::from(*v)).expect("an auto-resizing histogram");
        }
        let ms = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Latency {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            max: if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / 1000.0
            },
        }
    }
}

impl Report {
    /// Summarizes a run that took `elapsed`.
    pub fn of(s: Stats, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut per_s = vec![0u64; (secs.ceil() as usize) + 1];
        for t in &s.done_at_ms {
            if let Some(b) = per_s.get_mut((*t / 1000) as usize) {
                *b += 1;
            }
        }
        let msgs_per_s = (s.results + s.errors) as f64 / secs;
        // The busiest 10-second window; a shorter run has only its average.
        let peak = if secs < 10.0 {
            msgs_per_s
        } else {
            per_s
                .windows(10)
                .map(|w| w.iter().sum::<u64>() as f64 / 10.0)
                .fold(0.0, f64::max)
        };
        Report {
            chargers_connected: s.connected,
            connect_failures: s.connect_failures,
            sessions_completed: s.sessions,
            remote_sessions: s.remote_sessions,
            csms_calls_answered: s.answered,
            reconnects: s.reconnects,
            reboots: s.reboots,
            interrupted_calls: s.interrupted,
            calls: s.calls,
            call_results: s.results,
            call_errors: s.errors,
            failed_calls: s.failures,
            duration_s: (secs * 100.0).round() / 100.0,
            msgs_per_s,
            peak_msgs_per_s: peak,
            latency_ms: Latency::of(&s.latencies_us),
            profile_latency_ms: (!s.profile_latencies_us.is_empty())
                .then(|| Latency::of(&s.profile_latencies_us)),
            problems: s.samples,
        }
    }

    /// Whether everything succeeded.
    pub fn ok(&self) -> bool {
        self.connect_failures == 0 && self.call_errors == 0 && self.failed_calls == 0
    }

    /// Human-readable form.
    pub fn text(&self) -> String {
        let mut out = format!(
            "chargers connected: {} (failed: {})\nsessions completed: {} ({} started by the CSMS)\nCSMS calls answered: {}; reconnects: {}; reboots: {}; calls cut off by a lost connection: {}\ncalls: {} sent, {} results, {} CallErrors, {} failed\nduration: {:.2} s\nthroughput: {:.0} msgs/s average, {:.0} msgs/s in the busiest 10 s\nlatency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
            self.chargers_connected,
            self.connect_failures,
            self.sessions_completed,
            self.remote_sessions,
            self.csms_calls_answered,
            self.reconnects,
            self.reboots,
            self.interrupted_calls,
            self.calls,
            self.call_results,
            self.call_errors,
            self.failed_calls,
            self.duration_s,
            self.msgs_per_s,
            self.peak_msgs_per_s,
            self.latency_ms.p50,
            self.latency_ms.p90,
            self.latency_ms.p99,
            self.latency_ms.max
        );
        if let Some(l) = &self.profile_latency_ms {
            out.push_str(&format!(
                "session start to its charging profile: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
                l.p50, l.p90, l.p99, l.max
            ));
        }
        for p in &self.problems {
            out.push_str(&format!("problem: {p}\n"));
        }
        out
    }
}
