//! `cargo xtask demo` as a user (or systemd, `docker stop`, a CI job) runs it: it answers on HTTP
//! and HTTPS with the certificate it made (HSTS only on HTTPS, checked with the curl lines it
//! prints), and SIGTERM stops everything it started, Envoy included. Uses the modules already
//! built (`--no-build`), so it costs one Envoy start.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Envoy and the built modules, or a loud skip (a failure under CI).
fn ready_to_run() -> bool {
    let wasm = std::env::var_os("PALISADE_WASM_DIR").map(PathBuf::from);
    let envoy = std::env::var_os("PALISADE_ENVOY").map(PathBuf::from);
    let ok =
        envoy.is_some_and(|e| e.exists()) && wasm.is_some_and(|w| w.join("palisade.wasm").exists());
    if !ok {
        let why = "PALISADE_ENVOY and PALISADE_WASM_DIR (with the built modules) are needed";
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{why}");
        eprintln!("SKIPPING the demo test: {why}");
    }
    ok
}

/// The demo process; killed if the test fails before it stops it.
struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([
                "demo",
                "--no-build",
                "--port",
                "0",
                "--tls-port",
                "0",
                "--admin-port",
                "0",
            ])
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads output until a line contains `what`.
    fn wait_for(&mut self, what: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(_) => panic!("no `{what}` from the demo:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// The printed curl line whose comment says `comment`, as a command.
    fn curl_line(&self, comment: &str) -> String {
        let line = self
            .seen
            .iter()
            .find(|l| l.trim_start().starts_with("curl") && l.contains(comment))
            .unwrap_or_else(|| panic!("no curl line for `{comment}`:\n{}", self.seen.join("\n")));
        line.trim().to_string()
    }
}

/// Runs a printed curl line with `sh` from the repository root; its stdout.
fn run_shell(line: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(root())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only a process still running counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| !s.trim_start().starts_with('Z'))
    })
}

#[test]
fn demo_serves_http_and_https_and_sigterm_stops_envoy() {
    if !ready_to_run() {
        return;
    }
    let mut demo = Demo::start();
    let pid_line = demo.wait_for("Envoy pid:", Duration::from_secs(120));
    let envoy_pid: u32 = pid_line.rsplit(' ').next().unwrap().parse().unwrap();
    demo.wait_for("stops everything", Duration::from_secs(10));
    assert!(alive(envoy_pid), "Envoy {envoy_pid} is not running");

    // The certificate the demo made verifies (no -k), and HSTS is on HTTPS only.
    let https = demo.curl_line("HSTS is sent");
    assert!(https.contains("--cacert target/demo/ca.pem"), "{https}");
    assert!(Path::new(&root().join("target/demo/ca.pem")).exists());
    let out = run_shell(&https);
    assert!(
        out.to_ascii_lowercase()
            .starts_with("strict-transport-security: max-age="),
        "{https}\n{out}"
    );
    let http = demo.curl_line("never over plain HTTP");
    assert_eq!(run_shell(&http).trim(), "0", "{http}");
    let prometheus = demo.curl_line("as Prometheus scrapes them");
    let out = run_shell(&prometheus);
    assert!(
        out.contains("palisade_headers_rejected{reason=\"method_not_allowed\"} 0"),
        "{prometheus}\n{out}"
    );
    let cookie = demo.curl_line("cookie gets Secure");
    let out = run_shell(&cookie);
    assert!(
        out.contains("session=abc; Path=/; Secure"),
        "{cookie}\n{out}"
    );

    // SIGTERM, as systemd or `docker stop` sends it.
    let status = Command::new("kill")
        .args(["-TERM", &demo.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = demo.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the demo ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "the demo exited with {exit}");
    assert!(!alive(envoy_pid), "Envoy {envoy_pid} outlived the demo");
}
