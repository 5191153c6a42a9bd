//! Set-Cookie hardening: `Secure` (over HTTPS), `HttpOnly` and `SameSite` added per policy, with
//! per-cookie exceptions. Attributes are only ever added, never removed, lowered or duplicated.

use serde::Deserialize;

/// A `SameSite` value, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Also sent on top-level cross-site navigations (GET).
    Lax,
    /// Sent on every request; browsers require `Secure` with it.
    None,
    /// Add no `SameSite` (browsers then apply their own default).
    Off,
}

impl SameSite {
    /// The attribute value to add, if any.
    fn attribute(self) -> Option<&'static str> {
        match self {
            SameSite::Strict => Some("Strict"),
            SameSite::Lax => Some("Lax"),
            SameSite::None => Some("None"),
            SameSite::Off => None,
        }
    }
}

/// What is added to one cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieRule {
    /// Add `Secure` to cookies set over HTTPS.
    pub secure: bool,
    /// Add `HttpOnly` (scripts cannot read the cookie).
    pub http_only: bool,
    /// `SameSite` for cookies that have none.
    pub same_site: SameSite,
}

impl CookieRule {
    /// Adds nothing.
    pub const OFF: CookieRule = CookieRule {
        secure: false,
        http_only: false,
        same_site: SameSite::Off,
    };
}

/// The compiled cookie policy: a rule for every cookie, and exceptions by exact cookie name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    /// For cookies without an exception.
    pub default: CookieRule,
    /// `(cookie name, rule)`; names are case-sensitive, like cookies.
    pub exceptions: Vec<(String, CookieRule)>,
}

impl Default for CookiePolicy {
    fn default() -> Self {
        Self {
            default: CookieRule::OFF,
            exceptions: Vec::new(),
        }
    }
}

impl CookiePolicy {
    /// The rule for a cookie name.
    pub fn rule_for(&self, name: &str) -> CookieRule {
        self.exceptions
            .iter()
            .find(|(n, _)| n == name)
            .map_or(self.default, |(_, r)| *r)
    }

    /// Whether this policy can change any cookie.
    pub fn is_off(&self) -> bool {
        self.default == CookieRule::OFF
            && self.exceptions.iter().all(|(_, r)| *r == CookieRule::OFF)
    }
}

/// Whether a cookie name carries a prefix that requires `Secure` (`__Secure-`, `__Host-`;
/// browsers match them case-insensitively).
pub fn has_secure_prefix(name: &str) -> bool {
    let starts = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    starts("__Secure-") || starts("__Host-")
}

/// The attributes a `Set-Cookie` value already has.
#[derive(Debug, Default)]
struct Attributes<'a> {
    secure: bool,
    http_only: bool,
    /// Every `SameSite` value given (a browser uses the last).
    same_site: Vec<&'a str>,
}

fn attributes(rest: &str) -> Attributes<'_> {
    let mut found = Attributes::default();
    for attribute in rest.split(';') {
        let (name, value) = attribute.split_once('=').unwrap_or((attribute, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("secure") {
            found.secure = true;
        } else if name.eq_ignore_ascii_case("httponly") {
            found.http_only = true;
        } else if name.eq_ignore_ascii_case("samesite") {
            found.same_site.push(value.trim());
        }
    }
    found
}

/// The hardened `Set-Cookie` value, or `None` when nothing is added. `https`: the request
/// arrived over HTTPS (browsers refuse a `Secure` cookie set over plain HTTP).
pub fn harden(set_cookie: &str, policy: &CookiePolicy, https: bool) -> Option<String> {
    let (pair, rest) = set_cookie.split_once(';').unwrap_or((set_cookie, ""));
    // A pair without `=` is a cookie with an empty name (RFC 6265 §5.2).
    let name = pair.split_once('=').map_or("", |(n, _)| n.trim());
    let rule = policy.rule_for(name);
    if rule == CookieRule::OFF {
        return None;
    }
    let has = attributes(rest);
    let mut added: Vec<&str> = Vec::new();

    // The upstream's SameSite stays as it is (even one we do not know): it is never lowered,
    // raised or given twice.
    let same_site = match has.same_site.last() {
        Some(given) => {
            if given.eq_ignore_ascii_case("none") {
                Some(SameSite::None)
            } else {
                None
            }
        }
        None => {
            // SameSite=None without Secure is refused by browsers: over plain HTTP, add none.
            let addable = rule.same_site != SameSite::None || https || has.secure;
            match rule.same_site.attribute() {
                Some(value) if addable => {
                    added.push(value);
                    Some(rule.same_site)
                }
                _ => None,
            }
        }
    };
    let needs_secure = rule.secure || has_secure_prefix(name) || same_site == Some(SameSite::None);
    let mut suffix = String::new();
    if https && needs_secure && !has.secure {
        suffix.push_str("; Secure");
    }
    if rule.http_only && !has.http_only {
        suffix.push_str("; HttpOnly");
    }
    for value in added {
        suffix.push_str("; SameSite=");
        suffix.push_str(value);
    }
    if suffix.is_empty() {
        return None;
    }
    let kept = set_cookie.trim_end().trim_end_matches(';').trim_end();
    Some(format!("{kept}{suffix}"))
}

/// A response's `Set-Cookie` values after hardening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardenedCookies {
    /// Every value, in the upstream's order.
    pub values: Vec<String>,
    /// How many of them changed.
    pub changed: usize,
}

/// Every `Set-Cookie` value of a response, hardened; `None` when none changes.
pub fn harden_all(values: &[&str], policy: &CookiePolicy, https: bool) -> Option<HardenedCookies> {
    if policy.is_off() {
        return None;
    }
    let mut changed = 0;
    let values = values
        .iter()
        .map(|v| match harden(v, policy, https) {
            Some(h) => {
                changed += 1;
                h
            }
            None => (*v).to_string(),
        })
        .collect();
    (changed > 0).then_some(HardenedCookies { values, changed })
}

#[cfg(test)]
#[path = "cookies_tests.rs"]
mod tests;
