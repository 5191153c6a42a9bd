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
    /// The property value: what serde_json writes for this type, written by
    /// [`crate::json_text`] (issue 13).
    pub fn to_bytes(&self) -> Vec<u8> {
        use crate::json_text::{write_object, write_str};
        let mut out = String::from("{\"provider\":");
        write_str(&mut out, &self.provider);
        out.push_str(",\"claims\":");
        write_object(&mut out, &self.claims);
        out.push('}');
        out.into_bytes()
    }

    /// Reads a property value; anything else is no identity. Read as a JSON value and taken
    /// apart here rather than through the derived reader: serde_json words that one's type
    /// errors, floats included, which linked its float formatting (issue 13: module size).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let Ok(Value::Object(mut object)) = serde_json::from_slice(bytes) else {
            return None;
        };
        let (Some(Value::String(provider)), Some(Value::Object(claims))) =
            (object.remove("provider"), object.remove("claims"))
        else {
            return None;
        };
        Some(Self { provider, claims })
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
            other => Some(crate::json_text::value_to_string(other)),
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
        assert_eq!(id.to_bytes(), serde_json::to_vec(&id).unwrap());
        let back = VerifiedIdentity::from_bytes(&id.to_bytes()).unwrap();
        assert_eq!(back, id);
        assert_eq!(back.claim_text("sub").as_deref(), Some("alice"));
        assert_eq!(back.claim_text("n").as_deref(), Some("3"));
        assert_eq!(back.claim_text("org.id").as_deref(), Some("o1"));
        assert_eq!(back.claim_text("roles").as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(back.claim_text("x"), None);
        assert_eq!(back.claim_text("missing"), None);
        assert!(VerifiedIdentity::from_bytes(b"alice").is_none());
        for bad in [
            &br#"{"provider":"idp"}"#[..],
            br#"{"claims":{}}"#,
            br#"{"provider":1,"claims":{}}"#,
            br#"{"provider":"idp","claims":[]}"#,
            br#"[]"#,
        ] {
            assert!(VerifiedIdentity::from_bytes(bad).is_none());
        }
        // Not strings: as serde_json writes them (the key text of a claim).
        let id = VerifiedIdentity {
            provider: "idp".into(),
            claims: json!({"f": 0.1, "big": 1e300, "o": {"b": [1.5, "\"x\n"], "a": true}})
                .as_object()
                .cloned()
                .unwrap(),
        };
        for name in ["f", "big", "o", "o.b"] {
            let theirs = id.claim(name).unwrap().to_string();
            assert_eq!(id.claim_text(name).unwrap(), theirs, "{name}");
        }
    }
}
