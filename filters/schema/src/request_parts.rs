//! The raw places parameters come from: path captures, the query string, headers, cookies.
//! Values stay percent-encoded until a parameter's style has split them (an encoded `,` is data,
//! a literal `,` is a separator).

use crate::path_template::Captures;

/// A request's parameters, raw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParts {
    /// Path parameters: name and raw value.
    pub path: Captures,
    /// Query pairs in order: decoded name and raw value.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Cookies in order: name and raw value.
    pub cookies: Vec<(String, String)>,
}

impl RequestParts {
    /// Collects the parts of a request from its `:path` (with query), headers and path captures.
    pub fn new(path_with_query: &str, headers: &[(String, String)], path: Captures) -> Self {
        Self {
            path,
            query: parse_query(path_with_query),
            headers: headers
                .iter()
                .filter(|(n, _)| !n.starts_with(':'))
                .cloned()
                .collect(),
            cookies: parse_cookies(headers),
        }
    }

    /// Every raw value of a query parameter.
    pub fn query_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header's values joined as one list (`a, b`), or `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// `?a=1&b=x%20y&c` → `[("a","1"),("b","x%20y"),("c","")]`; names are decoded.
pub fn parse_query(path_with_query: &str) -> Vec<(String, String)> {
    let Some((_, query)) = path_with_query.split_once('?') else {
        return Vec::new();
    };
    parse_pairs(query.split('#').next().unwrap_or(query))
}

/// `a=1&b=x%20y&c` (a query string or a urlencoded form body) → `[("a","1"),("b","x%20y"),("c","")]`;
/// names are decoded.
pub fn parse_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name, true), value.to_string())
        })
        .collect()
}

/// `Cookie: a=1; b=2` (every `cookie` header) → `[("a","1"),("b","2")]`.
pub fn parse_cookies(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| {
            let (name, value) = c.split_once('=')?;
            let name = name.trim();
            (!name.is_empty())
                .then(|| (name.to_string(), value.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// Percent-decodes a value (`+` is a space in form-encoded query strings); invalid UTF-8 is
/// replaced, so validation sees (and reports) what arrived.
pub fn decode(raw: &str, plus_is_space: bool) -> String {
    let text = if plus_is_space && raw.contains('+') {
        std::borrow::Cow::Owned(raw.replace('+', " "))
    } else {
        std::borrow::Cow::Borrowed(raw)
    };
    percent_encoding::percent_decode_str(&text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_names_are_decoded_and_values_kept_raw() {
        assert_eq!(
            parse_query("/p?a=1&b=x%2Cy&filter%5Bstatus%5D=open&flag&&c=#frag"),
            pairs(&[
                ("a", "1"),
                ("b", "x%2Cy"),
                ("filter[status]", "open"),
                ("flag", ""),
                ("c", "")
            ])
        );
        assert!(parse_query("/p").is_empty());
        assert!(parse_query("/p?").is_empty());
    }

    #[test]
    fn decoding_handles_plus_percent_and_bad_utf8() {
        assert_eq!(decode("a+b%20c", true), "a b c");
        assert_eq!(decode("a+b", false), "a+b");
        assert_eq!(decode("%E2%82%AC", false), "€");
        assert_eq!(decode("%FF", false), "\u{FFFD}");
        assert_eq!(decode("100%", false), "100%");
    }

    #[test]
    fn cookies_come_from_every_cookie_header() {
        let headers = pairs(&[
            ("cookie", "session=abc; theme=\"dark\""),
            ("Cookie", "lang=en"),
            ("x", "a=b"),
        ]);
        assert_eq!(
            parse_cookies(&headers),
            pairs(&[("session", "abc"), ("theme", "dark"), ("lang", "en")])
        );
    }

    #[test]
    fn headers_join_repeated_values_and_skip_pseudo_headers() {
        let parts = RequestParts::new(
            "/x?a=1",
            &pairs(&[(":path", "/x?a=1"), ("x-tag", "a"), ("X-Tag", "b")]),
            Vec::new(),
        );
        assert_eq!(parts.header("x-tag").as_deref(), Some("a, b"));
        assert_eq!(parts.header(":path"), None);
        assert_eq!(parts.query_values("a").collect::<Vec<_>>(), vec!["1"]);
    }
}
