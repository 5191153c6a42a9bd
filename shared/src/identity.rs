//! Verified identity between filters: the jwt filter stores the claims of the token it verified
//! in Envoy filter state ([`crate::Host::set_property`]); later filters (ratelimit's
//! `claim:<name>`) read it from there. A client can set headers, never filter state.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The property (Envoy filter state `wasm.palisade.jwt_claims`) holding [`VerifiedIdentity`].
pub const VERIFIED_CLAIMS_PROPERTY: &str = "palisade.jwt_claims";

/// What the jwt filter verified for a request: compact JSON `{"provider": ..., "claims": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedIdentity {
    /// The provider whose token it was.
    pub provider: String,
    /// The token's payload claims, as signed.
    pub claims: Map<String, Value>,
}

impl VerifiedIdentity {
    /// The property value.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a property value; anything else is no identity.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// A claim by name or dotted path (`realm_access.roles`); a whole name is found first.
    pub fn claim(&self, path: &str) -> Option<&Value> {
        if let Some(v) = self.claims.get(path) {
            return Some(v);
        }
        let mut parts = path.split('.');
        let mut current = self.claims.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current)
    }

    /// A claim as key text: strings as they are, anything else as compact JSON; `null` is absent.
    pub fn claim_text(&self, path: &str) -> Option<String> {
        match self.claim(path)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn an_identity_round_trips_and_answers_claims() {
        let id = VerifiedIdentity {
            provider: "idp".into(),
            claims:
                json!({"sub": "alice", "n": 3, "org": {"id": "o1"}, "roles": ["a", "b"], "x": null})
                    .as_object()
                    .cloned()
                    .unwrap(),
        };
        let back = VerifiedIdentity::from_bytes(&id.to_bytes()).unwrap();
        assert_eq!(back, id);
        assert_eq!(back.claim_text("sub").as_deref(), Some("alice"));
        assert_eq!(back.claim_text("n").as_deref(), Some("3"));
        assert_eq!(back.claim_text("org.id").as_deref(), Some("o1"));
        assert_eq!(back.claim_text("roles").as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(back.claim_text("x"), None);
        assert_eq!(back.claim_text("missing"), None);
        assert!(VerifiedIdentity::from_bytes(b"alice").is_none());
    }
}
