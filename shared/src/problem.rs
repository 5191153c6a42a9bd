//! RFC 9457 problem details: the body of every answer a filter gives instead of the upstream.

use serde::Serialize;
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
    /// Extension members (`violations`, `retry_after`, ...).
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
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

    /// The JSON body.
    pub fn to_body(&self) -> Vec<u8> {
        // Serialising plain strings, numbers and JSON values cannot fail; fall back to a fixed body anyway.
        serde_json::to_vec(self).unwrap_or_else(|_| {
            format!(r#"{{"title":"error","status":{}}}"#, self.status).into_bytes()
        })
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
    fn detail_is_omitted_when_absent() {
        let v: Value =
            serde_json::from_slice(&Problem::new(400, "bad", "Bad Request").to_body()).unwrap();
        assert!(v.get("detail").is_none());
    }
}
