//! RFC 9457 problem details: the body of every answer a filter gives instead of the upstream.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// The media type of a problem body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary, the same for every occurrence of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extension members (`violations`, `retry_after`, ...). One named like a member above is
    /// left out of the body: it would repeat a key, and parsers disagree on which one counts.
    #[serde(flatten, serialize_with = "extensions_without_members")]
    pub extensions: Map<String, Value>,
}

/// The members [`Problem`] always writes itself.
const MEMBERS: [&str; 4] = ["type", "title", "status", "detail"];

fn extensions_without_members<S: Serializer>(
    extensions: &Map<String, Value>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(
        extensions
            .iter()
            .filter(|(name, _)| !MEMBERS.contains(&name.as_str())),
    )
}

impl Problem {
    /// A problem of type `https://palisade.dev/problems/<slug>`.
    pub fn new(status: u16, slug: &str, title: impl Into<String>) -> Self {
        Self {
            type_uri: format!("https://palisade.dev/problems/{slug}"),
            title: title.into(),
            status,
            detail: None,
            extensions: Map::new(),
        }
    }

    /// Adds the human-readable detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an extension member.
    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extensions.insert(key.to_string(), value);
        self
    }

    /// The JSON body: what serde would write for this type (members, then the extensions in
    /// the map's order), written by [`crate::json_text`] (no float formatting code of
    /// serde_json's in a module whose problems hold no floats; issue 13).
    pub fn to_body(&self) -> Vec<u8> {
        use crate::json_text::{write_str, write_value};
        let mut out = String::with_capacity(128);
        out.push_str("{\"type\":");
        write_str(&mut out, &self.type_uri);
        out.push_str(",\"title\":");
        write_str(&mut out, &self.title);
        out.push_str(",\"status\":");
        crate::json_text::write_integer(&mut out, false, u64::from(self.status));
        if let Some(detail) = &self.detail {
            out.push_str(",\"detail\":");
            write_str(&mut out, detail);
        }
        for (name, value) in &self.extensions {
            if MEMBERS.contains(&name.as_str()) {
                continue;
            }
            out.push(',');
            write_str(&mut out, name);
            out.push(':');
            write_value(&mut out, value);
        }
        out.push('}');
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn problem_serialises_per_rfc_9457() {
        let p = Problem::new(429, "rate-limited", "Too Many Requests")
            .with_detail("limit `per-ip` reached")
            .with("retry_after", Value::from(3));
        let v: Value = serde_json::from_slice(&p.to_body()).unwrap();
        assert_eq!(v["type"], "https://palisade.dev/problems/rate-limited");
        assert_eq!(v["title"], "Too Many Requests");
        assert_eq!(v["status"], 429);
        assert_eq!(v["detail"], "limit `per-ip` reached");
        assert_eq!(v["retry_after"], 3);
    }

    #[test]
    #[wasm_bindgen_test]
    fn an_extension_never_repeats_a_member() {
        // Found by the `problem` fuzz target: `status` appeared twice in the body.
        let p = Problem::new(401, "x", "t")
            .with_detail("d")
            .with("status", Value::from("999"))
            .with("title", Value::from("other"))
            .with("detail", Value::Null)
            .with("type", Value::from("about:blank"))
            .with("kept", Value::from(1));
        let body = String::from_utf8(p.to_body()).unwrap();
        assert_eq!(
            body,
            r#"{"type":"https://palisade.dev/problems/x","title":"t","status":401,"detail":"d","kept":1}"#
        );
        let without_detail = Problem::new(400, "y", "t").with("detail", Value::from("sneaky"));
        let v: Value = serde_json::from_slice(&without_detail.to_body()).unwrap();
        assert!(v.get("detail").is_none());
    }

    #[test]
    #[wasm_bindgen_test]
    fn the_body_is_what_serde_json_writes() {
        let odd = "q\" b\\ \u{1} \n é 😀 </script>";
        let problems = [
            Problem::new(400, "bad", "Bad Request"),
            Problem::new(401, odd, odd).with_detail(odd),
            Problem::new(429, "rate-limited", "Too Many Requests")
                .with("retry_after", Value::from(3))
                .with("limit", Value::from(u64::MAX))
                .with("offset", Value::from(-7)),
            Problem::new(400, "schema", "Invalid")
                .with(
                    odd,
                    serde_json::json!({"instance": [0.1, 1e300, -2.5e-8, 3.0], "n": null}),
                )
                .with("status", Value::from(1))
                .with("a", Value::from(true)),
        ];
        for p in problems {
            let body = p.to_body();
            assert_eq!(
                String::from_utf8(body.clone()).unwrap(),
                serde_json::to_string(&p).unwrap()
            );
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["status"], p.status);
        }
    }

    #[test]
    #[wasm_bindgen_test]
    fn detail_is_omitted_when_absent() {
        let v: Value =
            serde_json::from_slice(&Problem::new(400, "bad", "Bad Request").to_body()).unwrap();
        assert!(v.get("detail").is_none());
    }
}
