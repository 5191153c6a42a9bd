//! The test rate-limit service (`tests/rls-server`: limitador with Redis storage behind an RLS v3
//! gRPC server) on a free loopback port. Killed on drop, or earlier with [`RlsServer::kill`].
//!
//! The binary comes from `PALISADE_RLS_SERVER` (set by `cargo xtask test`), else the newest
//! `rls-server/<source key>/palisade-rls-server` that `cargo xtask setup` filed in the tool cache.

use crate::paths::{cache_dir, scratch_dir};
use crate::redis::{free_port, wait_for_port, RedisServer};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The server binary; `None` (after a loud message) when it is not built, a failure under `CI=true`.
pub fn rls_server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PALISADE_RLS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let newest = std::fs::read_dir(cache_dir().join("rls-server"))
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("palisade-rls-server"))
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    if newest.is_none() {
        let why = "the test RLS server is not built: run `cargo xtask setup` (or set PALISADE_RLS_SERVER)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why} (CI=true)");
        }
        eprintln!("SKIPPING: {why}");
    }
    newest
}

/// A running RLS.
pub struct RlsServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RlsServer {
    /// Starts the RLS with `limits` (a JSON list of limitador limits, `namespace` = RLS domain)
    /// counting in `redis`.
    pub fn start(binary: &PathBuf, redis: &RedisServer, limits: &Value) -> Self {
        let dir = scratch_dir("rls");
        let limits_file = dir.join("limits.json");
        std::fs::write(&limits_file, limits.to_string()).unwrap();
        let log = std::fs::File::create(dir.join("rls.log")).unwrap();
        let port = free_port();
        let mut child = Command::new(binary)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--redis", &redis.url()])
            .arg("--limits")
            .arg(&limits_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        if let Err(e) = wait_for_port(&mut child, port, "palisade-rls-server") {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("rls.log")).unwrap_or_default();
            panic!("{e}\n{log}");
        }
        Self {
            child: Some(child),
            port,
            dir,
        }
    }

    /// Its gRPC port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it now (its port then refuses connections).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RlsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
