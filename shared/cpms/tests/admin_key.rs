//! The generated admin key is made once, kept (as its hash) in the data directory, and printed only when
//! it is made: the key printed at the first start still works after a restart.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{command, free_port, up};

/// Starts `cpms serve` without a key and returns the server and what it printed.
async fn start(dir: &std::path::Path, ws: u16, http: u16) -> (common::Server, String) {
    let mut cmd = command(dir, ws, http, &[]);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let printed = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            text.push_str(&line);
            text.push('\n');
            if line.contains("Admin API key") {
                break;
            }
        }
        text
    })
    .await
    .unwrap();
    (up(child, ws, http).await, printed)
}

async fn status_with(api: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{api}/v1/chargers"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_generated_admin_key_survives_a_restart_and_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, http) = (free_port(), free_port());
    let (mut s, printed) = start(dir.path(), ws, http).await;
    let line = printed
        .lines()
        .find(|l| l.contains("Admin API key"))
        .unwrap()
        .to_string();
    let key = line.split_whitespace().nth(3).unwrap().to_string();
    assert_eq!(key.len(), 32, "{line}");
    assert_eq!(status_with(&s.api(), &key).await, 200);
    s.kill();
    let (s, printed) = start(dir.path(), ws, http).await;
    assert!(!printed.contains(&key), "printed only when made: {printed}");
    assert_eq!(
        status_with(&s.api(), &key).await,
        200,
        "the same key after a restart"
    );
    assert_eq!(status_with(&s.api(), "guess").await, 401);
    let stored = std::fs::read_to_string(dir.path().join("admin-key.sha256")).unwrap();
    assert!(!stored.contains(&key), "only a hash is kept");
}
