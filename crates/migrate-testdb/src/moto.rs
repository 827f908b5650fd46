//! A real S3-compatible server for tests: moto's `moto_server` (`pip install 'moto[server]'`,
//! `scripts/install-deps.sh` installs it), started on a loopback port of its choosing and stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
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

    /// moto picks its own port (`-p 0`) and says which on stderr: a port found free here and handed over could
    /// be taken by a parallel test's server first, and the readiness check would then talk to that one.
    fn try_start() -> Result<Moto, String> {
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("moto_server: {e}"))?;
        let stderr = child.stderr.take().expect("piped");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        // Reads on to the end (a request log line per call), so that moto never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = line.split("http://127.0.0.1:").nth(1).and_then(|p| p.trim().parse::<u16>().ok()) {
                    let _ = port_tx.send(port);
                }
            }
        });
        let mut moto = Moto { child, port: 0 };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.port == 0 {
            match port_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(port) => moto.port = port,
                Err(_) if Instant::now() > deadline => return Err("moto_server did not listen within 30 s".into()),
                Err(_) => {}
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("moto_server exited: {status}"));
            }
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], moto.port));
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("moto_server: {e}"))?;
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
