//! Debian's `docker-registry` (the CNCF distribution registry) on a free loopback port, with its
//! own config: filesystem storage in a scratch directory, no auth. Killed on drop.

use palisade_e2e::client::RequestBuilder;
use palisade_e2e::Response;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The registry binary: `PALISADE_DOCKER_REGISTRY`, else `docker-registry` on PATH.
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PALISADE_DOCKER_REGISTRY") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("docker-registry"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "docker-registry is missing: run `cargo xtask setup` (it installs the Debian package \
             docker-registry), or set PALISADE_DOCKER_REGISTRY to the binary"
        )
    })
}

/// A running registry.
pub struct LocalRegistry {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl LocalRegistry {
    /// Starts one and waits until `/v2/` answers.
    pub fn start() -> Self {
        let dir = palisade_e2e::paths::scratch_dir("registry");
        // A port freed just before start can be taken by someone else: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let config = dir.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log:\n  level: warn\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: {addr}\n",
                    dir.join("data").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.join("registry.log")).unwrap();
            let mut child = Command::new(binary())
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            if wait_ready(&mut child, addr) {
                return LocalRegistry { child, dir, addr };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start:\n{log}");
    }

    /// `127.0.0.1:<port>`, the registry part of an image reference.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// A GET with extra headers.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
        let mut request = RequestBuilder::new(self.addr, "GET", path);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.try_send()
    }

    /// The registry's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }
}

/// Waits until the registry answers `/v2/` (false if it exited or took too long).
fn wait_ready(child: &mut Child, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let answer = RequestBuilder::new(addr, "GET", "/v2/").try_send();
        if answer.is_ok_and(|r| r.status == 200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- registry log ({}) ---\n{}",
                self.dir.display(),
                self.log()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
