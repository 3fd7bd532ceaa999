//! The AWS emulator for tests: moto server on loopback. `scripts/test` starts one for the whole run and
//! sets `CPMS_AWS_TEST_ENDPOINT`; without it each test process starts its own. Tests keep apart by using
//! their own table, bus and queue names.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

/// A running emulator.
pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The emulator of this test run (or a new one for this process).
pub fn moto() -> Moto {
    if let Ok(e) = std::env::var("CPMS_AWS_TEST_ENDPOINT") {
        return Moto {
            endpoint: e,
            child: None,
        };
    }
    own_moto()
}

/// An emulator of the caller's own, stopped when it is dropped: for a heavy test, whose tables and
/// stream records (moto keeps them all in memory, gigabytes for a fleet run) go with it.
pub fn own_moto() -> Moto {
    let port = crate::free_port();
    let bin = crate::python().with_file_name("moto_server");
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): run ./scripts/test to set up .venv",
                bin.display()
            )
        });
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child: Some(child),
    }
}

/// SDK configuration for the emulator: the product's own (retry policy included), pointed at it.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    cpms_aws::config::sdk_config(Some(endpoint)).await
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand_u32())
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() ^ std::process::id().rotate_left(16)
}
