//! Every message of both OCPP versions against the official schemas (shipped in the PyPI `ocpp` package):
//! `tests/python/schema_oracle.py` builds valid and broken payloads from each schema, asks `jsonschema`
//! and `cpms ocpp check`, and fails on any disagreement, wrong CallError code, or typed round trip that
//! changes a payload.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("CPMS_PYTHON") {
        return p.into();
    }
    let venv = root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with the `ocpp` package: run ./scripts/test (it creates .venv) or set CPMS_PYTHON"
    );
    venv
}

#[test]
fn every_message_agrees_with_the_official_schemas() {
    let out = Command::new(python())
        .arg(root().join("tests/python/schema_oracle.py"))
        .args(["--cpms", env!("CARGO_BIN_EXE_cpms")])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a summary");
    assert_eq!(
        summary["actions"], 103,
        "39 OCPP 1.6 actions and 64 OCPP 2.0.1 actions"
    );
    assert!(
        summary["valid_payloads"].as_u64().unwrap() > 500,
        "{summary}"
    );
    assert!(
        summary["invalid_payloads"].as_u64().unwrap() > 2000,
        "{summary}"
    );
}
