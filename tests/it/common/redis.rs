//! A real `redis-server` for one test: a free 127.0.0.1 port, no persistence, its own
//! temporary directory, killed on drop. `stop` and `restart` (same port) serve fault tests.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    extra: Vec<String>,
    dir: tempfile::TempDir,
}

/// Where `redis-server` is, if anywhere on the usual paths.
fn server_binary() -> Option<PathBuf> {
    [
        "/usr/bin/redis-server",
        "/usr/local/bin/redis-server",
        "/usr/sbin/redis-server",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

impl RedisServer {
    /// Start a server with `extra` arguments (e.g. `["--requirepass", "pw"]`).
    pub fn start(extra: &[&str]) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let mut server = RedisServer {
            child: None,
            port,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            dir,
        };
        server.restart()?;
        Ok(server)
    }

    /// Start (again) on the same port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let bin = server_binary()
            .ok_or("redis-server is not installed (apt-get install redis-server)")?;
        let child = Command::new(bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--rdbcompression", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        self.child = Some(child);
        // Wait until it accepts connections (start-up, not a timing assertion).
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(format!("redis-server exited at start: {status}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("redis-server did not accept connections within 10 s".to_owned())
    }

    /// Stop the server after it saved its data set, which `restart` loads again (the
    /// server was started without persistence: this is the one save).
    pub fn shutdown_saving(&mut self) {
        let mut c = self.client();
        // The server closes the connection as it exits: no reply comes.
        let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut c);
        if let Some(child) = self.child.as_mut() {
            let _ = child.wait();
        }
        self.child = None;
    }

    /// Kill the server (the port stays reserved for `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A plain client connection (no password).
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect to the test's redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
