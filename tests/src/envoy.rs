//! A real Envoy (the pinned binary) on free loopback ports, with given HTTP filters in front of
//! an upstream. Killed on drop.

use crate::client::{send_raw, RequestBuilder, Response};
use crate::paths::{envoy_binary, scratch_dir, wasm_module};
use crate::server::Upstream;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Envoy may take to become ready (V8 compiles the modules at start).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long `/stats` lags the requests at most: the modules' counter flush period
/// (`palisade_core::metrics::FLUSH_PERIOD`, 100 ms) plus the tick's own delay, with margin.
const STATS_SETTLE: Duration = Duration::from_millis(300);

/// An HTTP filter for the chain.
#[derive(Debug, Clone)]
pub struct Filter(Value);

impl Filter {
    /// A Palisade filter (`headers`, `jwt`, `schema`, `ratelimit`) with its JSON config.
    pub fn wasm(name: &str, config: Value) -> Self {
        Self::wasm_module(name, &wasm_module(name), config)
    }

    /// A Wasm filter from any module file, with its own VM id.
    pub fn wasm_module(name: &str, module: &Path, config: Value) -> Self {
        Self(wasm_filter_json(name, module, &config))
    }

    /// A native Envoy filter, as its `http_filters` entry (`name` + `typed_config`).
    pub fn native(filter: Value) -> Self {
        Self(filter)
    }

    /// The `http_filters` entry.
    pub fn to_json(&self) -> Value {
        self.0.clone()
    }
}

/// The `http_filters` entry that loads a Palisade module from a local file.
pub fn wasm_filter_json(name: &str, module: &Path, config: &Value) -> Value {
    let id = format!("palisade_{name}");
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": id,
                "root_id": id,
                "vm_config": {
                    "vm_id": id,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": module.display().to_string()}}
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": config.to_string()
                }
            }
        }
    })
}

/// A static cluster to one loopback port.
pub fn cluster_json(name: &str, port: u16, http2: bool) -> Value {
    let mut cluster = json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": port}
            }}}]}]
        }
    });
    cluster["typed_extension_protocol_options"] = if http2 {
        json!({
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}}
            }
        })
    } else {
        // tiny_http loses a request now and then on a reused keep-alive connection (seen: 2-4 of
        // 2,400 under 24 parallel clients); one request per upstream connection loses none.
        json!({
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "common_http_protocol_options": {"max_requests_per_connection": 1},
                "explicit_http_config": {"http_protocol_options": {}}
            }
        })
    };
    cluster
}

/// Envoy refused to start (bad config, missing module); its log says why.
#[derive(Debug)]
pub struct StartError {
    /// Envoy's log.
    pub log: String,
}

type Patch = Box<dyn FnOnce(&mut Value)>;

/// Builds an Envoy.
pub struct EnvoyBuilder {
    filters: Vec<Filter>,
    clusters: Vec<Value>,
    concurrency: u32,
    patches: Vec<Patch>,
    args: Vec<String>,
    wrapper: Vec<String>,
    ready_timeout: Duration,
}

impl Default for EnvoyBuilder {
    fn default() -> Self {
        Self {
            filters: Vec::new(),
            clusters: Vec::new(),
            concurrency: 1,
            patches: Vec::new(),
            args: Vec::new(),
            wrapper: Vec::new(),
            ready_timeout: READY_TIMEOUT,
        }
    }
}

impl EnvoyBuilder {
    /// Appends an HTTP filter (the router is added last).
    #[must_use]
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Adds an HTTP/1.1 static cluster to `127.0.0.1:port`.
    #[must_use]
    pub fn cluster(mut self, name: &str, port: u16) -> Self {
        self.clusters.push(cluster_json(name, port, false));
        self
    }

    /// Adds an HTTP/2 static cluster (for gRPC services).
    #[must_use]
    pub fn grpc_cluster(mut self, name: &str, port: u16) -> Self {
        self.clusters.push(cluster_json(name, port, true));
        self
    }

    /// Worker threads (default 1).
    #[must_use]
    pub fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = n;
        self
    }

    /// Changes the generated bootstrap before start (routes, HCM options, ...).
    /// The HCM is at `/static_resources/listeners/0/filter_chains/0/filters/0/typed_config`.
    #[must_use]
    pub fn patch(mut self, patch: impl FnOnce(&mut Value) + 'static) -> Self {
        self.patches.push(Box::new(patch));
        self
    }

    /// Extra command-line arguments.
    #[must_use]
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    /// Runs Envoy under another program (`wrapper[0]`, its arguments, then Envoy's command line),
    /// such as valgrind, which keeps the process id; the wrapper is killed on drop.
    #[must_use]
    pub fn wrapper(mut self, wrapper: Vec<String>) -> Self {
        self.wrapper = wrapper;
        self
    }

    /// How long Envoy may take to become ready (default 60 s).
    #[must_use]
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The bootstrap this builder would start Envoy with.
    pub fn bootstrap(self, upstream_port: u16) -> (Value, u32, Vec<String>) {
        let mut filters: Vec<Value> = self.filters.iter().map(Filter::to_json).collect();
        filters.push(json!({
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
        }));
        let mut clusters = vec![cluster_json("upstream", upstream_port, false)];
        clusters.extend(self.clusters);
        let mut bootstrap = json!({
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
            "static_resources": {
                "listeners": [{
                    "name": "main",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                    "filter_chains": [{"filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": "ingress",
                            "codec_type": "AUTO",
                            // Let the headers filter decide about `server` (Envoy would overwrite it after the filters).
                            "server_header_transformation": "PASS_THROUGH",
                            "route_config": {
                                "name": "local",
                                "virtual_hosts": [{
                                    "name": "all",
                                    "domains": ["*"],
                                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "30s"}}]
                                }]
                            },
                            "http_filters": filters
                        }
                    }]}]
                }],
                "clusters": clusters
            }
        });
        for patch in self.patches {
            patch(&mut bootstrap);
        }
        (bootstrap, self.concurrency, self.args)
    }

    /// Starts Envoy in front of `upstream` and waits until it is ready.
    pub fn start(self, upstream: &Upstream) -> Result<Envoy, StartError> {
        self.start_with_upstream_port(upstream.port())
    }

    /// Starts Envoy with its `upstream` cluster on a given port.
    pub fn start_with_upstream_port(self, upstream_port: u16) -> Result<Envoy, StartError> {
        let wrapper = self.wrapper.clone();
        let timeout = self.ready_timeout;
        let (bootstrap, concurrency, args) = self.bootstrap(upstream_port);
        Envoy::launch(&bootstrap, concurrency, &args, &wrapper, timeout)
    }
}

/// A running Envoy.
pub struct Envoy {
    child: Child,
    dir: PathBuf,
    port: u16,
    admin_port: u16,
}

impl Envoy {
    /// A builder.
    pub fn builder() -> EnvoyBuilder {
        EnvoyBuilder::default()
    }

    fn launch(
        bootstrap: &Value,
        concurrency: u32,
        args: &[String],
        wrapper: &[String],
        ready_timeout: Duration,
    ) -> Result<Self, StartError> {
        let dir = scratch_dir("envoy");
        let config = dir.join("envoy.json");
        std::fs::write(&config, serde_json::to_vec_pretty(bootstrap).unwrap()).unwrap();
        let admin_file = dir.join("admin.txt");
        let log = dir.join("envoy.log");
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut c = Command::new(program);
                c.args(wrapper_args).arg(envoy_binary());
                c
            }
            None => Command::new(envoy_binary()),
        };
        let child = command
            .arg("-c")
            .arg(&config)
            .arg("--admin-address-path")
            .arg(&admin_file)
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .args([
                "--disable-hot-restart",
                "-l",
                "info",
                "--component-log-level",
                "wasm:debug",
                // Flush the log often, so a failing test can read what Envoy just said.
                "--file-flush-interval-msec",
                "100",
            ])
            .arg("--log-path")
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut envoy = Envoy {
            child,
            dir,
            port: 0,
            admin_port: 0,
        };
        match envoy.wait_ready(ready_timeout) {
            Ok(()) => Ok(envoy),
            Err(why) => {
                let _ = envoy.child.kill();
                let _ = envoy.child.wait();
                let log = format!("{why}\n{}", envoy.log());
                Err(StartError { log })
            }
        }
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("envoy exited with {status}"));
            }
            if self.admin_port == 0 {
                if let Ok(text) = std::fs::read_to_string(self.dir.join("admin.txt")) {
                    self.admin_port = text
                        .trim()
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0);
                }
            }
            if self.admin_port != 0 {
                let ready = self.admin_get("/ready").is_ok_and(|r| r.status == 200);
                if ready {
                    if let Some(port) = self.listener_port() {
                        self.port = port;
                        return Ok(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("envoy was not ready in time".to_string())
    }

    fn listener_port(&self) -> Option<u16> {
        let listeners = self.admin_get("/listeners?format=json").ok()?.json();
        let port = listeners["listener_statuses"][0]["local_address"]["socket_address"]
            ["port_value"]
            .as_u64()?;
        u16::try_from(port).ok()
    }

    fn admin_get(&self, path: &str) -> std::io::Result<Response> {
        if path.starts_with("/stats") {
            // The modules write their requests' counter increments on a tick (every 100 ms):
            // wait out one, so a count read right after a request includes it.
            std::thread::sleep(STATS_SETTLE);
        }
        RequestBuilder::new(
            SocketAddr::from(([127, 0, 0, 1], self.admin_port)),
            "GET",
            path,
        )
        .try_send()
    }

    /// The listener port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The listener address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The admin port.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Envoy's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A request to the listener.
    pub fn request(&self, method: &str, path: &str) -> RequestBuilder {
        RequestBuilder::new(self.addr(), method, path)
    }

    /// Sends raw bytes to the listener and reads the answer.
    pub fn send_raw(&self, bytes: &[u8]) -> Response {
        send_raw(self.addr(), bytes).unwrap_or_else(|e| panic!("no answer to raw request: {e}"))
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// The log once it contains `needle`, or as it is after 20 s: Envoy writes its log file every
    /// 100 ms, so a line logged just now may not be in the file yet.
    pub fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() >= deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The admin `/stats` text.
    pub fn stats(&self) -> String {
        self.admin_get("/stats")
            .map(|r| r.text())
            .unwrap_or_default()
    }

    /// One stat by its full name, e.g. `wasmcustom.palisade_headers_rejected`.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.stats().lines().find_map(|line| {
            let (n, v) = line.split_once(": ")?;
            (n == name).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// An admin GET (e.g. `/stats/prometheus`).
    pub fn admin(&self, path: &str) -> Response {
        self.admin_get(path).unwrap()
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- envoy log ({}) ---\n{}", self.dir.display(), self.log());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs `envoy --mode validate` on a config file; `Err` holds Envoy's output.
pub fn validate_config(path: &Path) -> Result<(), String> {
    let out = Command::new(envoy_binary())
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "-l",
            "warning",
            "-c",
        ])
        .arg(path)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `envoy --mode validate` on `envoy/<filter>.yaml` with its module path pointed at the
/// built module, after `edit` (e.g. a broken value: validation runs the filter's on_configure).
pub fn validate_example(filter: &str, edit: impl FnOnce(&str) -> String) -> Result<(), String> {
    let example = crate::paths::workspace_root().join(format!("envoy/{filter}.yaml"));
    let yaml = std::fs::read_to_string(&example).unwrap();
    let relative = format!("target/wasm32-wasip1/release/palisade_{filter}.wasm");
    assert!(
        yaml.contains(&relative),
        "{} loads {relative}",
        example.display()
    );
    let module = wasm_module(filter).display().to_string();
    let dir = scratch_dir(&format!("{filter}-example"));
    let config = dir.join(format!("{filter}.yaml"));
    std::fs::write(&config, edit(&yaml).replace(&relative, &module)).unwrap();
    let result = validate_config(&config);
    let _ = std::fs::remove_dir_all(&dir);
    result
}
