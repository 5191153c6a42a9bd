//! Media types: the request's `Content-Type` against the ranges an operation accepts
//! (`application/json`, `application/*`, `*/*`), parameters such as `charset` handled.

/// A parsed `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower-case.
    pub essence: String,
    /// The `charset` parameter, lower-case.
    pub charset: Option<String>,
}

impl MediaType {
    /// Parses a `Content-Type` value; `None` when it is not `type/subtype[; params]`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        let (kind, sub) = essence.split_once('/')?;
        if !is_token(kind) || !is_token(sub) {
            return None;
        }
        let charset = parts.find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
        });
        Some(Self { essence, charset })
    }

    /// Whether the body is JSON (`application/json`, `application/problem+json`, ...).
    pub fn is_json(&self) -> bool {
        is_json_essence(&self.essence)
    }

    /// JSON is UTF-8 (RFC 8259); a body declared in another charset cannot be validated as sent.
    pub fn charset_is_acceptable(&self) -> bool {
        !self.is_json()
            || self
                .charset
                .as_deref()
                .is_none_or(|c| c == "utf-8" || c == "utf8")
    }
}

/// Whether `type/subtype` is a JSON media type.
pub fn is_json_essence(essence: &str) -> bool {
    essence
        .split_once('/')
        .is_some_and(|(_, sub)| sub == "json" || sub.ends_with("+json"))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A media range an operation accepts: `application/json`, `application/*` or `*/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    kind: String,
    subtype: String,
}

impl MediaRange {
    /// Parses a range (parameters are ignored).
    pub fn parse(range: &str) -> Result<Self, String> {
        let essence = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let (kind, subtype) = essence
            .split_once('/')
            .filter(|(k, s)| is_token(k) && is_token(s) && (*k != "*" || *s == "*"))
            .ok_or_else(|| format!("`{range}` is not a media range"))?;
        Ok(Self {
            kind: kind.to_string(),
            subtype: subtype.to_string(),
        })
    }

    /// The range as written, lower-case, without parameters.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.kind, self.subtype)
    }

    /// Whether a media type falls in the range.
    pub fn matches(&self, media: &MediaType) -> bool {
        let Some((kind, sub)) = media.essence.split_once('/') else {
            return false;
        };
        (self.kind == "*" || self.kind == kind) && (self.subtype == "*" || self.subtype == sub)
    }

    /// Exact types beat `type/*`, which beats `*/*`.
    fn specificity(&self) -> u8 {
        u8::from(self.kind != "*") + u8::from(self.subtype != "*")
    }
}

/// The most specific range that matches `media`, with its value.
pub fn best_match<'a, T>(ranges: &'a [(MediaRange, T)], media: &MediaType) -> Option<&'a T> {
    ranges
        .iter()
        .filter(|(r, _)| r.matches(media))
        .max_by_key(|(r, _)| r.specificity())
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_parse_with_parameters() {
        let m = MediaType::parse("Application/JSON; charset=UTF-8").unwrap();
        assert_eq!(m.essence, "application/json");
        assert_eq!(m.charset.as_deref(), Some("utf-8"));
        assert!(m.is_json() && m.charset_is_acceptable());
        let m = MediaType::parse(r#"application/json;charset="utf-8""#).unwrap();
        assert!(m.charset_is_acceptable());
        let m = MediaType::parse("application/json; charset=iso-8859-1").unwrap();
        assert!(!m.charset_is_acceptable(), "JSON must be UTF-8");
        let m = MediaType::parse("text/plain; charset=iso-8859-1").unwrap();
        assert!(m.charset_is_acceptable(), "only JSON is held to UTF-8");
        assert!(MediaType::parse("application/vnd.api+json")
            .unwrap()
            .is_json());
        assert!(!MediaType::parse("application/jsonx").unwrap().is_json());
        assert!(MediaType::parse("json").is_none());
        assert!(MediaType::parse("").is_none());
        assert!(MediaType::parse("a b/c").is_none());
    }

    #[test]
    fn the_most_specific_range_wins() {
        let ranges: Vec<(MediaRange, &str)> =
            ["*/*", "application/*", "application/json; charset=utf-8"]
                .iter()
                .map(|r| (MediaRange::parse(r).unwrap(), *r))
                .collect();
        let pick = |ct: &str| *best_match(&ranges, &MediaType::parse(ct).unwrap()).unwrap();
        assert_eq!(pick("application/json"), "application/json; charset=utf-8");
        assert_eq!(pick("application/xml"), "application/*");
        assert_eq!(pick("text/csv"), "*/*");
        let json_only = vec![(MediaRange::parse("application/json").unwrap(), ())];
        assert!(best_match(&json_only, &MediaType::parse("text/plain").unwrap()).is_none());
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(MediaRange::parse("json").is_err());
        assert!(MediaRange::parse("*/json").is_err());
        assert_eq!(MediaRange::parse("Text/*").unwrap().essence(), "text/*");
    }
}
