//! Where a filter fetches a document from (a JWKS, an OpenAPI description): an absolute
//! `http(s)` URL split into what the call to an Envoy cluster sends as `:scheme`, `:authority`
//! and `:path`.

/// An HTTP target: what goes into `:authority` and `:path` of the call to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// Path with query, at least `/`.
    pub path: String,
}

impl Target {
    /// Parses `http(s)://authority[/path]`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}` is not an absolute http(s) URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{url}`: scheme must be http or https"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("/")),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains(['@', ' ']) {
            return Err(format!("`{url}`: bad authority"));
        }
        if path.contains(['#', ' ', '\r', '\n']) {
            return Err(format!("`{url}`: bad path"));
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(Self {
            scheme,
            authority: authority.to_string(),
            path,
        })
    }

    /// The pseudo-headers and headers of a GET of this target for a JSON document, as
    /// `dispatch_http_call` takes them.
    pub fn get_json<'a>(&'a self, user_agent: &'a str) -> [(&'a str, &'a str); 6] {
        [
            (":method", "GET"),
            (":path", self.path.as_str()),
            (":authority", self.authority.as_str()),
            (":scheme", self.scheme.as_str()),
            ("accept", "application/json"),
            ("user-agent", user_agent),
        ]
    }

    /// The discovery document of an issuer (OpenID Connect Discovery 1.0 §4).
    pub fn discovery(issuer: &str) -> Result<Self, String> {
        Self::parse(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        let t = Target::parse("https://idp.example.com:8443/keys?x=1").unwrap();
        assert_eq!(t.scheme, "https");
        assert_eq!(t.authority, "idp.example.com:8443");
        assert_eq!(t.path, "/keys?x=1");
        assert_eq!(Target::parse("http://127.0.0.1").unwrap().path, "/");
        assert_eq!(Target::parse("http://h?x").unwrap().path, "/?x");
        for bad in [
            "idp/keys",
            "ftp://h/x",
            "http:///x",
            "http://u@h/x",
            "http://h/a#b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn discovery_url_follows_the_issuer() {
        let t = Target::discovery("https://idp.example.com/realms/a/").unwrap();
        assert_eq!(t.path, "/realms/a/.well-known/openid-configuration");
    }
}
