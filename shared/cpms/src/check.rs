//! `cpms ocpp check`: what the CSMS makes of a payload. Validates it against the official schema of its
//! version and action (the same validator the CSMS answers chargers with), shows the CallError a charger
//! would get or the quirks that would be forgiven, and proves the typed message reads and writes it.
//!
//! With `--lines`, reads JSON lines `{"version", "action", "response", "payload"}` from stdin and writes
//! one JSON verdict per line (the form the schema conformance tests use).

use std::io::{BufRead, Write};

use cpms_ocpp::OcppVersion;
use cpms_ocpp::schema::{validate, validate_lenient};
use serde::Deserialize;
use serde_json::{Value, json};

/// One payload to check.
#[derive(Deserialize)]
pub struct Job {
    /// `1.6` or `2.0.1`.
    pub version: String,
    /// Action name.
    pub action: String,
    /// CALLRESULT payload (else CALL payload).
    #[serde(default)]
    pub response: bool,
    /// The payload.
    pub payload: Value,
}

/// The verdict on one payload.
pub fn check(job: Job) -> Value {
    let Some(version) = OcppVersion::parse(&job.version) else {
        return json!({"error": format!("unknown OCPP version {:?}", job.version)});
    };
    let Some(schema) = cpms_ocpp::schema(version, &job.action, job.response) else {
        return json!({"valid": false, "error_code": "NotImplemented",
                      "message": format!("{} is not an OCPP {version} action", job.action)});
    };
    let mut strict = job.payload.clone();
    let verdict = validate(&mut strict, schema);
    let mut lenient = job.payload.clone();
    let forgiven = validate_lenient(&mut lenient, schema);
    let mut out = match &verdict {
        Ok(()) => json!({"valid": true}),
        Err(v) => json!({"valid": false, "error_code": v.error_code().as_str(version),
                         "path": v.path, "message": v.message}),
    };
    if let Ok(quirks) = &forgiven
        && verdict.is_err()
    {
        let q: Vec<_> = quirks
            .iter()
            .map(|q| json!({"kind": q.kind, "path": q.path}))
            .collect();
        out["forgiven_as"] = json!(q);
    }
    // What the CSMS does with it: `valid` is the schema's verdict; a forgiven quirk is still answered.
    let accepted = forgiven.is_ok();
    out["accepted"] = json!(accepted);
    out["charger_gets"] = json!(match (&verdict, &forgiven, job.response) {
        (_, Ok(_), true) => "the CSMS takes this answer".to_string(),
        (Ok(()), _, false) => "its answer (CALLRESULT)".to_string(),
        (Err(_), Ok(_), false) => {
            "its answer (CALLRESULT): the CSMS forgives the quirks in forgiven_as and records them"
                .to_string()
        }
        (_, Err(v), true) => format!(
            "nothing: the CSMS keeps the answer as a schema violation ({})",
            v.error_code().as_str(version)
        ),
        (_, Err(v), false) => format!("a CALLERROR {}", v.error_code().as_str(version)),
    });
    let readable = if verdict.is_ok() {
        Some(strict)
    } else {
        forgiven.ok().map(|_| lenient)
    };
    if let Some(p) = readable {
        match cpms_ocpp::roundtrip(version, &job.action, job.response, p) {
            Some(Ok(v)) => out["typed"] = v,
            Some(Err(e)) => out["typed_error"] = json!(e.to_string()),
            None => {}
        }
    }
    out
}

/// Runs the line-oriented form over stdin / stdout.
pub fn run_lines() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let verdict = match serde_json::from_str::<Job>(&line) {
            Ok(job) => check(job),
            Err(e) => json!({"error": format!("unreadable job: {e}")}),
        };
        writeln!(out, "{verdict}")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let ok = check(Job {
            version: "1.6".into(),
            action: "Heartbeat".into(),
            response: false,
            payload: json!({}),
        });
        assert_eq!(ok["valid"], true);
        assert_eq!(ok["typed"], json!({}));
        let bad = check(Job {
            version: "2.0.1".into(),
            action: "Heartbeat".into(),
            response: true,
            payload: json!({}),
        });
        assert_eq!(bad["error_code"], "OccurrenceConstraintViolation");
        assert_eq!(bad["accepted"], false);
        let quirky = check(Job {
            version: "1.6".into(),
            action: "StopTransaction".into(),
            response: false,
            payload: json!({"transactionId": 1, "meterStop": 1.5, "timestamp": "2024-01-01T00:00:00Z"}),
        });
        assert_eq!(quirky["valid"], false, "not valid for the schema");
        assert_eq!(quirky["accepted"], true, "but forgiven");
        assert!(
            quirky["charger_gets"]
                .as_str()
                .unwrap()
                .contains("CALLRESULT")
        );
        assert_eq!(quirky["forgiven_as"][0]["kind"], "fractional_integer");
        assert_eq!(quirky["typed"]["meterStop"], 2);
    }
}
