//! The configuration as written: Envoy jwt_authn's field names where the concept is the same,
//! so its configs port over. Compiled by [`crate::compile`].

use palisade_core::config::ConfigDuration;
use palisade_core::route::RouteMatch;
use palisade_core::PathNormalization;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The filter configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Token issuers, by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Per-route requirements; the first matching rule applies, no rule: no requirement.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Named requirements, referred to by `rules[].requirement_name`.
    #[serde(default)]
    pub requirement_map: BTreeMap<String, RequirementConfig>,
    /// Let CORS preflight requests (OPTIONS with `Origin` and `Access-Control-Request-Method`) through.
    #[serde(default)]
    pub bypass_cors_preflight: bool,
    /// `realm` of the challenges; default: the request URL, as Envoy does.
    #[serde(default)]
    pub realm: Option<String>,
    /// What to do when a key set cannot be loaded.
    #[serde(default)]
    pub keys_unavailable: KeysUnavailableConfig,
    /// How long a request waits for keys being fetched, or refetched for an unknown `kid` (default 10s).
    #[serde(default)]
    pub keys_wait_timeout: Option<ConfigDuration>,
    /// Longest token accepted, in bytes (default 8192).
    #[serde(default)]
    pub max_token_size: Option<usize>,
    /// What a request whose path is not canonical gets (before any rule is matched).
    #[serde(default)]
    pub path_normalization: PathNormalization,
    /// Who checks RS*/ES* signatures: `auto` (default: the host when it has Envoy's
    /// `verify_signature`, else Wasm), `host` (refuse the configuration otherwise) or `wasm`.
    #[serde(default)]
    pub signature_backend: SignatureBackend,
}

/// Who checks RS256/384/512 and ES256/384/512 signatures; PS*, EdDSA and HS* are always
/// checked in Wasm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignatureBackend {
    /// The host when it passes a known-good probe at start, else Wasm.
    #[default]
    Auto,
    /// The host (Envoy's `verify_signature`); a host without it, or a local key it cannot
    /// check, refuses the configuration. Keys the host cannot check are not used.
    Host,
    /// The Rust code in the module.
    Wasm,
}

/// A token issuer: how its tokens are found, checked, and forwarded.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// `iss` must equal this (required for OIDC discovery).
    #[serde(default)]
    pub issuer: Option<String>,
    /// `aud` must include one of these (no check when empty).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Refuse tokens without `exp` (default true; Envoy's default is false).
    #[serde(default)]
    pub require_expiration: Option<bool>,
    /// Longest `exp - iat` accepted.
    #[serde(default)]
    pub max_lifetime: Option<ConfigDuration>,
    /// Tolerance for `exp`, `nbf`, `iat` (default 60).
    #[serde(default)]
    pub clock_skew_seconds: Option<u64>,
    /// Headers holding the token (default `Authorization: Bearer`).
    #[serde(default)]
    pub from_headers: Vec<HeaderLocationConfig>,
    /// Query parameters holding the token.
    #[serde(default)]
    pub from_params: Vec<String>,
    /// Cookies holding the token.
    #[serde(default)]
    pub from_cookies: Vec<String>,
    /// Keep the token in the request going upstream (default false: every copy is removed).
    #[serde(default)]
    pub forward: bool,
    /// More than one token for this provider in a request (several headers, parameters or
    /// cookies, or one of them twice): `reject` (default: 400 `invalid_request`, no signature
    /// checked) or `first` (only the first, in location order, is verified).
    #[serde(default)]
    pub multiple_tokens: MultipleTokens,
    /// Accepted `typ` header values (case-insensitive; `application/at+jwt` is `at+jwt`).
    /// Empty (default): any JWT `typ` or none. Set `["at+jwt"]` (RFC 9068) so the issuer's ID
    /// and logout tokens are not taken for access tokens.
    #[serde(default)]
    pub allowed_types: Vec<String>,
    /// Header to carry the verified payload (base64url) upstream.
    #[serde(default)]
    pub forward_payload_header: Option<String>,
    /// Pad the payload header's base64url.
    #[serde(default)]
    pub pad_forward_payload_header: bool,
    /// Claims to copy into request headers.
    #[serde(default)]
    pub claim_to_headers: Vec<ClaimToHeaderConfig>,
    /// Keys from configuration.
    #[serde(default)]
    pub local_jwks: Option<DataSourceConfig>,
    /// Keys fetched from an Envoy cluster.
    #[serde(default)]
    pub remote_jwks: Option<RemoteJwksConfig>,
    /// Verified-token cache.
    #[serde(default)]
    pub jwt_cache_config: Option<JwtCacheConfig>,
}

/// A header holding a token.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeaderLocationConfig {
    /// Header name.
    pub name: String,
    /// Text before the token, such as `Bearer ` (compared case-insensitively).
    #[serde(default)]
    pub value_prefix: Option<String>,
}

/// A claim to copy into a header.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimToHeaderConfig {
    /// Header to set.
    pub header_name: String,
    /// Claim name or dotted path (`realm_access.roles`).
    pub claim_name: String,
    /// Joins array elements (default `,`).
    #[serde(default)]
    pub separator: Option<String>,
    /// How an array claim is written: `joined` (default: elements joined by `separator`; when an
    /// element contains the separator the header is not set, never sent ambiguous) or `json`
    /// (a JSON array, e.g. `["a,b","c"]`).
    #[serde(default)]
    pub array_format: ArrayFormat,
}

/// How an array claim becomes a header value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ArrayFormat {
    /// Elements joined by the separator; not set when that would be ambiguous.
    #[default]
    Joined,
    /// A compact JSON array.
    Json,
}

/// What several tokens for one provider in one request lead to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MultipleTokens {
    /// 400 `invalid_request` (RFC 6750 §3.1), before any signature is checked.
    #[default]
    Reject,
    /// Only the first token (in location order) is verified; every copy is still stripped.
    First,
}

/// Where local keys are (Envoy's `DataSource`).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DataSourceConfig {
    /// The JWKS itself.
    #[serde(default)]
    pub inline_string: Option<String>,
    /// Refused: Envoy gives Wasm modules no file access (kept so Envoy configs port with a clear error).
    #[serde(default)]
    pub filename: Option<String>,
    /// An environment variable holding the JWKS (Envoy: `vm_config.environment_variables`).
    #[serde(default)]
    pub environment_variable: Option<String>,
}

/// Keys fetched over HTTP through an Envoy cluster.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RemoteJwksConfig {
    /// The JWKS URL (or, with `oidc_discovery`, the discovery document's; default
    /// `<issuer>/.well-known/openid-configuration`), the cluster and the timeout.
    pub http_uri: HttpUriConfig,
    /// How long fetched keys are fresh (default 10m); refreshed in the background after.
    #[serde(default)]
    pub cache_duration: Option<ConfigDuration>,
    /// Envoy's background-fetch settings; keys are always fetched at start-up here.
    #[serde(default)]
    pub async_fetch: Option<AsyncFetchConfig>,
    /// Retries of failed fetches.
    #[serde(default)]
    pub retry_policy: Option<RetryPolicyConfig>,
    /// Find the JWKS URL through OpenID Connect discovery.
    #[serde(default)]
    pub oidc_discovery: bool,
    /// Shortest time since the last fetch before a token with an unknown `kid` causes another
    /// (default 3s); such a token waits for it rather than being refused.
    #[serde(default)]
    pub unknown_kid_refetch_interval: Option<ConfigDuration>,
}

/// Envoy's `HttpUri`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpUriConfig {
    /// `http(s)://authority/path`.
    #[serde(default)]
    pub uri: Option<String>,
    /// The Envoy cluster that serves it.
    pub cluster: String,
    /// Per-request timeout (default 5s).
    #[serde(default)]
    pub timeout: Option<ConfigDuration>,
}

/// Envoy's `JwksAsyncFetch`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AsyncFetchConfig {
    /// Accepted for compatibility; listeners never wait for keys here.
    #[serde(default)]
    pub fast_listener: bool,
    /// Wait between fetches once retries are used up (default 1s).
    #[serde(default)]
    pub failed_refetch_duration: Option<ConfigDuration>,
}

/// Envoy's `RetryPolicy`, for the key fetch.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyConfig {
    /// Retries with exponential backoff before falling back to `failed_refetch_duration`.
    #[serde(default)]
    pub num_retries: Option<u32>,
    /// Backoff bounds.
    #[serde(default)]
    pub retry_back_off: Option<BackOffConfig>,
}

/// Exponential backoff bounds.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BackOffConfig {
    /// First wait (default 1s).
    #[serde(default)]
    pub base_interval: Option<ConfigDuration>,
    /// Longest wait (default 10 × base).
    #[serde(default)]
    pub max_interval: Option<ConfigDuration>,
}

/// Envoy's `JwtCacheConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct JwtCacheConfig {
    /// Tokens cached per worker (default 100; 0 turns the cache off).
    #[serde(default)]
    pub jwt_cache_size: Option<usize>,
}

/// A rule: which requests, what they require.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Which requests (core route matcher; absent: all).
    #[serde(default, rename = "match")]
    pub route: RouteMatch,
    /// The requirement (absent, with no `requirement_name`: none, the request passes).
    #[serde(default)]
    pub requires: Option<RequirementConfig>,
    /// A requirement from `requirement_map`.
    #[serde(default)]
    pub requirement_name: Option<String>,
    /// Scopes and claim conditions the verified token must meet.
    #[serde(default)]
    pub authorization: Option<AuthorizationConfig>,
}

/// Envoy's `JwtRequirement`: exactly one member.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RequirementConfig {
    /// A valid token of this provider.
    ProviderName(String),
    /// A valid token of this provider, for these audiences instead of the provider's.
    ProviderAndAudiences {
        /// Provider.
        provider_name: String,
        /// Audiences.
        audiences: Vec<String>,
    },
    /// Any of these.
    RequiresAny {
        /// Alternatives.
        requirements: Vec<RequirementConfig>,
    },
    /// All of these.
    RequiresAll {
        /// Conjuncts.
        requirements: Vec<RequirementConfig>,
    },
    /// Always met; valid tokens are used.
    AllowMissingOrFailed {},
    /// Met without a token; a present bad token fails.
    AllowMissing {},
}

/// What the token must carry on this route.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Scopes required (all of them).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claim conditions (all of them).
    #[serde(default)]
    pub claims: Vec<ClaimCheckConfig>,
}

/// A claim condition: exactly one of `equals`, `contains`, `one_of`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimCheckConfig {
    /// Claim name or dotted path.
    pub claim: String,
    /// The claim equals this.
    #[serde(default)]
    pub equals: Option<Value>,
    /// The claim (array, or space-delimited string) contains this.
    #[serde(default)]
    pub contains: Option<Value>,
    /// The claim is one of these.
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
}

/// Failure mode when keys cannot be loaded.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeysUnavailableConfig {
    /// `deny` (default) or `allow`.
    #[serde(default)]
    pub action: KeysUnavailableAction,
    /// Status of the denial: 401 (default) or 503.
    #[serde(default)]
    pub status: Option<u16>,
    /// With `allow`: the request header that marks the request as unverified
    /// (default `x-palisade-jwt-unverified`).
    #[serde(default)]
    pub header: Option<String>,
}

/// Deny or allow when keys cannot be loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeysUnavailableAction {
    /// Answer with 401 or 503.
    #[default]
    Deny,
    /// Let the request through, marked.
    Allow,
}
