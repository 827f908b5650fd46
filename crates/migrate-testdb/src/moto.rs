//! A real S3-compatible server for tests: moto's `moto_server` (`pip install 'moto[server]'`,
//! `scripts/install-deps.sh` installs it), started on a free loopback port and stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to let S3 tests skip (with a message) where `moto_server` cannot be started; by default they fail.
pub const OPTIONAL_ENV: &str = "BBB_MIGRATE_S3_TESTS_OPTIONAL";

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts `moto_server` on a free port and waits until it answers. `None` only when it cannot be started
    /// and [`OPTIONAL_ENV`] says S3 tests are optional; otherwise that panics with what to install.
    pub fn start() -> Option<Moto> {
        match Self::try_start() {
            Ok(moto) => Some(moto),
            Err(why) if std::env::var(OPTIONAL_ENV).is_ok_and(|v| v == "1") => {
                eprintln!("SKIPPED: no S3 server for this test ({why}); {OPTIONAL_ENV}=1 allows skipping");
                None
            }
            Err(why) => panic!(
                "cannot start moto_server ({why}): run scripts/install-deps.sh or `pip install 'moto[server]'` \
                 (or set {OPTIONAL_ENV}=1 to skip the S3 tests)"
            ),
        }
    }

    fn try_start() -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("moto_server: {e}"))?;
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("moto_server exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err("moto_server did not listen within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
