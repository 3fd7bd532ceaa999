//! The stack in `infra/`: cfn-lint finds no error in it, and it matches the code (event routing per
//! consumer, a dead-letter queue and an alarm per queue, a binary, log group and role per function).

use std::process::Command;

use cpms_tests::{python, root};

#[test]
fn cfn_lint_passes() {
    let lint = python().with_file_name("cfn-lint");
    let out = Command::new(&lint)
        .arg(root().join("infra/template.yaml"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run ./scripts/test", lint.display()));
    assert!(
        out.status.success(),
        "cfn-lint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_stack_matches_the_code() {
    let out = Command::new(python())
        .arg(root().join("tests/python/check_template.py"))
        .arg(root().join("infra/template.yaml"))
        .arg(root().join("events/catalog/routing.json"))
        .arg(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
