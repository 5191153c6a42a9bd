//! problem+json rendering of arbitrary strings (RFC 9457): the body is always JSON with unique
//! keys, and says exactly what was put in.

use crate::input::{field, fields, is_json_with_unique_keys, selector};
use palisade_core::decision::Denial;
use palisade_core::host::send_denial;
use palisade_core::testing::MockHost;
use palisade_core::Problem;
use serde_json::Value;

/// Fields: slug, title, detail, extension name, extension value; the first byte picks the status.
pub fn run(data: &[u8]) {
    let (status, rest) = selector(data);
    let status = 400 + u16::from(status);
    let f = fields(rest);
    let (slug, title, detail) = (field(&f, 0), field(&f, 1), field(&f, 2));
    let (ext, ext_value) = (field(&f, 3), field(&f, 4));
    let problem = Problem::new(status, slug, title)
        .with_detail(detail)
        .with(ext, Value::String(ext_value.to_string()));
    let body = problem.to_body();
    assert!(
        is_json_with_unique_keys(&body),
        "not JSON with unique keys: {}",
        String::from_utf8_lossy(&body)
    );
    let v: Value = serde_json::from_slice(&body).expect("a problem body is JSON");
    let member = |name: &str| v.get(name).cloned().unwrap_or_default();
    assert_eq!(member("title"), title);
    assert_eq!(member("detail"), detail);
    assert_eq!(member("status"), status);
    assert_eq!(
        member("type"),
        format!("https://palisade.dev/problems/{slug}").as_str()
    );

    // The same body through the host, as a filter sends it.
    let host = MockHost::new();
    send_denial(&host, &Denial::new(problem).with_header("x-why", ext_value));
    let sent = host.last_response().expect("a denial is sent");
    assert_eq!(sent.status, status);
    assert_eq!(
        sent.header("content-type"),
        Some("application/problem+json")
    );
    assert!(is_json_with_unique_keys(&sent.body));
}
