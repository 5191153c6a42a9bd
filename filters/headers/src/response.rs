//! Response side: which leaking headers to remove and which security headers to set.

use crate::cookies::{harden_all, HardenedCookies};
use crate::policy::{HeaderRule, ResponsePolicy};

/// The response header whose values are hardened one by one.
pub const SET_COOKIE: &str = "set-cookie";

/// The changes to make to one response's headers: removals first, then the headers to set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseEdits<'p> {
    /// Names to remove (every value), each once.
    pub remove: Vec<String>,
    /// Headers to set, replacing any value.
    pub set: Vec<&'p HeaderRule>,
    /// Every `Set-Cookie` value, in order, when hardening changed one (replaces them all).
    pub cookies: Option<HardenedCookies>,
}

/// Plans the edits for a response with `headers`, to a request that did (or did not) arrive
/// over HTTPS.
pub fn plan_response<'p>(
    policy: &'p ResponsePolicy,
    https: bool,
    headers: &[(String, String)],
) -> ResponseEdits<'p> {
    let mut remove: Vec<String> = Vec::new();
    for (name, _) in headers {
        if policy.remove.selects(name) && !remove.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            remove.push(name.to_ascii_lowercase());
        }
    }
    let content_type = header(headers, "content-type");
    let document = is_document(content_type, &policy.document_types);
    let set = policy
        .add
        .iter()
        .filter(|rule| https || !rule.https_only)
        .filter(|rule| document || !rule.documents_only)
        .filter(|rule| {
            // What the upstream set stays, unless told to overwrite (or it was just removed).
            rule.overwrite || header(headers, &rule.name).is_none() || remove.contains(&rule.name)
        })
        .collect();
    let cookies = if remove.iter().any(|r| r == SET_COOKIE) {
        None
    } else {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(SET_COOKIE))
            .map(|(_, v)| v.as_str())
            .collect();
        harden_all(&values, &policy.cookies, https)
    };
    ResponseEdits {
        remove,
        set,
        cookies,
    }
}

/// Whether a response is a document a browser renders. A response without `content-type`
/// counts as one: browsers sniff it, so it gets the document headers to be safe.
pub fn is_document(content_type: Option<&str>, document_types: &[String]) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    document_types
        .iter()
        .any(|t| t.eq_ignore_ascii_case(media_type))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
