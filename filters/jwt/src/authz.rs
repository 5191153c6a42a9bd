//! Claim-based authorization per route: required scopes and claim conditions, checked on the
//! tokens that met the route's requirement.

use crate::claims::lookup;
use crate::verifier::VerifiedToken;
use serde_json::{Map, Value};

/// A condition on one claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The claim equals this JSON value.
    Equals(Value),
    /// The claim is an array with this element, or a space-delimited string with this word.
    Contains(Value),
    /// The claim is one of these (for an array claim: one of its elements is).
    OneOf(Vec<Value>),
}

/// A claim condition, by claim name or dotted path.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimCheck {
    /// Claim name or path (`realm_access.roles`).
    pub claim: String,
    /// What it must satisfy.
    pub condition: Condition,
}

/// What a route requires of its token beyond validity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Authorization {
    /// Every one of these scopes (from `scope` or `scp`).
    pub scopes: Vec<String>,
    /// Every one of these conditions.
    pub claims: Vec<ClaimCheck>,
}

/// Why a valid token is not enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Scopes the token lacks.
    InsufficientScope(Vec<String>),
    /// A claim condition that does not hold.
    ClaimMismatch(String),
    /// Conditions apply but no token was presented (under `allow_missing`).
    NoToken,
}

/// The token's scopes: `scope` or `scp`, each a space-delimited string (RFC 8693 §4.2) or an array.
pub fn scopes(claims: &Map<String, Value>) -> Vec<&str> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split(' ').filter(|w| !w.is_empty())),
            Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

impl Condition {
    fn holds(&self, value: Option<&Value>) -> bool {
        let Some(value) = value else {
            return false;
        };
        match self {
            Condition::Equals(expected) => value == expected,
            Condition::Contains(item) => match (value, item) {
                (Value::Array(items), _) => items.contains(item),
                (Value::String(s), Value::String(word)) => s.split(' ').any(|w| w == word),
                _ => false,
            },
            Condition::OneOf(options) => match value {
                Value::Array(items) => items.iter().any(|i| options.contains(i)),
                scalar => options.contains(scalar),
            },
        }
    }
}

impl Authorization {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty() && self.claims.is_empty()
    }

    fn check(&self, token: &VerifiedToken) -> Result<(), Refusal> {
        let have = scopes(&token.claims);
        let missing: Vec<String> = self
            .scopes
            .iter()
            .filter(|s| !have.contains(&s.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Refusal::InsufficientScope(missing));
        }
        match self
            .claims
            .iter()
            .find(|c| !c.condition.holds(lookup(&token.claims, &c.claim)))
        {
            Some(failed) => Err(Refusal::ClaimMismatch(failed.claim.clone())),
            None => Ok(()),
        }
    }

    /// Met when one token meets every condition; otherwise the first token's refusal.
    pub fn authorize(&self, tokens: &[&VerifiedToken]) -> Result<(), Refusal> {
        if self.is_empty() {
            return Ok(());
        }
        let mut first = None;
        for t in tokens {
            match self.check(t) {
                Ok(()) => return Ok(()),
                Err(r) => {
                    first.get_or_insert(r);
                }
            }
        }
        Err(first.unwrap_or(Refusal::NoToken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(claims: Value) -> VerifiedToken {
        VerifiedToken::new(
            claims.as_object().unwrap().clone(),
            String::new(),
            Default::default(),
        )
    }

    fn check(claim: &str, condition: Condition) -> ClaimCheck {
        ClaimCheck {
            claim: claim.into(),
            condition,
        }
    }

    #[test]
    fn scopes_from_scope_or_scp_strings_or_arrays() {
        let a = Authorization {
            scopes: vec!["read".into(), "write".into()],
            claims: vec![],
        };
        for claims in [
            json!({"scope": "read write admin"}),
            json!({"scp": ["read", "write"]}),
            json!({"scope": "read", "scp": "write"}),
        ] {
            assert_eq!(a.authorize(&[&token(claims.clone())]), Ok(()), "{claims}");
        }
        assert_eq!(
            a.authorize(&[&token(json!({"scope": "read writer"}))]),
            Err(Refusal::InsufficientScope(vec!["write".into()]))
        );
        assert_eq!(
            a.authorize(&[&token(json!({"scope": ["read write"]}))]),
            Err(Refusal::InsufficientScope(vec![
                "read".into(),
                "write".into()
            ]))
        );
        assert_eq!(a.authorize(&[]), Err(Refusal::NoToken));
    }

    #[test]
    fn claim_conditions() {
        let t = token(json!({
            "tenant": "acme",
            "groups": ["dev", "ops"],
            "realm": {"roles": ["admin"]},
            "level": 3,
            "amr": "pwd otp"
        }));
        let ok = [
            check("tenant", Condition::Equals(json!("acme"))),
            check("level", Condition::Equals(json!(3))),
            check("groups", Condition::Contains(json!("ops"))),
            check("amr", Condition::Contains(json!("otp"))),
            check("realm.roles", Condition::Contains(json!("admin"))),
            check("tenant", Condition::OneOf(vec![json!("x"), json!("acme")])),
            check("groups", Condition::OneOf(vec![json!("ops"), json!("qa")])),
        ];
        for c in ok {
            let a = Authorization {
                scopes: vec![],
                claims: vec![c.clone()],
            };
            assert_eq!(a.authorize(&[&t]), Ok(()), "{c:?}");
        }
        let bad = [
            check("tenant", Condition::Equals(json!("ACME"))),
            check("level", Condition::Equals(json!("3"))),
            check("groups", Condition::Contains(json!("qa"))),
            check("amr", Condition::Contains(json!("ot"))),
            check("missing", Condition::Equals(json!(null))),
            check("tenant", Condition::OneOf(vec![json!("x")])),
        ];
        for c in bad {
            let a = Authorization {
                scopes: vec![],
                claims: vec![c.clone()],
            };
            assert_eq!(
                a.authorize(&[&t]),
                Err(Refusal::ClaimMismatch(c.claim.clone())),
                "{c:?}"
            );
        }
    }

    #[test]
    fn one_token_must_meet_everything() {
        let a = Authorization {
            scopes: vec!["read".into()],
            claims: vec![check("tenant", Condition::Equals(json!("acme")))],
        };
        let scope_only = token(json!({"scope": "read", "tenant": "other"}));
        let tenant_only = token(json!({"tenant": "acme"}));
        let both = token(json!({"scope": "read", "tenant": "acme"}));
        assert!(a.authorize(&[&scope_only, &tenant_only]).is_err());
        assert_eq!(a.authorize(&[&scope_only, &both]), Ok(()));
    }
}
