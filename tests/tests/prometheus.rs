//! What a Prometheus user scrapes: Envoy's `/stats/prometheus` with the examples' `stats_config`
//! has every counter of every filter, outcomes as labels (`palisade_jwt_denied{reason="expired"}`),
//! and README.md's metrics table names exactly the counters the filters define.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_simple::prelude::*;
use palisade_e2e::paths::workspace_root;
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};

/// The `stats_config` every `envoy/*.yaml` example ships (the same in each: checked here).
fn examples_stats_config() -> Value {
    let mut found: Option<(String, Value)> = None;
    let mut dir: Vec<_> = std::fs::read_dir(workspace_root().join("envoy"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    dir.sort();
    for path in dir {
        let doc: Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stats = doc["stats_config"].clone();
        assert!(stats.is_object(), "envoy/{name} has no stats_config");
        match &found {
            None => found = Some((name, stats)),
            Some((first, want)) => {
                assert_eq!(&stats, want, "envoy/{name} differs from envoy/{first}")
            }
        }
    }
    found.unwrap().1
}

fn demo_config(filter: &str) -> Value {
    let path = workspace_root().join(format!("envoy/demo/{filter}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// One row of README.md's metrics table: the Prometheus series for each label value, and the
/// `/stats` name each comes from.
#[derive(Debug)]
struct Row {
    /// `(prometheus series, /stats name)`.
    series: Vec<(String, String)>,
}

/// Cells of a Markdown table row, without backticks.
fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().replace('`', ""))
        .collect()
}

/// README.md's metrics table, its `<rule>` rows expanded for `rules`.
fn readme_table(rules: &[&str]) -> Vec<Row> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("| Prometheus series"));
    assert!(
        lines.next().is_some(),
        "README.md has no `| Prometheus series` table"
    );
    let mut rows = Vec::new();
    for line in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let c = cells(line);
        let (metric, values, stats) = (&c[0], &c[1], &c[2]);
        let label = metric
            .split_once('{')
            .map(|(_, l)| l.trim_end_matches('}').to_string());
        let base = metric.split('{').next().unwrap().to_string();
        let series = match label {
            None => vec![(base.clone(), stats.clone())],
            Some(label) => {
                let values: Vec<String> = if values.contains("rule name") {
                    rules.iter().map(|r| r.to_string()).collect()
                } else {
                    values.split(',').map(|v| v.trim().to_string()).collect()
                };
                values
                    .iter()
                    .map(|v| {
                        (
                            format!("{base}{{{label}=\"{v}\"}}"),
                            stats.replace(&format!("<{label}>"), v),
                        )
                    })
                    .collect()
            }
        };
        rows.push(Row { series });
    }
    rows
}

/// The value of one series in a Prometheus text scrape.
fn scraped(scrape: &str, series: &str) -> Option<u64> {
    scrape.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        // Envoy writes an unlabelled series as `name{}`, which Prometheus reads as `name`.
        let name = name.strip_suffix("{}").unwrap_or(name);
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

#[test]
fn prometheus_scrape_has_every_filters_counters_with_outcomes_as_labels() {
    // Through the bundle, as the gateway runs them: the stages keep their filters' metric names.
    let module = palisade_e2e::paths::wasm_dir().join("palisade.wasm");
    if !module.exists() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "{} not built",
            module.display()
        );
        eprintln!("SKIPPING: {} not built", module.display());
        return;
    }
    let stats_config = examples_stats_config();
    let key = ES256KeyPair::generate().with_key_id("prom");
    let jwk: Value = serde_json::from_str(&key.public_key().to_jwk()).unwrap();
    let mut jwt = demo_config("jwt");
    jwt["providers"]["demo"]["local_jwks"]["inline_string"] =
        json!(json!({ "keys": [jwk] }).to_string());
    let sign = |expired: bool| {
        let mut claims = Claims::create(Duration::from_mins(10))
            .with_issuer("https://demo.palisade.dev")
            .with_audience("demo-api")
            .with_subject("alice");
        if expired {
            claims.issued_at = Some(Clock::now_since_epoch() - Duration::from_hours(3));
            claims.expires_at = Some(Clock::now_since_epoch() - Duration::from_hours(2));
        }
        key.sign(claims).unwrap()
    };
    let upstream = Upstream::start();
    let bundle = json!({
        "stages": {
            "headers": demo_config("headers"),
            "jwt": jwt,
            "ratelimit": demo_config("ratelimit"),
            "schema": demo_config("schema")
        },
        "default_stages": ["headers", "jwt", "ratelimit", "schema"]
    });
    let envoy = Envoy::builder()
        .filter(Filter::wasm("palisade", bundle))
        .patch(move |b| b["stats_config"] = stats_config)
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));

    // One outcome of each kind: refused by headers, jwt (no token, expired), schema, ratelimit.
    assert_eq!(envoy.request("TRACE", "/").send().status, 405);
    assert_eq!(envoy.request("GET", "/api/orders/1").send().status, 401);
    let expired = format!("Bearer {}", sign(true));
    let resp = envoy
        .request("GET", "/api/orders/1")
        .header("authorization", &expired)
        .send();
    assert_eq!(resp.status, 401, "{}", resp.text());
    let valid = format!("Bearer {}", sign(false));
    let resp = envoy
        .request("POST", "/api/orders")
        .header("authorization", &valid)
        .header("content-type", "application/json")
        .body(r#"{"item": "", "quantity": 0}"#)
        .send();
    assert_eq!(resp.status, 400, "{}", resp.text());
    // 5 per 10 s per client IP: a quick run of requests reaches 429 (at most 30, however slow).
    let statuses: Vec<u16> = (0..30)
        .map(|_| envoy.request("GET", "/").send().status)
        .scan(false, |limited, status| {
            (!*limited).then(|| {
                *limited = status == 429;
                status
            })
        })
        .collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");

    let scrape = envoy.admin("/stats/prometheus").text();
    let value = |series: &str| {
        scraped(&scrape, series).unwrap_or_else(|| panic!("no {series} in:\n{scrape}"))
    };
    assert_eq!(
        value("palisade_headers_rejected{reason=\"method_not_allowed\"}"),
        1
    );
    assert_eq!(value("palisade_jwt_denied{reason=\"missing\"}"), 1);
    assert_eq!(value("palisade_jwt_denied{reason=\"expired\"}"), 1);
    assert_eq!(
        value("palisade_schema_rejected{reason=\"invalid_body\"}"),
        1
    );
    assert!(value("palisade_ratelimit_limited{rule=\"per_ip\"}") >= 1);
    assert!(value("palisade_ratelimit_allowed{rule=\"per_user\"}") >= 1);
    // Labels replace names: no per-outcome metric name is left.
    assert!(!scrape.contains("palisade_jwt_denied_expired"), "{scrape}");
    assert!(!scrape.contains("envoy_wasmcustom"), "{scrape}");

    // README's table names exactly the counters the filters define, and each is scraped.
    let defined: Vec<String> = envoy
        .stats()
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(n, _)| n.to_string()))
        .filter(|n| n.starts_with("wasmcustom.palisade_"))
        .collect();
    assert!(defined.len() > 30, "{defined:?}");
    let table = readme_table(&["per_user", "per_ip"]);
    let documented: Vec<&(String, String)> = table.iter().flat_map(|r| &r.series).collect();
    for name in &defined {
        assert!(
            documented.iter().any(|(_, stats)| stats == name),
            "{name} is not in README.md's metrics table"
        );
    }
    for (series, stats) in documented {
        assert!(
            defined.contains(stats),
            "README.md lists {stats}, which no filter defines"
        );
        assert!(
            scraped(&scrape, series).is_some(),
            "README.md's {series} is not scraped:\n{scrape}"
        );
    }
}
