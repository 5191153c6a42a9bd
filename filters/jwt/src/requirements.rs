//! Which tokens a route requires (Envoy jwt_authn's `JwtRequirement`), evaluated over what
//! verifying each provider's tokens gave.

use crate::claims::check_audience;
use crate::error::TokenError;
use crate::verifier::VerifiedToken;
use std::rc::Rc;

/// A compiled requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A valid token of this provider (optionally with other audiences than the provider's).
    Provider {
        /// Provider index.
        provider: usize,
        /// Audiences replacing the provider's, from `provider_and_audiences`.
        audiences: Option<Vec<String>>,
    },
    /// Any one of these.
    Any(Vec<Requirement>),
    /// All of these.
    All(Vec<Requirement>),
    /// No token, or a valid one; a present invalid token fails.
    AllowMissing,
    /// Always satisfied; valid tokens are still used (claims forwarded).
    AllowMissingOrFailed,
}

/// What verifying one provider's tokens gave.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderOutcome {
    /// No token in its locations.
    Missing,
    /// A token verified.
    Verified(Rc<VerifiedToken>),
    /// Tokens were there; none verified (the most telling error).
    Failed(TokenError),
    /// Its keys could not be loaded.
    KeysUnavailable(String),
}

/// What a requirement comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// Met; the providers whose tokens met it.
    Satisfied(Vec<usize>),
    /// Not met.
    Failed(TokenError),
    /// Cannot tell: keys are missing.
    KeysUnavailable(String),
}

/// Reads provider outcomes and their default audiences.
pub trait Outcomes {
    /// Number of providers.
    fn count(&self) -> usize;
    /// The outcome for a provider.
    fn outcome(&self, provider: usize) -> &ProviderOutcome;
    /// The provider's configured audiences.
    fn audiences(&self, provider: usize) -> &[String];
}

impl Requirement {
    /// Providers whose tokens the requirement looks at (`allow_missing*` looks at all of them).
    pub fn providers(&self, count: usize) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect(count, &mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect(&self, count: usize, out: &mut Vec<usize>) {
        match self {
            Requirement::Provider { provider, .. } => out.push(*provider),
            Requirement::Any(children) | Requirement::All(children) => {
                children.iter().for_each(|c| c.collect(count, out));
            }
            Requirement::AllowMissing | Requirement::AllowMissingOrFailed => out.extend(0..count),
        }
    }

    /// Evaluates the requirement.
    pub fn evaluate(&self, o: &dyn Outcomes) -> Evaluation {
        match self {
            Requirement::Provider {
                provider,
                audiences,
            } => {
                let allowed = audiences
                    .as_deref()
                    .unwrap_or_else(|| o.audiences(*provider));
                match o.outcome(*provider) {
                    ProviderOutcome::Missing => Evaluation::Failed(TokenError::Missing),
                    ProviderOutcome::Verified(t) => match check_audience(&t.claims, allowed) {
                        Ok(()) => Evaluation::Satisfied(vec![*provider]),
                        Err(e) => Evaluation::Failed(e),
                    },
                    ProviderOutcome::Failed(e) => Evaluation::Failed(e.clone()),
                    ProviderOutcome::KeysUnavailable(m) => Evaluation::KeysUnavailable(m.clone()),
                }
            }
            Requirement::Any(children) => any(children.iter().map(|c| c.evaluate(o)).collect()),
            Requirement::All(children) => all(children.iter().map(|c| c.evaluate(o)).collect()),
            Requirement::AllowMissing => allow_missing(o, false),
            Requirement::AllowMissingOrFailed => allow_missing(o, true),
        }
    }
}

fn union(into: &mut Vec<usize>, more: &[usize]) {
    for p in more {
        if !into.contains(p) {
            into.push(*p);
        }
    }
}

/// Met if one child is; otherwise keys-unavailable if a child could not tell, else the most telling error.
fn any(results: Vec<Evaluation>) -> Evaluation {
    let mut satisfied: Option<Vec<usize>> = None;
    let mut unavailable = None;
    let mut error: Option<TokenError> = None;
    for r in results {
        match r {
            Evaluation::Satisfied(p) => union(satisfied.get_or_insert_with(Vec::new), &p),
            Evaluation::KeysUnavailable(m) => {
                unavailable.get_or_insert(m);
            }
            Evaluation::Failed(e) => {
                // A present-but-bad token says more than a missing one.
                if error
                    .as_ref()
                    .is_none_or(|prev| *prev == TokenError::Missing)
                {
                    error = Some(e);
                }
            }
        }
    }
    match (satisfied, unavailable, error) {
        (Some(p), _, _) => Evaluation::Satisfied(p),
        (None, Some(m), _) => Evaluation::KeysUnavailable(m),
        (None, None, e) => Evaluation::Failed(e.unwrap_or(TokenError::Missing)),
    }
}

/// Met if every child is; the first failure otherwise, keys-unavailable when nothing failed outright.
fn all(results: Vec<Evaluation>) -> Evaluation {
    let mut satisfied = Vec::new();
    let mut unavailable = None;
    for r in results {
        match r {
            Evaluation::Satisfied(p) => union(&mut satisfied, &p),
            Evaluation::KeysUnavailable(m) => {
                unavailable.get_or_insert(m);
            }
            Evaluation::Failed(e) => return Evaluation::Failed(e),
        }
    }
    match unavailable {
        Some(m) => Evaluation::KeysUnavailable(m),
        None => Evaluation::Satisfied(satisfied),
    }
}

/// `allow_missing` over every provider: a token of another issuer is not this provider's, so it
/// counts as absent here, but a token no provider claims fails.
fn allow_missing(o: &dyn Outcomes, or_failed: bool) -> Evaluation {
    let mut verified = Vec::new();
    let mut error = None;
    let mut unavailable = None;
    let mut foreign = false;
    for p in 0..o.count() {
        match o.outcome(p) {
            ProviderOutcome::Missing => {}
            ProviderOutcome::Failed(TokenError::IssuerMismatch) => foreign = true,
            ProviderOutcome::Failed(e) => {
                error.get_or_insert_with(|| e.clone());
            }
            ProviderOutcome::KeysUnavailable(m) => {
                unavailable.get_or_insert_with(|| m.clone());
            }
            ProviderOutcome::Verified(t) => match check_audience(&t.claims, o.audiences(p)) {
                Ok(()) => verified.push(p),
                Err(e) => {
                    error.get_or_insert(e);
                }
            },
        }
    }
    if or_failed || !verified.is_empty() {
        return Evaluation::Satisfied(verified);
    }
    match (error, unavailable, foreign) {
        (Some(e), _, _) => Evaluation::Failed(e),
        (None, Some(m), _) => Evaluation::KeysUnavailable(m),
        (None, None, true) => Evaluation::Failed(TokenError::IssuerMismatch),
        (None, None, false) => Evaluation::Satisfied(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed {
        outcomes: Vec<ProviderOutcome>,
        audiences: Vec<Vec<String>>,
    }

    impl Outcomes for Fixed {
        fn count(&self) -> usize {
            self.outcomes.len()
        }
        fn outcome(&self, p: usize) -> &ProviderOutcome {
            &self.outcomes[p]
        }
        fn audiences(&self, p: usize) -> &[String] {
            &self.audiences[p]
        }
    }

    fn verified(aud: &str) -> ProviderOutcome {
        ProviderOutcome::Verified(Rc::new(VerifiedToken::new(
            json!({ "aud": aud }).as_object().unwrap().clone(),
            String::new(),
            Default::default(),
        )))
    }

    fn fixed(outcomes: Vec<ProviderOutcome>) -> Fixed {
        let audiences = vec![vec!["api".to_string()]; outcomes.len()];
        Fixed {
            outcomes,
            audiences,
        }
    }

    fn p(i: usize) -> Requirement {
        Requirement::Provider {
            provider: i,
            audiences: None,
        }
    }

    fn failed(e: TokenError) -> ProviderOutcome {
        ProviderOutcome::Failed(e)
    }

    #[test]
    fn provider_needs_a_valid_token_with_an_allowed_audience() {
        let o = fixed(vec![
            verified("api"),
            verified("other"),
            ProviderOutcome::Missing,
        ]);
        assert_eq!(p(0).evaluate(&o), Evaluation::Satisfied(vec![0]));
        assert_eq!(
            p(1).evaluate(&o),
            Evaluation::Failed(TokenError::AudienceMismatch)
        );
        assert_eq!(p(2).evaluate(&o), Evaluation::Failed(TokenError::Missing));
        let overridden = Requirement::Provider {
            provider: 1,
            audiences: Some(vec!["other".into()]),
        };
        assert_eq!(overridden.evaluate(&o), Evaluation::Satisfied(vec![1]));
    }

    #[test]
    fn requires_any_and_all() {
        let o = fixed(vec![
            verified("api"),
            ProviderOutcome::Missing,
            failed(TokenError::Expired),
        ]);
        assert_eq!(
            Requirement::Any(vec![p(1), p(0)]).evaluate(&o),
            Evaluation::Satisfied(vec![0])
        );
        // A bad token says more than a missing one.
        assert_eq!(
            Requirement::Any(vec![p(1), p(2)]).evaluate(&o),
            Evaluation::Failed(TokenError::Expired)
        );
        assert_eq!(
            Requirement::All(vec![p(0), p(2)]).evaluate(&o),
            Evaluation::Failed(TokenError::Expired)
        );
        assert_eq!(
            Requirement::All(vec![p(0), Requirement::Any(vec![p(1), p(0)])]).evaluate(&o),
            Evaluation::Satisfied(vec![0])
        );
    }

    #[test]
    fn unavailable_keys_are_neither_success_nor_a_bad_token() {
        let o = fixed(vec![
            ProviderOutcome::KeysUnavailable("down".into()),
            verified("api"),
            failed(TokenError::BadSignature),
        ]);
        assert_eq!(
            p(0).evaluate(&o),
            Evaluation::KeysUnavailable("down".into())
        );
        assert_eq!(
            Requirement::Any(vec![p(0), p(1)]).evaluate(&o),
            Evaluation::Satisfied(vec![1])
        );
        assert_eq!(
            Requirement::Any(vec![p(0), p(2)]).evaluate(&o),
            Evaluation::KeysUnavailable("down".into())
        );
        assert_eq!(
            Requirement::All(vec![p(0), p(2)]).evaluate(&o),
            Evaluation::Failed(TokenError::BadSignature)
        );
    }

    #[test]
    fn allow_missing_fails_only_on_a_present_bad_token() {
        let none = fixed(vec![ProviderOutcome::Missing, ProviderOutcome::Missing]);
        assert_eq!(
            Requirement::AllowMissing.evaluate(&none),
            Evaluation::Satisfied(vec![])
        );
        let bad = fixed(vec![
            failed(TokenError::BadSignature),
            ProviderOutcome::Missing,
        ]);
        assert_eq!(
            Requirement::AllowMissing.evaluate(&bad),
            Evaluation::Failed(TokenError::BadSignature)
        );
        assert_eq!(
            Requirement::AllowMissingOrFailed.evaluate(&bad),
            Evaluation::Satisfied(vec![])
        );
        // Two providers sharing `Authorization`: the token is one's, foreign to the other.
        let shared = fixed(vec![failed(TokenError::IssuerMismatch), verified("api")]);
        assert_eq!(
            Requirement::AllowMissing.evaluate(&shared),
            Evaluation::Satisfied(vec![1])
        );
        // A token no provider claims is not "missing".
        let foreign = fixed(vec![
            failed(TokenError::IssuerMismatch),
            ProviderOutcome::Missing,
        ]);
        assert_eq!(
            Requirement::AllowMissing.evaluate(&foreign),
            Evaluation::Failed(TokenError::IssuerMismatch)
        );
    }

    #[test]
    fn providers_lists_what_is_looked_at() {
        let r = Requirement::Any(vec![p(2), Requirement::All(vec![p(0), p(2)])]);
        assert_eq!(r.providers(3), vec![0, 2]);
        assert_eq!(Requirement::AllowMissing.providers(3), vec![0, 1, 2]);
    }
}
