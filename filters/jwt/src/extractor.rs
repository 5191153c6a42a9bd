//! Where a provider's token is: headers (with a value prefix), query parameters, cookies.

use palisade_core::route::RequestInfo;

/// One place a token may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A header, lower-case name; the value after `prefix` (compared case-insensitively) is the token.
    Header {
        /// Header name.
        name: String,
        /// Value prefix, such as `Bearer `; empty: the whole value.
        prefix: String,
    },
    /// A query parameter.
    Param(String),
    /// A cookie.
    Cookie(String),
}

impl Location {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), the location when none is configured.
    pub fn bearer() -> Self {
        Location::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        }
    }
}

/// A token found in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The token text.
    pub token: String,
    /// Where it was (index into the provider's locations).
    pub location: usize,
}

/// Every token found in `locations`, in location order.
pub fn extract(locations: &[Location], req: &RequestInfo<'_>) -> Vec<Extracted> {
    let mut found = Vec::new();
    for (location, loc) in locations.iter().enumerate() {
        match loc {
            Location::Header { name, prefix } => {
                for (n, value) in req.headers {
                    if n.eq_ignore_ascii_case(name) {
                        if let Some(token) = after_prefix(value, prefix) {
                            found.push(Extracted { token, location });
                        }
                    }
                }
            }
            Location::Param(name) => {
                for (n, value) in query_pairs(&req.path) {
                    if n == name && !value.is_empty() {
                        found.push(Extracted {
                            token: value.to_string(),
                            location,
                        });
                    }
                }
            }
            Location::Cookie(name) => {
                for (n, value) in req.headers {
                    if n.eq_ignore_ascii_case("cookie") {
                        for (cookie, v) in cookie_pairs(value) {
                            if cookie == name && !v.is_empty() {
                                found.push(Extracted {
                                    token: v.to_string(),
                                    location,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    found
}

/// The token after a case-insensitive prefix, trimmed; `None` when the prefix is absent or nothing follows.
fn after_prefix(value: &str, prefix: &str) -> Option<String> {
    let head = value.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let token = value.get(prefix.len()..)?.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// `name=value` pairs of the query string (no percent-decoding: tokens are base64url and dots).
pub fn query_pairs(path: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = path
        .split_once('?')
        .map_or("", |(_, q)| q.split('#').next().unwrap_or(""));
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// `name=value` pairs of a `cookie` header (RFC 6265 §4.2.1).
pub fn cookie_pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (n, v) = c.split_once('=').unwrap_or((c, ""));
            (n.trim(), v.trim().trim_matches('"'))
        })
}

/// `:path` without the query parameters named `names`.
pub fn path_without_params(path: &str, names: &[&str]) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| !names.contains(&p.split_once('=').map_or(*p, |(n, _)| n)))
        .collect();
    let mut out = base.to_string();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// A `cookie` header without the cookies named `names` (`None` when nothing is left).
pub fn cookie_without(header: &str, names: &[&str]) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .filter(|c| !names.contains(&c.split_once('=').map_or(*c, |(n, _)| n.trim())))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect()
    }

    fn tokens(locations: &[Location], h: &[(String, String)]) -> Vec<(String, usize)> {
        extract(locations, &RequestInfo::from_headers(h))
            .into_iter()
            .map(|e| (e.token, e.location))
            .collect()
    }

    #[test]
    fn bearer_prefix_is_case_insensitive_and_required() {
        let locs = [Location::bearer()];
        let h = headers(&[(":path", "/"), ("authorization", "bearer  abc.def.ghi ")]);
        assert_eq!(tokens(&locs, &h), vec![("abc.def.ghi".into(), 0)]);
        let h = headers(&[(":path", "/"), ("authorization", "Basic dXNlcjpwYXNz")]);
        assert!(tokens(&locs, &h).is_empty());
        let h = headers(&[(":path", "/"), ("authorization", "Bearer ")]);
        assert!(tokens(&locs, &h).is_empty());
    }

    #[test]
    fn header_without_prefix_takes_the_whole_value() {
        let locs = [Location::Header {
            name: "x-jwt".into(),
            prefix: String::new(),
        }];
        let h = headers(&[(":path", "/"), ("x-jwt", "a.b.c")]);
        assert_eq!(tokens(&locs, &h), vec![("a.b.c".into(), 0)]);
    }

    #[test]
    fn params_and_cookies() {
        let locs = [
            Location::Param("access_token".into()),
            Location::Cookie("session".into()),
        ];
        let h = headers(&[
            (":path", "/x?a=1&access_token=p.q.r&b=2"),
            ("cookie", "theme=dark; session=c.d.e; other=1"),
        ]);
        assert_eq!(
            tokens(&locs, &h),
            vec![("p.q.r".into(), 0), ("c.d.e".into(), 1)]
        );
        let h = headers(&[(":path", "/x?access_token_x=1&xaccess_token=2")]);
        assert!(tokens(&locs, &h).is_empty());
    }

    #[test]
    fn several_values_give_several_tokens_in_order() {
        let locs = [Location::bearer(), Location::Param("t".into())];
        let h = headers(&[
            (":path", "/?t=3"),
            ("authorization", "Bearer 1"),
            ("authorization", "Bearer 2"),
        ]);
        assert_eq!(
            tokens(&locs, &h),
            vec![("1".into(), 0), ("2".into(), 0), ("3".into(), 1)]
        );
    }

    #[test]
    fn stripping_params_and_cookies() {
        assert_eq!(
            path_without_params("/a?x=1&token=t&y=2#f", &["token"]),
            "/a?x=1&y=2#f"
        );
        assert_eq!(path_without_params("/a?token=t", &["token"]), "/a");
        assert_eq!(path_without_params("/a", &["token"]), "/a");
        assert_eq!(
            cookie_without("a=1; session=t; b=2", &["session"]).as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(cookie_without("session=t", &["session"]), None);
    }
}
