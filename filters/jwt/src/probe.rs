//! Whether the host can check signatures: a known-good probe in `on_configure` (RFC 7515
//! A.2 RS256 and A.3 ES256, which must verify, each with a flipped byte, which must not), then
//! the backend choice applied to the configured key sets.

use crate::backend::{bind, describe, HostUse};
use crate::compile::{Compiled, KeySource};
use crate::config::SignatureBackend;
use crate::hostsig::{call_verify, host_signature, HostVerdict};
use crate::jwks::{parse_jwks, KeyOrigin};
use crate::token;
use palisade_core::config::ConfigError;
use palisade_core::host::Host;

/// RFC 7515 A.2: an RS256 key and a token it signed.
const RS256_JWKS: &str = r#"{"keys":[{"kty":"RSA","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}]}"#;
const RS256_JWS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
/// RFC 7515 A.3: an ES256 key and a token it signed.
const ES256_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
const ES256_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// One probe: the token must verify on the host, and with its last signature byte flipped must not.
#[inline]
fn probe_one(host: &dyn Host, jwks: &str, jws: &str) -> Result<(), String> {
    let set = parse_jwks(jwks, KeyOrigin::Remote)?;
    let jws = token::parse(jws, 8192).map_err(|e| e.to_string())?;
    let key = set
        .keys
        .iter()
        .find(|k| k.verifier.alg() == jws.header.alg)
        .and_then(|k| k.host.as_deref())
        .ok_or("probe key has no host form")?;
    let ask = |signature: &[u8]| {
        let signature = host_signature(key, signature).ok_or("probe signature refused")?;
        call_verify(host, key, &signature, jws.signing_input.as_bytes())
            .map_err(|e| format!("verify_signature: {e:?}"))
    };
    match ask(&jws.signature)? {
        HostVerdict::Valid => {}
        HostVerdict::Invalid(why) => {
            return Err(format!(
                "a valid {} signature was refused: {why}",
                jws.header.alg
            ))
        }
    }
    let mut bad = jws.signature.clone();
    if let Some(last) = bad.last_mut() {
        *last ^= 1;
    }
    match ask(&bad)? {
        HostVerdict::Invalid(_) => Ok(()),
        HostVerdict::Valid => Err(format!(
            "a tampered {} signature was accepted",
            jws.header.alg
        )),
    }
}

/// Whether the host's `verify_signature` checks RS256 and ES256 correctly.
#[inline]
pub fn probe(host: &dyn Host) -> Result<(), String> {
    probe_one(host, RS256_JWKS, RS256_JWS)?;
    probe_one(host, ES256_JWKS, ES256_JWS)
}

/// Applies `signature_backend` with this host: probes it, binds the local key sets, and records
/// how remote sets will be bound. Returns a one-line summary for the log.
#[inline]
pub fn select(host: &dyn Host, compiled: &mut Compiled) -> Result<String, ConfigError> {
    let host_use = match compiled.signature_backend {
        SignatureBackend::Wasm => HostUse::Off,
        choice => match probe(host) {
            Ok(()) if choice == SignatureBackend::Host => HostUse::Required,
            Ok(()) => HostUse::Preferred,
            Err(why) if choice == SignatureBackend::Host => {
                return Err(ConfigError::at(
                    "signature_backend",
                    format!("`host` needs the host's verify_signature (Envoy 1.30+), which failed its probe: {why}"),
                ))
            }
            Err(why) => {
                log::info!("jwt: host signature checks unavailable ({why}); all signatures checked in Wasm");
                HostUse::Off
            }
        },
    };
    compiled.host_use = host_use;
    let (mut on_host, mut in_wasm) = (0usize, 0usize);
    for provider in &mut compiled.providers {
        if let KeySource::Local(set) = &mut provider.keys {
            let (bound, dropped) = bind(set, host_use, host);
            if let Some(why) = dropped.first() {
                return Err(ConfigError::at(
                    format!("providers.{}.local_jwks", provider.name),
                    format!("signature_backend `host`: the host cannot check {why}"),
                ));
            }
            if bound.keys.is_empty() {
                return Err(ConfigError::at(
                    format!("providers.{}.local_jwks", provider.name),
                    "signature_backend `host`: no key of this set is one the host checks (RS256/384/512, ES256/384/512)",
                ));
            }
            for key in &bound.keys {
                log::debug!("jwt: {} checked by {:?}", describe(key), key.backend);
            }
            on_host += bound
                .keys
                .iter()
                .filter(|k| k.backend == crate::backend::Backend::Host)
                .count();
            in_wasm += bound
                .keys
                .iter()
                .filter(|k| k.backend == crate::backend::Backend::Wasm)
                .count();
            *set = bound;
        }
    }
    Ok(format!(
        "signatures: {host_use:?} host use; local keys: {on_host} on the host, {in_wasm} in Wasm"
    ))
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
