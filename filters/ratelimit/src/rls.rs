//! The Envoy rate-limit service protocol (RLS v3, `envoy.service.ratelimit.v3`): only the messages
//! and fields the filter uses, declared with `prost` derive after the published `.proto` files
//! (`rls.proto`, `ratelimit.proto`, `base.proto`); prost skips the fields left out.
//! (`envoy-types` 0.7.7 does not build for wasm32-wasip1: its tonic `transport` feature needs
//! tokio's `net`, which tokio refuses on wasm.)

use prost::Message;

/// The gRPC service.
pub const SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";
/// Its one method.
pub const METHOD: &str = "ShouldRateLimit";

/// `envoy.service.ratelimit.v3.RateLimitRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimitRequest {
    /// The domain the service's config is grouped by.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// One descriptor per applicable rate limit.
    #[prost(message, repeated, tag = "2")]
    pub descriptors: Vec<RateLimitDescriptor>,
    /// Hits to add (0 means 1).
    #[prost(uint32, tag = "3")]
    pub hits_addend: u32,
}

/// `envoy.extensions.common.ratelimit.v3.RateLimitDescriptor`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimitDescriptor {
    /// Its entries, in order.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<Entry>,
}

/// `RateLimitDescriptor.Entry`.
#[derive(Clone, PartialEq, Message)]
pub struct Entry {
    /// The entry key (`remote_address`, `generic_key`, a header's descriptor key, ...).
    #[prost(string, tag = "1")]
    pub key: String,
    /// Its value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `envoy.service.ratelimit.v3.RateLimitResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimitResponse {
    /// `Code`: 0 unknown, 1 OK, 2 over limit.
    #[prost(int32, tag = "1")]
    pub overall_code: i32,
    /// One per descriptor sent.
    #[prost(message, repeated, tag = "2")]
    pub statuses: Vec<DescriptorStatus>,
    /// Headers for the client's response.
    #[prost(message, repeated, tag = "3")]
    pub response_headers_to_add: Vec<HeaderValue>,
    /// Headers for the upstream request.
    #[prost(message, repeated, tag = "4")]
    pub request_headers_to_add: Vec<HeaderValue>,
}

/// `Code::OVER_LIMIT`.
pub const CODE_OVER_LIMIT: i32 = 2;

/// `RateLimitResponse.DescriptorStatus`.
#[derive(Clone, PartialEq, Message)]
pub struct DescriptorStatus {
    /// `Code` of this descriptor.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The limit that applied.
    #[prost(message, optional, tag = "2")]
    pub current_limit: Option<RateLimit>,
    /// Requests left in the current window.
    #[prost(uint32, tag = "3")]
    pub limit_remaining: u32,
    /// Until the window resets.
    #[prost(message, optional, tag = "4")]
    pub duration_until_reset: Option<ProtoDuration>,
}

/// `RateLimitResponse.RateLimit`.
#[derive(Clone, PartialEq, Message)]
pub struct RateLimit {
    /// Requests per unit.
    #[prost(uint32, tag = "1")]
    pub requests_per_unit: u32,
    /// `Unit`: 1 second, 2 minute, 3 hour, 4 day, 5 month, 6 year, 7 week.
    #[prost(int32, tag = "2")]
    pub unit: i32,
    /// The limit's name.
    #[prost(string, tag = "3")]
    pub name: String,
}

impl RateLimit {
    /// The unit in seconds (`None`: unknown).
    pub fn unit_seconds(&self) -> Option<u64> {
        match self.unit {
            1 => Some(1),
            2 => Some(60),
            3 => Some(3600),
            4 => Some(86_400),
            5 => Some(30 * 86_400),
            6 => Some(365 * 86_400),
            7 => Some(7 * 86_400),
            _ => None,
        }
    }
}

/// `google.protobuf.Duration`.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct ProtoDuration {
    /// Seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl ProtoDuration {
    /// Whole seconds, rounded up, never negative.
    pub fn ceil_seconds(&self) -> u64 {
        let seconds = u64::try_from(self.seconds).unwrap_or(0);
        seconds.saturating_add(u64::from(self.nanos > 0))
    }
}

/// `envoy.config.core.v3.HeaderValue`.
#[derive(Clone, PartialEq, Message)]
pub struct HeaderValue {
    /// Name.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// The request for one descriptor, as Envoy's `ratelimit` filter sends it.
pub fn encode_request(domain: &str, entries: &[(String, String)]) -> Vec<u8> {
    RateLimitRequest {
        domain: domain.to_string(),
        descriptors: vec![RateLimitDescriptor {
            entries: entries
                .iter()
                .map(|(key, value)| Entry {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
        }],
        hits_addend: 1,
    }
    .encode_to_vec()
}

/// Decodes the service's answer.
pub fn decode_response(bytes: &[u8]) -> Result<RateLimitResponse, prost::DecodeError> {
    RateLimitResponse::decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes_follow_the_proto_field_numbers() {
        let bytes = encode_request("d", &[("k".into(), "v".into())]);
        // 1: "d"; 2: { 1: { 1: "k", 2: "v" } }; 3: 1.
        assert_eq!(
            bytes,
            [0x0a, 1, b'd', 0x12, 8, 0x0a, 6, 0x0a, 1, b'k', 0x12, 1, b'v', 0x18, 1]
        );
    }

    #[test]
    fn response_decodes_and_skips_unknown_fields() {
        let response = RateLimitResponse {
            overall_code: CODE_OVER_LIMIT,
            statuses: vec![DescriptorStatus {
                code: CODE_OVER_LIMIT,
                current_limit: Some(RateLimit {
                    requests_per_unit: 5,
                    unit: 2,
                    name: "per-ip".into(),
                }),
                limit_remaining: 0,
                duration_until_reset: Some(ProtoDuration {
                    seconds: 41,
                    nanos: 5,
                }),
            }],
            response_headers_to_add: vec![HeaderValue {
                key: "x-a".into(),
                value: "1".into(),
            }],
            request_headers_to_add: vec![],
        };
        let mut bytes = response.encode_to_vec();
        // Field 5 (raw_body, bytes) and 6 (dynamic_metadata), which we do not declare.
        bytes.extend_from_slice(&[0x2a, 2, b'h', b'i', 0x32, 0]);
        let decoded = decode_response(&bytes).unwrap();
        assert_eq!(decoded, response);
        let status = &decoded.statuses[0];
        assert_eq!(
            status.current_limit.as_ref().unwrap().unit_seconds(),
            Some(60)
        );
        assert_eq!(status.duration_until_reset.unwrap().ceil_seconds(), 42);
        assert!(decode_response(&[0xff, 0xff]).is_err());
    }
}
