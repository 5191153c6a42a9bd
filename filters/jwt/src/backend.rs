//! The signature backend: the host (`verify_signature`) for RS*/ES* keys when the host has it,
//! the Rust code for everything else. Chosen once per key set, when keys are loaded; each
//! check is counted per backend.

use crate::error::TokenError;
use crate::hostsig::{call_verify, host_capable, host_signature, HostKey, HostVerdict};
use crate::jwks::KeySet;
use crate::keys::Key;
use crate::token::Jws;
use palisade_core::host::Host;
use std::cell::Cell;

/// Which code checks a key's signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Envoy's `verify_signature` (BoringSSL).
    Host,
    /// The Rust code compiled into the module.
    #[default]
    Wasm,
}

/// How key sets use the host, decided in `on_configure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostUse {
    /// Every key is checked in Wasm (`signature_backend: wasm`, or a host without the function).
    #[default]
    Off,
    /// RS*/ES* keys the host accepts go to the host, the others stay in Wasm (`auto`).
    Preferred,
    /// Only keys the host checks are kept (`host`).
    Required,
}

/// The signature checks of one request, counted per backend.
pub struct Signatures<'a> {
    pub(crate) host: Option<&'a dyn Host>,
    /// Checks the host made.
    pub host_checks: Cell<u64>,
    /// Checks the Rust code made.
    pub wasm_checks: Cell<u64>,
}

impl<'a> Signatures<'a> {
    /// Checks through `host` for keys bound to it (`None`: all in Wasm).
    pub fn new(host: Option<&'a dyn Host>) -> Self {
        Self {
            host,
            host_checks: Cell::new(0),
            wasm_checks: Cell::new(0),
        }
    }

    /// Checks the token's signature with one key, on the key's backend.
    pub fn check(&self, key: &Key, jws: &Jws<'_>) -> Result<(), TokenError> {
        if key.backend == Backend::Host {
            if let (Some(host), Some(host_key)) = (self.host, key.host.as_deref()) {
                if let Some(outcome) = check_on_host(host, key, host_key, jws) {
                    self.host_checks
                        .set(self.host_checks.get().saturating_add(1));
                    return outcome;
                }
            }
        }
        self.wasm_checks
            .set(self.wasm_checks.get().saturating_add(1));
        key.verifier.check_signature(jws)
    }
}

/// The host's decision, after every check the Rust path makes before its signature check, so
/// both decide alike. `None`: let the Rust path decide (a host error, or a header only it reads).
fn check_on_host(
    host: &dyn Host,
    key: &Key,
    host_key: &HostKey,
    jws: &Jws<'_>,
) -> Option<Result<(), TokenError>> {
    if jws.header.alg != key.verifier.alg() {
        return Some(Err(TokenError::AlgMismatch(
            jws.header.alg.name().to_string(),
        )));
    }
    // As the Rust path, which refuses a header jwt-simple cannot read. `token::parse` already
    // read it at least as strictly (same base64url rules, every registered parameter typed as
    // jwt-simple types it, no duplicate names); jwt-simple's one other limit is its length.
    let header_b64 = jws
        .signing_input
        .len()
        .saturating_sub(jws.payload_b64.len() + 1);
    if header_b64 > jwt_simple::token::MAX_HEADER_LENGTH {
        return Some(Err(TokenError::Malformed("header".into())));
    }
    // jwt-simple decodes a `salt` header before the signature; such a token stays with it.
    if jws.header.salt {
        return None;
    }
    host_decision(host, host_key, &jws.signature, jws.signing_input.as_bytes())
}

/// The host's decision on a JWS signature (raw `r || s` for ECDSA) over `text`. `None`: the host
/// failed, let the Rust path decide.
pub(crate) fn host_decision(
    host: &dyn Host,
    host_key: &HostKey,
    signature: &[u8],
    text: &[u8],
) -> Option<Result<(), TokenError>> {
    let Some(signature) = host_signature(host_key, signature) else {
        return Some(Err(TokenError::BadSignature));
    };
    match call_verify(host, host_key, &signature, text) {
        Ok(HostVerdict::Valid) => Some(Ok(())),
        Ok(HostVerdict::Invalid(_)) => Some(Err(TokenError::BadSignature)),
        Err(e) => {
            log::warn!("jwt: host signature check failed ({e:?}); checked in Wasm");
            None
        }
    }
}

/// Text signed by nobody: a key check only looks at how the host fails.
const KEY_CHECK_TEXT: &[u8] = b"palisade key check";
/// A well-formed DER ECDSA signature (r = s = 1); wrong for any key, and for RSA the wrong length.
const KEY_CHECK_SIGNATURE: [u8; 8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];

/// Whether the host can use this key: a usable key fails the dummy check as a bad signature; an
/// unusable one as a bad argument (Envoy 1.37+) or "Failed to initialize digest verify." (older).
pub fn host_accepts_key(host: &dyn Host, key: &HostKey) -> Result<(), String> {
    match call_verify(host, key, &KEY_CHECK_SIGNATURE, KEY_CHECK_TEXT) {
        Ok(HostVerdict::Invalid(why)) if why.contains("initialize") => Err(why),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// A key set bound to its backends: with `Preferred`, each RS*/ES* key the host accepts goes to
/// the host; with `Required`, keys the host cannot check are dropped (the reasons are returned).
pub fn bind(set: &KeySet, host_use: HostUse, host: &dyn Host) -> (KeySet, Vec<String>) {
    let mut dropped = Vec::new();
    let mut keys = Vec::with_capacity(set.keys.len());
    for key in &set.keys {
        let mut key = key.clone();
        key.backend = Backend::Wasm;
        let name = describe(&key);
        let host_key = key.host.as_deref().filter(|_| host_use != HostUse::Off);
        let verdict = match host_key {
            Some(k) if host_capable(key.verifier.alg()) => host_accepts_key(host, k),
            _ => Err("not an algorithm the host checks".into()),
        };
        match (verdict, host_use) {
            (Ok(()), HostUse::Preferred | HostUse::Required) => key.backend = Backend::Host,
            (Err(_), HostUse::Required) if is_pss(&key) => {
                // An RSA key serves PS* too; with `host` it serves RS* only.
                log::info!("jwt: {name} not used: signature_backend `host` checks RS* only");
                continue;
            }
            (Err(why), HostUse::Required) => {
                dropped.push(format!("{name}: {why}"));
                continue;
            }
            (Err(why), HostUse::Preferred) => {
                log::info!("jwt: {name} checked in Wasm: {why}");
            }
            (_, HostUse::Off) => {}
        }
        keys.push(key);
    }
    (KeySet { keys }, dropped)
}

fn is_pss(key: &Key) -> bool {
    matches!(
        key.verifier.alg(),
        crate::alg::Alg::Ps256 | crate::alg::Alg::Ps384 | crate::alg::Alg::Ps512
    )
}

/// `key `kid` (ALG)` for log lines and errors; never key material.
pub fn describe(key: &Key) -> String {
    match &key.kid {
        Some(kid) => format!("key `{kid}` ({})", key.verifier.alg()),
        None => format!("key without kid ({})", key.verifier.alg()),
    }
}

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
