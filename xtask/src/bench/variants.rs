//! What is measured: one Envoy per variant, each with a filter chain, a route and the request wrk
//! sends. Every route answers with a `direct_response`, so no upstream shares the CPU or adds
//! noise; the virtual host adds `server` and `x-powered-by` to every answer, like a chatty origin,
//! so header filters have something to strip.

use super::configs;
use super::tokens::Tokens;
use super::wrk::Load;
use palisade_e2e::server::Reply;
use palisade_e2e::{Filter, HttpServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What a variant stands for in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No filter: what Envoy itself costs.
    Floor,
    /// A Palisade filter (or the empty Wasm filter).
    Wasm,
    /// An Envoy filter written in C++.
    Native,
}

/// What every answer under load must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// 2xx.
    Admitted,
    /// 429 (the limit is reached).
    Limited,
}

/// One request sent before the load, with the status it must get: proves the filter is in the
/// chain and configured as meant.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The request.
    pub load: Load,
    /// The status it must get.
    pub status: u16,
    /// A response header that must be absent.
    pub absent: Option<&'static str>,
}

/// One benchmarked set-up.
pub struct Variant {
    /// Short id (file names, `--only`).
    pub id: String,
    /// Name in the report.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// The variant whose CPU per request is this one's floor.
    pub floor: &'static str,
    /// The variant with the native filter doing the same job, if Envoy has one.
    pub native: Option<&'static str>,
    /// The HTTP filters (the router is appended).
    pub filters: Vec<Filter>,
    /// The route (`direct_response`, plus header mutations for the native headers variant).
    pub route: Value,
    /// What wrk sends.
    pub load: Load,
    /// What wrk must get.
    pub expect: Expect,
    /// Checks before the load.
    pub probes: Vec<Probe>,
    /// The `.wasm` modules it loads.
    pub modules: Vec<PathBuf>,
    /// Envoy worker threads.
    pub concurrency: u32,
    /// Its start-to-ready and memory are reported on their own (a config or worker count of its
    /// own), not only per module set.
    pub own_start: bool,
    /// Envoy clusters it calls (name, port on 127.0.0.1).
    pub clusters: Vec<(String, u16)>,
    /// Ready means its first probe answered (a filter that loads its config on the first request).
    pub ready_on_first_answer: bool,
    /// Envoy returns the allocator's free memory to the system ([`MEMORY_RELEASE`]).
    pub release_memory: bool,
}

/// Envoy's `memory_allocator_manager` as `envoy/gateway.yaml` sets it (there: tcmalloc gives
/// back up to 8 MiB of free pages a second). Envoy's default (none) keeps what V8 freed after
/// compiling a module for the life of the process.
pub fn memory_release() -> std::result::Result<Value, String> {
    crate::util::gateway_example("memory_allocator_manager")
}

/// How long after its start a releasing Envoy's RSS has settled: tcmalloc keeps pages freed in
/// the last minute from release (measured: the bundle's settles 56–68 s after start).
pub const RELEASE_SETTLED: std::time::Duration = std::time::Duration::from_secs(75);

/// The bundle's name among the built modules (`palisade.wasm`).
pub const BUNDLE: &str = "palisade";

/// The id of the floor variant.
pub const FLOOR: &str = "floor";
/// The floor's memory with Envoy returning free memory ([`memory_release`]).
pub const FLOOR_RELEASED: &str = "floor-released";
/// The floor for requests with a 1 KiB body.
pub const FLOOR_1K: &str = "floor-body-1k";
/// The floor for requests with a 64 KiB body.
pub const FLOOR_64K: &str = "floor-body-64k";

/// The route every variant answers on: `200 {"ok":true}` from Envoy itself.
pub fn direct_route(header_mutations: Option<&Value>) -> Value {
    let mut route = json!({
        "match": {"prefix": "/"},
        "direct_response": {"status": 200, "body": {"inline_string": "{\"ok\":true}"}}
    });
    if let (Some(m), Some(obj)) = (
        header_mutations.and_then(Value::as_object),
        route.as_object_mut(),
    ) {
        obj.extend(m.clone());
    }
    route
}

/// The whole `route_config`: the chatty-origin headers on the virtual host, the route below it
/// (route-level mutations run last, so they can remove what the virtual host added).
pub fn route_config(route: &Value) -> Value {
    json!({
        "name": "local",
        "most_specific_header_mutations_wins": true,
        "virtual_hosts": [{
            "name": "all",
            "domains": ["*"],
            "response_headers_to_add": [
                {"header": {"key": "content-type", "value": "application/json"},
                 "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                {"header": {"key": "server", "value": "origin/1.2.3"}},
                {"header": {"key": "x-powered-by", "value": "origin-framework/4.5"}}
            ],
            "routes": [route]
        }]
    })
}

/// Which Palisade modules are built (the others' variants are skipped).
pub struct Modules {
    /// Where the modules are.
    pub dir: PathBuf,
    /// Filters whose module is there.
    pub built: Vec<&'static str>,
}

impl Modules {
    /// The module file of a filter.
    pub fn path(&self, filter: &str) -> PathBuf {
        self.dir.join(format!("palisade_{filter}.wasm"))
    }

    fn has(&self, filter: &str) -> bool {
        self.built.contains(&filter)
    }

    fn filter(&self, filter: &str, config: Value) -> Filter {
        Filter::wasm_module(filter, &self.path(filter), config)
    }

    /// The bundle's module file.
    pub fn bundle_path(&self) -> PathBuf {
        self.dir.join(format!("{BUNDLE}.wasm"))
    }

    /// The bundle running `stages` in order on every request.
    fn bundle(&self, stages: &[(&str, Value)]) -> Filter {
        Filter::wasm_module(BUNDLE, &self.bundle_path(), configs::bundle(stages))
    }
}

impl Variant {
    #[allow(clippy::too_many_arguments)] // One call per variant reads best as a table row.
    fn new(
        id: &str,
        name: &str,
        kind: Kind,
        floor: &'static str,
        native: Option<&'static str>,
        filters: Vec<Filter>,
        load: Load,
        expect: Expect,
    ) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            kind,
            floor,
            native,
            filters,
            route: direct_route(None),
            load,
            expect,
            probes: Vec::new(),
            modules: Vec::new(),
            concurrency: 1,
            own_start: false,
            clusters: Vec::new(),
            ready_on_first_answer: false,
            release_memory: false,
        }
    }

    /// Envoy runs with [`memory_release`] (its RSS is read once that has settled).
    fn release_memory(mut self) -> Self {
        self.release_memory = true;
        self
    }

    /// Calls cluster `name`, served on 127.0.0.1:`port`.
    fn cluster(mut self, name: &str, port: u16) -> Self {
        self.clusters.push((name.to_string(), port));
        self
    }

    /// Its start is measured to the first probe's answer, not to Envoy's `/ready`.
    fn ready_on_first_answer(mut self) -> Self {
        self.ready_on_first_answer = true;
        self
    }

    /// Reported on its own in the module table, with `workers` Envoy workers.
    fn own_start(mut self, workers: u32) -> Self {
        self.concurrency = workers;
        self.own_start = true;
        self
    }

    fn probe(mut self, load: Load, status: u16) -> Self {
        self.probes.push(Probe {
            load,
            status,
            absent: None,
        });
        self
    }

    fn probe_absent(mut self, load: Load, status: u16, header: &'static str) -> Self {
        self.probes.push(Probe {
            load,
            status,
            absent: Some(header),
        });
        self
    }

    fn modules(mut self, modules: Vec<PathBuf>) -> Self {
        self.modules = modules;
        self
    }

    fn route(mut self, route: Value) -> Self {
        self.route = route;
        self
    }
}

#[cfg(test)]
impl Variant {
    /// A GET variant with no filter, for report tests.
    pub fn for_tests(id: &str) -> Self {
        Self::new(
            id,
            id,
            Kind::Wasm,
            FLOOR,
            None,
            vec![],
            Load::get("/"),
            Expect::Admitted,
        )
    }
}

/// Every variant whose modules are built, and a line for each one skipped.
pub fn catalogue(
    modules: &Modules,
    empty_module: Option<&Path>,
    tokens: &Tokens,
) -> (Vec<Variant>, Vec<String>) {
    let mut all: Vec<Variant> = Vec::new();
    let mut skipped = Vec::new();
    let body_1k = palisade_benches::order_body(1024);
    let body_64k = palisade_benches::order_body(64 * 1024);
    let get = || Load::get("/api/orders");
    let with_token = |token: &str| get().header("authorization", &format!("Bearer {token}"));
    let post = |body: &[u8]| Load::post_json("/api/orders", body.to_vec());

    let no_filter = |id: &str, name: &str| {
        Variant::new(
            id,
            name,
            Kind::Floor,
            FLOOR,
            None,
            vec![],
            get(),
            Expect::Admitted,
        )
        .probe(get(), 200)
    };
    all.push(no_filter(FLOOR, "no filter"));
    // Memory with Envoy returning the allocator's free pages: the floor for the rows below that
    // do the same (`release_memory`).
    all.push(
        no_filter(FLOOR_RELEASED, "no filter, memory released")
            .own_start(1)
            .release_memory(),
    );
    match empty_module {
        Some(path) => all.push(
            Variant::new(
                "empty-wasm",
                "empty Wasm filter",
                Kind::Wasm,
                FLOOR,
                None,
                vec![Filter::wasm_module("empty", path, json!({}))],
                get(),
                Expect::Admitted,
            )
            .probe(get(), 200)
            .modules(vec![path.to_path_buf()]),
        ),
        None => skipped.push("empty Wasm filter: palisade_empty_filter.wasm did not build".into()),
    }

    // Headers: the strict-api preset against route-level header mutations doing the same job.
    if modules.has("headers") {
        all.push(
            Variant::new(
                "headers",
                "headers (strict-api preset)",
                Kind::Wasm,
                FLOOR,
                Some("native-headers"),
                vec![modules.filter("headers", configs::headers())],
                get(),
                Expect::Admitted,
            )
            .probe_absent(get(), 200, "x-powered-by")
            .modules(vec![modules.path("headers")]),
        );
    } else {
        skipped.push(not_built("headers"));
    }
    all.push(
        Variant::new(
            "native-headers",
            "route response_headers_to_add/remove",
            Kind::Native,
            FLOOR,
            None,
            vec![],
            get(),
            Expect::Admitted,
        )
        .route(direct_route(Some(&configs::native_header_mutations())))
        .probe_absent(get(), 200, "x-powered-by"),
    );

    // JWT: ES256 and RS256 (the host checks them where it can), verified every time or answered
    // from the verified-token cache; PS256 and EdDSA (always Wasm) verified every time.
    let jwt_algs = [
        ("ES256", &tokens.es256, true),
        ("RS256", &tokens.rs256, true),
        ("PS256", &tokens.ps256, false),
        ("EdDSA", &tokens.eddsa, false),
    ];
    for (alg, token, with_cache) in jwt_algs {
        let lower = alg.to_ascii_lowercase();
        let caches: &[bool] = if with_cache { &[false, true] } else { &[false] };
        for &cache in caches {
            let native_id: &'static str = match (alg, cache) {
                ("ES256", false) => "native-jwt-es256-no-cache",
                ("ES256", true) => "native-jwt-es256-cache",
                ("RS256", false) => "native-jwt-rs256-no-cache",
                ("PS256", _) => "native-jwt-ps256-no-cache",
                ("EdDSA", _) => "native-jwt-eddsa-no-cache",
                _ => "native-jwt-rs256-cache",
            };
            if modules.has("jwt") {
                let on_off = if cache { "cache" } else { "no-cache" };
                all.push(
                    Variant::new(
                        &format!("jwt-{lower}-{on_off}"),
                        &format!(
                            "jwt {alg}, {}",
                            if cache { "cache on" } else { "cache off" }
                        ),
                        Kind::Wasm,
                        FLOOR,
                        Some(native_id),
                        vec![modules.filter("jwt", configs::jwt(&tokens.jwks, cache))],
                        with_token(token),
                        Expect::Admitted,
                    )
                    .probe(with_token(token), 200)
                    .probe(get(), 401)
                    .modules(vec![modules.path("jwt")]),
                );
            }
            let native_name = format!(
                "jwt_authn {alg}, {}",
                if cache {
                    "jwt_cache_config"
                } else {
                    "no cache"
                }
            );
            all.push(
                Variant::new(
                    native_id,
                    &native_name,
                    Kind::Native,
                    FLOOR,
                    None,
                    vec![Filter::native(configs::native_jwt(&tokens.jwks, cache))],
                    with_token(token),
                    Expect::Admitted,
                )
                .probe(with_token(token), 200)
                .probe(get(), 401),
            );
        }
    }
    if !modules.has("jwt") {
        skipped.push(not_built("jwt"));
    }

    // Rate limit: a per-client budget never reached, and one spent by the first request.
    for limited in [false, true] {
        let (suffix, label, expect, second) = if limited {
            ("limited", "limit reached", Expect::Limited, 429)
        } else {
            ("admitted", "limit never reached", Expect::Admitted, 200)
        };
        let native_id: &'static str = if limited {
            "native-ratelimit-limited"
        } else {
            "native-ratelimit-admitted"
        };
        if modules.has("ratelimit") {
            all.push(
                Variant::new(
                    &format!("ratelimit-{suffix}"),
                    &format!("ratelimit, {label}"),
                    Kind::Wasm,
                    FLOOR,
                    Some(native_id),
                    vec![modules.filter("ratelimit", configs::ratelimit(limited))],
                    get(),
                    expect,
                )
                .probe(get(), 200)
                .probe(get(), second)
                .modules(vec![modules.path("ratelimit")]),
            );
        }
        all.push(
            Variant::new(
                native_id,
                &format!("local_ratelimit, {label}"),
                Kind::Native,
                FLOOR,
                None,
                vec![Filter::native(configs::native_ratelimit(limited))],
                get(),
                expect,
            )
            .probe(get(), 200)
            .probe(get(), second),
        );
    }
    if !modules.has("ratelimit") {
        skipped.push(not_built("ratelimit"));
    }

    // Schema: the whole body is read before the route answers (Envoy's buffer filter), with and
    // without the schema filter in front. Without the buffer filter a direct response would go out
    // at the headers, before the body is read (and Envoy would close the connection).
    for (floor, short, size, body) in [
        (FLOOR_1K, "1k", "1 KiB", &body_1k),
        (FLOOR_64K, "64k", "64 KiB", &body_64k),
    ] {
        all.push(
            Variant::new(
                floor,
                &format!("no filter, {size} body (buffer filter)"),
                Kind::Floor,
                floor,
                None,
                vec![Filter::native(configs::native_buffer())],
                post(body),
                Expect::Admitted,
            )
            .probe(post(body), 200),
        );
        if modules.has("schema") {
            all.push(
                Variant::new(
                    &format!("schema-{short}"),
                    &format!("schema, {size} valid body"),
                    Kind::Wasm,
                    floor,
                    None,
                    // The schema filter only holds the body back; the buffer filter behind it
                    // holds the headers too, so the route answers after the whole body.
                    vec![
                        modules.filter("schema", configs::schema()),
                        Filter::native(configs::native_buffer()),
                    ],
                    post(body),
                    Expect::Admitted,
                )
                .probe(post(body), 200)
                .probe(post(br#"{"customer":42}"#), 400)
                .modules(vec![modules.path("schema")]),
            );
        }
    }
    if !modules.has("schema") {
        skipped.push(not_built("schema"));
    }
    large_description(&mut all, modules, empty_module);

    // The gateway (envoy/gateway.yaml's order and keys): every filter in one chain, against the
    // native filters that have an equivalent.
    let chain_request =
        || post(&body_1k).header("authorization", &format!("Bearer {}", tokens.es256));
    let gateway = ["headers", "jwt", "ratelimit", "schema"];
    if gateway.iter().all(|f| modules.has(f)) {
        all.push(
            Variant::new(
                "chain",
                "all four filters chained",
                Kind::Wasm,
                FLOOR_1K,
                Some("native-chain"),
                vec![
                    modules.filter("headers", configs::headers()),
                    modules.filter("jwt", configs::jwt(&tokens.jwks, true)),
                    modules.filter("ratelimit", configs::ratelimit_per_user()),
                    modules.filter("schema", configs::schema()),
                    Filter::native(configs::native_buffer()),
                ],
                chain_request(),
                Expect::Admitted,
            )
            .probe_absent(chain_request(), 200, "x-powered-by")
            .probe(post(&body_1k), 401)
            .probe(
                post(br#"{"customer":42}"#)
                    .header("authorization", &format!("Bearer {}", tokens.es256)),
                400,
            )
            .modules(gateway.iter().map(|f| modules.path(f)).collect()),
        );
    } else {
        skipped.push("all four filters chained: needs every filter built".into());
    }
    bundle_variants(&mut all, &mut skipped, modules, tokens, &body_1k);
    all.push(
        Variant::new(
            "native-chain",
            "native chain: route headers, jwt_authn, local_ratelimit, buffer (no schema)",
            Kind::Native,
            FLOOR_1K,
            None,
            vec![
                Filter::native(configs::native_jwt(&tokens.jwks, true)),
                Filter::native(configs::native_ratelimit(false)),
                Filter::native(configs::native_buffer()),
            ],
            chain_request(),
            Expect::Admitted,
        )
        .route(direct_route(Some(&configs::native_header_mutations())))
        .probe_absent(chain_request(), 200, "x-powered-by")
        .probe(post(&body_1k), 401),
    );

    (all, skipped)
}

/// The bundle: all four stages in one module beside the four modules chained (same configs, same
/// request), then each stage alone in the bundle beside its own module: the cost of a stage
/// inside the bundle.
fn bundle_variants(
    all: &mut Vec<Variant>,
    skipped: &mut Vec<String>,
    modules: &Modules,
    tokens: &Tokens,
    body_1k: &[u8],
) {
    if !modules.has(BUNDLE) {
        skipped.push(format!(
            "bundle: {BUNDLE}.wasm is not built; its variants are skipped"
        ));
        return;
    }
    let module = || vec![modules.bundle_path()];
    let get = || Load::get("/api/orders");
    let with_token = || get().header("authorization", &format!("Bearer {}", tokens.es256));
    let post = |body: &[u8]| Load::post_json("/api/orders", body.to_vec());
    let chain_request =
        || post(body_1k).header("authorization", &format!("Bearer {}", tokens.es256));
    let all_four = |id: &str, name: &str| {
        Variant::new(
            id,
            name,
            Kind::Wasm,
            FLOOR_1K,
            Some("native-chain"),
            vec![
                modules.bundle(&[
                    ("headers", configs::headers()),
                    ("jwt", configs::jwt(&tokens.jwks, true)),
                    ("ratelimit", configs::ratelimit_per_user()),
                    ("schema", configs::schema()),
                ]),
                Filter::native(configs::native_buffer()),
            ],
            chain_request(),
            Expect::Admitted,
        )
        .probe_absent(chain_request(), 200, "x-powered-by")
        .probe(post(body_1k), 401)
        .probe(
            post(br#"{"customer":42}"#)
                .header("authorization", &format!("Bearer {}", tokens.es256)),
            400,
        )
        .modules(module())
    };
    all.push(all_four(
        "bundle",
        "bundle: all four stages in palisade.wasm",
    ));
    // The same with Envoy returning the allocator's free memory: its RSS beside the floor's.
    all.push(
        all_four(
            "bundle-released",
            "bundle: all four stages, memory released (memory_allocator_manager)",
        )
        .own_start(1)
        .release_memory(),
    );
    all.push(
        Variant::new(
            "bundle-headers",
            "bundle: headers stage alone (strict-api)",
            Kind::Wasm,
            FLOOR,
            Some("native-headers"),
            vec![modules.bundle(&[("headers", configs::headers())])],
            get(),
            Expect::Admitted,
        )
        .probe_absent(get(), 200, "x-powered-by")
        .modules(module()),
    );
    all.push(
        Variant::new(
            "bundle-jwt",
            "bundle: jwt stage alone (ES256, cache on)",
            Kind::Wasm,
            FLOOR,
            Some("native-jwt-es256-cache"),
            vec![modules.bundle(&[("jwt", configs::jwt(&tokens.jwks, true))])],
            with_token(),
            Expect::Admitted,
        )
        .probe(with_token(), 200)
        .probe(get(), 401)
        .modules(module()),
    );
    all.push(
        Variant::new(
            "bundle-ratelimit",
            "bundle: ratelimit stage alone (limit never reached)",
            Kind::Wasm,
            FLOOR,
            Some("native-ratelimit-admitted"),
            vec![modules.bundle(&[("ratelimit", configs::ratelimit(false))])],
            get(),
            Expect::Admitted,
        )
        .probe(get(), 200)
        .modules(module()),
    );
    all.push(
        Variant::new(
            "bundle-schema-1k",
            "bundle: schema stage alone (1 KiB valid body)",
            Kind::Wasm,
            FLOOR_1K,
            None,
            vec![
                modules.bundle(&[("schema", configs::schema())]),
                Filter::native(configs::native_buffer()),
            ],
            post(body_1k),
            Expect::Admitted,
        )
        .probe(post(body_1k), 200)
        .probe(post(br#"{"customer":42}"#), 400)
        .modules(module()),
    );
}

/// The probe module's calls, each measured on its own row: (kind, count per request, what).
pub const PROBES: [(&str, u32, &str); 9] = [
    ("request_headers", 4, "request header map read"),
    ("request_header", 4, "one request header read (`:path`)"),
    ("property", 4, "absent property read"),
    ("time", 4, "clock read"),
    ("response_headers", 4, "response header map read"),
    ("response_set", 8, "response header set (replace, absent)"),
    ("response_add", 8, "response header added"),
    ("response_remove", 8, "response header removed"),
    ("response_replace", 4, "response map read and written whole"),
];

/// The id of the probe module making no calls: the probe rows' floor.
pub const PROBE_NONE: &str = "probe-none";

/// What one host call of each kind costs (`--only probe`): the probe module (benches/probe-filter)
/// making no calls, then each kind of call a few times per request, over the no-call row.
pub fn probe_variants(probe: &Path) -> Vec<Variant> {
    let get = || Load::get("/api/orders");
    let row = |id: String, name: String, floor: &'static str, config: String| {
        Variant::new(
            &id,
            &name,
            Kind::Wasm,
            floor,
            None,
            vec![Filter::wasm_module("probe", probe, Value::String(config))],
            get(),
            Expect::Admitted,
        )
        .probe(get(), 200)
        .modules(vec![probe.to_path_buf()])
    };
    let mut all = vec![row(
        PROBE_NONE.to_string(),
        "probe module, no calls".to_string(),
        FLOOR,
        String::new(),
    )];
    for (kind, count, what) in PROBES {
        all.push(row(
            format!("probe-{}", kind.replace('_', "-")),
            format!("probe: {count} × {what}"),
            PROBE_NONE,
            format!("{kind}={count}"),
        ));
    }
    all
}

fn not_built(filter: &str) -> String {
    format!("{filter}: palisade_{filter}.wasm is not built (filter not landed, or it does not compile); its variants are skipped")
}

/// The floor with two workers, for the memory of a further worker.
pub const FLOOR_2W: &str = "floor-2w";

/// Serves the large description at `/openapi.json` for the `openapi_remote` variants, for the
/// whole run (started once).
fn description_server() -> &'static HttpServer {
    static SERVER: OnceLock<HttpServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let doc = palisade_benches::large_api();
        HttpServer::start(move |req| {
            if req.path == "/openapi.json" {
                Reply::json(200, &doc)
            } else {
                Reply::text(404, "no such document")
            }
        })
    })
}

/// Issue 13: the schema filter with a large OpenAPI description (`palisade_benches::large_api`):
/// a GET matched among all its templates, a POST validated against a resource schema built from
/// shared components, and Envoy with two workers (memory per further worker).
fn large_description(all: &mut Vec<Variant>, modules: &Modules, empty_module: Option<&Path>) {
    let get = || Load::get("/api/orders");
    let config = json!({"openapi": palisade_benches::large_api()});
    // What Envoy itself spends on a plugin config this large (the empty filter ignores it).
    if let Some(path) = empty_module {
        all.push(
            Variant::new(
                "empty-wasm-large",
                "empty Wasm filter given the large description as config",
                Kind::Wasm,
                FLOOR,
                None,
                vec![Filter::wasm_module("empty", path, config.clone())],
                get(),
                Expect::Admitted,
            )
            .probe(get(), 200)
            .modules(vec![path.to_path_buf()])
            .own_start(1),
        );
    }
    all.push(
        Variant::new(
            FLOOR_2W,
            "no filter, 2 workers",
            Kind::Floor,
            FLOOR_2W,
            None,
            vec![],
            get(),
            Expect::Admitted,
        )
        .probe(get(), 200)
        .own_start(2),
    );
    if !modules.has("schema") {
        return;
    }
    let last = palisade_benches::LARGE_API_RESOURCES - 1;
    let read = || Load::get(&format!("/resources{last}/abc-1"));
    let create = |body: Vec<u8>| Load::post_json(&format!("/resources{last}"), body);
    let body = palisade_benches::large_api_body().to_string().into_bytes();
    let schema = || modules.filter("schema", config.clone());
    // The same description fetched by the filter (`openapi_remote`), served by a local server:
    // Envoy's own config stays small; each worker compiles the document on its first request.
    let docs = description_server();
    let remote = json!({"openapi_remote": {
        "http_uri": {"uri": format!("http://127.0.0.1:{}/openapi.json", docs.port()), "cluster": "docs", "timeout": "30s"},
        // Long enough for a worker under valgrind (`--instructions`) to compile the document.
        "max_wait": "300s",
        "max_bytes": 64 << 20
    }});
    for (id, name, workers, floor, fetched, release) in [
        (
            "schema-large-get",
            "schema, large description: GET",
            1,
            FLOOR,
            false,
            false,
        ),
        (
            "schema-large-2w",
            "schema, large description: GET, 2 workers",
            2,
            FLOOR_2W,
            false,
            false,
        ),
        (
            "schema-remote-large-get",
            "schema, large description fetched (openapi_remote): GET",
            1,
            FLOOR,
            true,
            false,
        ),
        (
            "schema-remote-large-2w",
            "schema, large description fetched (openapi_remote): GET, 2 workers",
            2,
            FLOOR_2W,
            true,
            false,
        ),
        (
            "schema-remote-large-released",
            "schema, large description fetched (openapi_remote): GET, memory released",
            1,
            FLOOR,
            true,
            true,
        ),
    ] {
        let filter = if fetched {
            modules.filter("schema", remote.clone())
        } else {
            schema()
        };
        let mut variant = Variant::new(
            id,
            name,
            Kind::Wasm,
            floor,
            None,
            vec![filter],
            read(),
            Expect::Admitted,
        )
        .probe(read(), 200)
        .probe(Load::get(&format!("/resources{last}/NOT_AN_ID")), 400)
        .probe(Load::get("/elsewhere"), 404)
        .modules(vec![modules.path("schema")])
        .own_start(workers);
        if fetched {
            variant = variant.cluster("docs", docs.port()).ready_on_first_answer();
        }
        if release {
            variant = variant.release_memory();
        }
        all.push(variant);
    }
    all.push(
        Variant::new(
            "schema-large-post",
            "schema, large description: POST (small body; floor: 1 KiB buffered)",
            Kind::Wasm,
            FLOOR_1K,
            None,
            vec![schema(), Filter::native(configs::native_buffer())],
            create(body.clone()),
            Expect::Admitted,
        )
        .probe(create(body), 200)
        .probe(create(br#"{"field0": 1}"#.to_vec()), 400)
        .modules(vec![modules.path("schema")])
        .own_start(1),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_release_comes_from_the_gateway_example() {
        let release = memory_release().unwrap();
        assert!(
            release["bytes_to_release"].as_u64().unwrap() > 0,
            "{release}"
        );
        assert!(release["memory_release_interval"].is_string(), "{release}");
    }
}
