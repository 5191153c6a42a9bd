//! What answers say about limits: the IETF `RateLimit-Policy` and `RateLimit` fields
//! (draft-ietf-httpapi-ratelimit-headers-11), the legacy `X-RateLimit-*` trio, `Retry-After`,
//! and the 429 problem.

use palisade_core::headers::quote;
use palisade_core::{Denial, Problem};

/// One policy's view after a request: the numbers the fields carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    /// Policy name.
    pub name: String,
    /// Quota (`q`): requests per window.
    pub quota: u64,
    /// Window (`w`) in seconds.
    pub window: u64,
    /// Remaining (`r`).
    pub remaining: u64,
    /// Seconds until the quota is restored (`t`).
    pub reset: u64,
}

/// Which fields to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet {
    /// `RateLimit-Policy` and `RateLimit`.
    pub ietf: bool,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (of the policy with the least remaining).
    pub legacy: bool,
}

/// The rate-limit fields for some policies.
pub fn rate_limit_fields(views: &[PolicyView], set: FieldSet) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    if views.is_empty() {
        return fields;
    }
    if set.ietf {
        let policy: Vec<String> = views
            .iter()
            .map(|v| format!("{};q={};w={}", quote(&v.name), v.quota, v.window))
            .collect();
        let state: Vec<String> = views
            .iter()
            .map(|v| format!("{};r={};t={}", quote(&v.name), v.remaining, v.reset))
            .collect();
        fields.push(("ratelimit-policy".to_string(), policy.join(", ")));
        fields.push(("ratelimit".to_string(), state.join(", ")));
    }
    if set.legacy {
        if let Some(tightest) = views.iter().min_by_key(|v| v.remaining) {
            fields.push(("x-ratelimit-limit".to_string(), tightest.quota.to_string()));
            fields.push((
                "x-ratelimit-remaining".to_string(),
                tightest.remaining.to_string(),
            ));
            fields.push(("x-ratelimit-reset".to_string(), tightest.reset.to_string()));
        }
    }
    fields
}

/// The 429 answer: `Retry-After`, the given fields, and a problem naming the rule.
pub fn too_many_requests(rule: &str, retry_after: u64, fields: Vec<(String, String)>) -> Denial {
    let retry_after = retry_after.max(1);
    let problem = Problem::new(429, "rate-limited", "Too Many Requests")
        .with_detail(format!(
            "rate limit `{rule}` exceeded; retry in {retry_after} s"
        ))
        .with("retry_after", retry_after.into());
    let mut denial = Denial::new(problem).with_header("retry-after", retry_after.to_string());
    denial.headers.extend(fields);
    denial
}

/// The 429 answer when the rate-limit service failed and the rule fails closed.
pub fn service_unavailable(rule: &str) -> Denial {
    let problem = Problem::new(429, "rate-limit-unavailable", "Too Many Requests")
        .with_detail(format!(
            "rate limit `{rule}` could not be checked; retry later"
        ))
        .with("retry_after", 1.into());
    Denial::new(problem).with_header("retry-after", "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, quota: u64, window: u64, remaining: u64, reset: u64) -> PolicyView {
        PolicyView {
            name: name.into(),
            quota,
            window,
            remaining,
            reset,
        }
    }

    #[test]
    fn ietf_fields_follow_draft_11() {
        let views = [
            view("per-ip", 100, 60, 42, 17),
            view("daily", 1000, 86400, 900, 8640),
        ];
        let set = FieldSet {
            ietf: true,
            legacy: false,
        };
        assert_eq!(
            rate_limit_fields(&views, set),
            vec![
                (
                    "ratelimit-policy".to_string(),
                    r#""per-ip";q=100;w=60, "daily";q=1000;w=86400"#.to_string()
                ),
                (
                    "ratelimit".to_string(),
                    r#""per-ip";r=42;t=17, "daily";r=900;t=8640"#.to_string()
                ),
            ]
        );
    }

    #[test]
    fn legacy_fields_show_the_tightest_policy() {
        let views = [view("a", 100, 60, 42, 17), view("b", 10, 1, 3, 1)];
        let set = FieldSet {
            ietf: false,
            legacy: true,
        };
        let fields = rate_limit_fields(&views, set);
        assert_eq!(
            fields,
            vec![
                ("x-ratelimit-limit".to_string(), "10".to_string()),
                ("x-ratelimit-remaining".to_string(), "3".to_string()),
                ("x-ratelimit-reset".to_string(), "1".to_string()),
            ]
        );
        assert!(rate_limit_fields(&[], set).is_empty());
    }

    #[test]
    fn the_429_carries_retry_after_fields_and_a_problem() {
        let d = too_many_requests("per-ip", 0, vec![("ratelimit".into(), "x".into())]);
        assert_eq!(d.status, 429);
        let headers = d.response_headers();
        assert!(headers.contains(&("content-type", "application/problem+json")));
        assert!(
            headers.contains(&("retry-after", "1")),
            "at least one second"
        );
        assert!(headers.contains(&("ratelimit", "x")));
        let body: serde_json::Value = serde_json::from_slice(&d.problem.to_body()).unwrap();
        assert_eq!(body["type"], "https://palisade.dev/problems/rate-limited");
        assert_eq!(body["retry_after"], 1);
        assert_eq!(service_unavailable("r").status, 429);
    }
}
