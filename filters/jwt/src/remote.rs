//! A remote key source as compiled: where to fetch (through which cluster), how long keys stay
//! fresh, and how failed fetches back off.

use std::time::Duration;

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

    /// The discovery document of an issuer (OpenID Connect Discovery 1.0 §4).
    pub fn discovery(issuer: &str) -> Result<Self, String> {
        Self::parse(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
    }
}

/// Waits between failed fetches: exponential for `num_retries`, then `failed_refetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures answered with exponential waits.
    pub num_retries: u32,
    /// First wait.
    pub base: Duration,
    /// Longest exponential wait.
    pub max: Duration,
    /// Wait once retries are used up (Envoy's `failed_refetch_duration`).
    pub failed_refetch: Duration,
}

impl Backoff {
    /// The wait after `failures` consecutive failures (1 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        if failures > self.num_retries {
            return self.failed_refetch;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// A compiled `remote_jwks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// Envoy cluster for every call.
    pub cluster: String,
    /// The JWKS URL, or the discovery document's.
    pub target: Target,
    /// `target` is a discovery document naming `jwks_uri`.
    pub discovery: bool,
    /// The issuer the discovery document must name.
    pub issuer: Option<String>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// How long fetched keys are fresh.
    pub cache_duration: Duration,
    /// Waits after failures.
    pub backoff: Backoff,
    /// Shortest time between fetches caused by unknown `kid`s.
    pub kid_refetch_interval: Duration,
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

    #[test]
    fn backoff_doubles_then_settles() {
        let b = Backoff {
            num_retries: 4,
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
            failed_refetch: Duration::from_secs(2),
        };
        let waits: Vec<u128> = (0..7).map(|f| b.delay(f).as_millis()).collect();
        assert_eq!(waits, vec![0, 100, 200, 400, 500, 2000, 2000]);
        let huge = Backoff {
            num_retries: u32::MAX,
            ..b
        };
        assert_eq!(huge.delay(200), Duration::from_millis(500));
    }
}
