//! The built-in header sets: what each preset adds, and which response headers leak details.
//!
//! Names keep the spelling of their source (the OWASP tables are compared with the OWASP files
//! verbatim by a unit test); the compiled policy lower-cases them.

use crate::cookies::{CookieRule, SameSite};
use serde::Deserialize;

/// A named set of security response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The OWASP Secure Headers Project recommendations, verbatim.
    Owasp,
    /// For JSON APIs: caching off, sniffing off, framing off, no CSP.
    StrictApi,
    /// Helmet's defaults, for HTML applications.
    Browser,
    /// No headers: only what the config adds.
    None,
}

impl Preset {
    /// The headers this preset adds, as `(name, value)`.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Preset::Owasp => OWASP_ADD,
            Preset::StrictApi => STRICT_API_ADD,
            Preset::Browser => BROWSER_ADD,
            Preset::None => &[],
        }
    }

    /// What this preset adds to the upstream's `Set-Cookie` headers.
    pub fn cookies(self) -> CookieRule {
        match self {
            // OWASP ASVS (session cookies): Secure, HttpOnly, SameSite.
            Preset::Owasp => CookieRule {
                secure: true,
                http_only: true,
                same_site: SameSite::Lax,
            },
            // An API's cookies are for the API only: no script, no cross-site use.
            Preset::StrictApi => CookieRule {
                secure: true,
                http_only: true,
                same_site: SameSite::Strict,
            },
            // Drop-in for HTML apps whose scripts may read cookies: Secure only, as Helmet does nothing.
            Preset::Browser => CookieRule {
                secure: true,
                http_only: false,
                same_site: SameSite::Off,
            },
            Preset::None => CookieRule::OFF,
        }
    }
}

/// OWASP Secure Headers Project, `ci/headers_add.json` (a4a09007).
// Clear-Site-Data here wipes cookies and storage on every response: the OWASP project means it for
// logout pages. It is kept because the preset is defined as OWASP's list; disable it by name.
pub const OWASP_ADD: &[(&str, &str)] = &[
    ("Cache-Control", "no-store, max-age=0"),
    ("Clear-Site-Data", "\"cache\",\"cookies\",\"storage\""),
    (
        "Content-Security-Policy",
        "default-src 'self'; form-action 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'; upgrade-insecure-requests",
    ),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    (
        "Permissions-Policy",
        "accelerometer=(), autoplay=(), camera=(), cross-origin-isolated=(), display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(self), usb=(), web-share=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(), gamepad=(), hid=(), idle-detection=(), interest-cohort=(), serial=(), unload=()",
    ),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-DNS-Prefetch-Control", "off"),
    ("X-Frame-Options", "deny"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
];

/// For JSON APIs (OWASP REST Security Cheat Sheet): nothing a browser only needs for documents.
pub const STRICT_API_ADD: &[(&str, &str)] = &[
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    (
        "Strict-Transport-Security",
        "max-age=63072000; includeSubDomains",
    ),
];

/// Helmet 8's defaults (helmetjs/helmet), for HTML applications.
pub const BROWSER_ADD: &[(&str, &str)] = &[
    (
        "Content-Security-Policy",
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    ),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Origin-Agent-Cluster", "?1"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-DNS-Prefetch-Control", "off"),
    ("X-Download-Options", "noopen"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("X-XSS-Protection", "0"),
];

/// Headers that only mean something on a document a browser renders; on other responses
/// (JSON, images) they are noise. Lower-case.
pub const DOCUMENT_ONLY: &[&str] = &[
    "content-security-policy",
    "content-security-policy-report-only",
    "cross-origin-embedder-policy",
    "cross-origin-opener-policy",
    "document-policy",
    "origin-agent-cluster",
    "permissions-policy",
    "x-dns-prefetch-control",
    "x-xss-protection",
];

/// Browsers ignore HSTS over plain HTTP, and a proxy must not send it there (RFC 6797 §7.2).
pub const HSTS: &str = "strict-transport-security";

/// Content Security Policy, and its report-only twin.
pub const CSP: &str = "content-security-policy";
/// See [`CSP`].
pub const CSP_REPORT_ONLY: &str = "content-security-policy-report-only";

/// OWASP Secure Headers Project, `ci/headers_remove.json` (a4a09007): response headers that
/// reveal the software behind the proxy.
pub const OWASP_REMOVE: &[&str] = &[
    "$wsep",
    "Host-Header",
    "K-Proxy-Request",
    "Liferay-Portal",
    "OracleCommerceCloud-Version",
    "Pega-Host",
    "Powered-By",
    "Product",
    "Server",
    "SourceMap",
    "X-AspNet-Version",
    "X-AspNetMvc-Version",
    "X-Atmosphere-error",
    "X-Atmosphere-first-request",
    "X-Atmosphere-tracking-id",
    "X-B3-ParentSpanId",
    "X-B3-Sampled",
    "X-B3-SpanId",
    "X-B3-TraceId",
    "X-BEServer",
    "X-Backside-Transport",
    "X-CF-Powered-By",
    "X-CMS",
    "X-CalculatedBETarget",
    "X-Cocoon-Version",
    "X-Content-Encoded-By",
    "X-Datadog-Origin",
    "X-Datadog-Parent-Id",
    "X-Datadog-Sampling-Priority",
    "X-Datadog-Tags",
    "X-Datadog-Trace-Id",
    "X-DiagInfo",
    "X-Envoy-Attempt-Count",
    "X-Envoy-External-Address",
    "X-Envoy-Internal",
    "X-Envoy-Original-Dst-Host",
    "X-Envoy-Upstream-Service-Time",
    "X-FEServer",
    "X-Framework",
    "X-Generated-By",
    "X-Generator",
    "X-Gitlab-Meta",
    "X-Jitsi-Release",
    "X-Joomla-Version",
    "X-Kong-Admin-Latency",
    "X-Kong-Client-Latency",
    "X-Kong-Proxy-Latency",
    "X-Kong-Request-Id",
    "X-Kong-Response-Latency",
    "X-Kong-Third-Party-Latency",
    "X-Kong-Total-Latency",
    "X-Kong-Upstream-Latency",
    "X-Kong-Upstream-Status",
    "X-Kubernetes-PF-FlowSchema-UI",
    "X-Kubernetes-PF-PriorityLevel-UID",
    "X-LiteSpeed-Cache",
    "X-LiteSpeed-Purge",
    "X-LiteSpeed-Tag",
    "X-LiteSpeed-Vary",
    "X-Litespeed-Cache-Control",
    "X-Mod-Pagespeed",
    "X-Nextjs-Cache",
    "X-Nextjs-Matched-Path",
    "X-Nextjs-Page",
    "X-Nextjs-Redirect",
    "X-OWA-Version",
    "X-Old-Content-Length",
    "X-OneAgent-JS-Injection",
    "X-Page-Speed",
    "X-Php-Version",
    "X-Powered-By",
    "X-Powered-By-Plesk",
    "X-Powered-CMS",
    "X-Redirect-By",
    "X-Server-Powered-By",
    "X-SourceFiles",
    "X-SourceMap",
    "X-Turbo-Charged-By",
    "X-Tyk-Trace-Id",
    "X-Umbraco-Version",
    "X-Varnish-Backend",
    "X-Varnish-Server",
    "X-Woodpecker-Version",
    "X-dtAgentId",
    "X-dtHealthCheck",
    "X-dtInjectedServlet",
    "X-ruxit-JS-Agent",
];

/// Request headers a client must never set: Envoy's internal headers, and the claim headers the
/// jwt filter sets after validating a token (a client-sent one would pass as a verified claim).
pub const DEFAULT_STRIP: &[&str] = &["x-envoy-*", "x-jwt-*"];

/// Request headers stripped with `strip_forwarded`: what proxies in front would have said.
pub const FORWARDED: &[&str] = &["forwarded", "x-forwarded-*"];

/// Methods allowed unless configured: `TRACE` (cross-site tracing) and `CONNECT` are not.
pub const DEFAULT_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Media types whose responses get the document-only headers, unless configured.
pub const DEFAULT_DOCUMENT_TYPES: &[&str] = &["text/html", "application/xhtml+xml"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The conformance folder, or `None` (with a loud note) when it is absent outside CI.
    fn conformance_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("PALISADE_CONFORMANCE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
            });
        if dir.join("headers").is_dir() {
            return Some(dir);
        }
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "conformance data missing at {} (CI=true)",
            dir.display()
        );
        eprintln!(
            "SKIPPED: OWASP conformance data not found at {}; set PALISADE_CONFORMANCE_DIR",
            dir.display()
        );
        None
    }

    fn read_json(path: PathBuf) -> serde_json::Value {
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn owasp_preset_is_the_owasp_add_list_verbatim() {
        let Some(dir) = conformance_dir() else { return };
        let file = read_json(dir.join("headers/owasp_headers_add.json"));
        let expected: Vec<(String, String)> = file["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["name"].as_str().unwrap().to_string(),
                    h["value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let ours: Vec<(String, String)> = OWASP_ADD
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect();
        assert_eq!(ours, expected);
        assert_eq!(Preset::Owasp.headers().len(), 13);
    }

    #[test]
    fn owasp_remove_list_is_the_owasp_file_verbatim() {
        let Some(dir) = conformance_dir() else { return };
        let file = read_json(dir.join("headers/owasp_headers_remove.json"));
        let expected: Vec<&str> = file["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert_eq!(OWASP_REMOVE, expected.as_slice());
    }

    #[test]
    fn every_built_in_name_and_value_is_valid_http() {
        use palisade_core::headers::{is_valid_name, is_valid_value};
        for preset in [Preset::Owasp, Preset::StrictApi, Preset::Browser] {
            for (n, v) in preset.headers() {
                assert!(is_valid_name(n) && is_valid_value(v), "{preset:?} {n}");
            }
        }
        for n in OWASP_REMOVE.iter().chain(DOCUMENT_ONLY) {
            assert!(is_valid_name(n), "{n}");
        }
    }

    #[test]
    fn api_preset_has_no_document_headers_and_no_caching() {
        let api = Preset::StrictApi.headers();
        assert!(api
            .iter()
            .all(|(n, _)| !DOCUMENT_ONLY.contains(&n.to_ascii_lowercase().as_str())));
        assert!(api.contains(&("Cache-Control", "no-store")));
        assert!(Preset::None.headers().is_empty());
    }
}
