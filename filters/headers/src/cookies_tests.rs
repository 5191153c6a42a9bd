//! Set-Cookie hardening: what is added, when, and that nothing is ever duplicated or weakened.

use super::*;

const OWASP: CookieRule = CookieRule {
    secure: true,
    http_only: true,
    same_site: SameSite::Lax,
};

fn policy(default: CookieRule) -> CookiePolicy {
    CookiePolicy {
        default,
        exceptions: Vec::new(),
    }
}

fn owasp() -> CookiePolicy {
    policy(OWASP)
}

#[test]
fn a_plain_session_cookie_gets_secure_httponly_and_samesite_over_https() {
    assert_eq!(
        harden("session=abc; Path=/", &owasp(), true).as_deref(),
        Some("session=abc; Path=/; Secure; HttpOnly; SameSite=Lax")
    );
}

#[test]
fn over_plain_http_secure_is_not_added() {
    // Browsers drop a Secure cookie set over HTTP: adding it would lose the cookie.
    assert_eq!(
        harden("session=abc; Path=/", &owasp(), false).as_deref(),
        Some("session=abc; Path=/; HttpOnly; SameSite=Lax")
    );
}

#[test]
fn attributes_already_there_are_not_added_again_whatever_their_case() {
    let full = "id=1; secure; HTTPONLY; samesite=lax";
    assert_eq!(harden(full, &owasp(), true), None);
    assert_eq!(
        harden("id=1; Secure", &owasp(), true).as_deref(),
        Some("id=1; Secure; HttpOnly; SameSite=Lax")
    );
    assert_eq!(
        harden("id=1;HttpOnly", &owasp(), true).as_deref(),
        Some("id=1;HttpOnly; Secure; SameSite=Lax")
    );
}

#[test]
fn the_upstreams_samesite_is_never_lowered_or_changed() {
    let strict_policy = policy(CookieRule {
        same_site: SameSite::Strict,
        ..OWASP
    });
    // Strict stays Strict under a Lax policy.
    assert_eq!(
        harden("id=1; SameSite=Strict", &owasp(), true).as_deref(),
        Some("id=1; SameSite=Strict; Secure; HttpOnly")
    );
    // Lax stays Lax under a Strict policy (the app asked for it).
    assert_eq!(
        harden("id=1; SameSite=Lax", &strict_policy, true).as_deref(),
        Some("id=1; SameSite=Lax; Secure; HttpOnly")
    );
    // A value we do not know is left alone rather than doubled.
    assert_eq!(
        harden("id=1; SameSite=Bogus; Secure; HttpOnly", &owasp(), true),
        None
    );
}

#[test]
fn samesite_none_requires_secure() {
    // The upstream's None gets Secure over HTTPS, even when the policy does not add Secure.
    let no_secure = policy(CookieRule {
        secure: false,
        http_only: true,
        same_site: SameSite::Off,
    });
    assert_eq!(
        harden("embed=1; SameSite=None", &no_secure, true).as_deref(),
        Some("embed=1; SameSite=None; Secure; HttpOnly")
    );
    assert_eq!(
        harden("embed=1; SameSite=None", &no_secure, false).as_deref(),
        Some("embed=1; SameSite=None; HttpOnly")
    );
    // A policy of None is only added where Secure can be.
    let none_policy = policy(CookieRule {
        secure: true,
        http_only: false,
        same_site: SameSite::None,
    });
    assert_eq!(
        harden("embed=1", &none_policy, true).as_deref(),
        Some("embed=1; Secure; SameSite=None")
    );
    assert_eq!(harden("embed=1", &none_policy, false), None);
    assert_eq!(
        harden("embed=1; Secure", &none_policy, false).as_deref(),
        Some("embed=1; Secure; SameSite=None")
    );
}

#[test]
fn prefixed_cookies_always_get_secure_over_https_and_nothing_else_changes() {
    let lax_only = policy(CookieRule {
        secure: false,
        http_only: false,
        same_site: SameSite::Lax,
    });
    assert_eq!(
        harden("__Host-id=1; Path=/", &lax_only, true).as_deref(),
        Some("__Host-id=1; Path=/; Secure; SameSite=Lax")
    );
    assert_eq!(
        harden("__secure-id=1", &lax_only, true).as_deref(),
        Some("__secure-id=1; Secure; SameSite=Lax")
    );
    // Path and Domain are never added or touched (__Host- needs Path=/ and no Domain).
    let out = harden("__Host-id=1; Path=/", &owasp(), true).unwrap();
    assert!(!out.to_ascii_lowercase().contains("domain"), "{out}");
    assert_eq!(out.matches("Path=/").count(), 1, "{out}");
}

#[test]
fn exceptions_apply_by_exact_cookie_name() {
    let mut p = owasp();
    p.exceptions.push((
        "XSRF-TOKEN".into(),
        CookieRule {
            http_only: false,
            ..OWASP
        },
    ));
    // The CSRF cookie stays readable by the page's script; everything else is hardened.
    assert_eq!(
        harden("XSRF-TOKEN=t; Path=/", &p, true).as_deref(),
        Some("XSRF-TOKEN=t; Path=/; Secure; SameSite=Lax")
    );
    assert_eq!(
        harden("xsrf-token=t", &p, true).as_deref(),
        Some("xsrf-token=t; Secure; HttpOnly; SameSite=Lax"),
        "cookie names are case-sensitive"
    );
    p.exceptions.push(("legacy".into(), CookieRule::OFF));
    assert_eq!(harden("legacy=1", &p, true), None);
}

#[test]
fn values_with_equals_signs_quotes_and_trailing_semicolons_are_kept() {
    assert_eq!(
        harden("t=a=b==; Path=/;", &owasp(), true).as_deref(),
        Some("t=a=b==; Path=/; Secure; HttpOnly; SameSite=Lax")
    );
    assert_eq!(
        harden("q=\"x;y\"", &owasp(), false).as_deref(),
        Some("q=\"x;y\"; HttpOnly; SameSite=Lax")
    );
    // A cookie with no name (no `=`) is still a cookie.
    assert_eq!(
        harden("justavalue", &owasp(), true).as_deref(),
        Some("justavalue; Secure; HttpOnly; SameSite=Lax")
    );
    // An attribute value that merely mentions `secure` is not the Secure attribute.
    assert_eq!(
        harden("id=1; Path=/secure", &owasp(), true).as_deref(),
        Some("id=1; Path=/secure; Secure; HttpOnly; SameSite=Lax")
    );
}

#[test]
fn hardening_twice_changes_nothing_more() {
    for https in [true, false] {
        let once = harden("s=1; Path=/", &owasp(), https).unwrap();
        assert_eq!(harden(&once, &owasp(), https), None, "{once}");
    }
}

#[test]
fn a_response_keeps_its_cookies_in_order_and_is_untouched_when_nothing_changes() {
    let values = ["a=1; Secure; HttpOnly; SameSite=Strict", "b=2"];
    assert_eq!(
        harden_all(&values, &owasp(), true),
        Some(HardenedCookies {
            values: vec![
                "a=1; Secure; HttpOnly; SameSite=Strict".to_string(),
                "b=2; Secure; HttpOnly; SameSite=Lax".to_string(),
            ],
            changed: 1
        })
    );
    assert_eq!(harden_all(&values[..1], &owasp(), true), None);
    assert_eq!(harden_all(&values, &CookiePolicy::default(), true), None);
    assert!(CookiePolicy::default().is_off());
    assert!(!owasp().is_off());
}

#[test]
fn prefixes_are_recognised_case_insensitively_and_only_at_the_start() {
    assert!(has_secure_prefix("__Host-x"));
    assert!(has_secure_prefix("__HOST-x"));
    assert!(has_secure_prefix("__Secure-x"));
    assert!(!has_secure_prefix("x__Host-"));
    assert!(!has_secure_prefix("__Hos"));
    assert!(!has_secure_prefix(""));
}
