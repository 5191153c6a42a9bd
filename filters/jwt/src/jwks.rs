//! JWK Sets (RFC 7517 §5) into verification keys. Each entry that cannot be used is skipped with
//! a log line saying why; a set with no usable key at all is an error.

use crate::alg::{Alg, HMAC_ALGS, RSA_ALGS};
use crate::keys::{Key, Verifier};
use crate::token::decode_b64url;
use jwt_simple::prelude::{
    ES256PublicKey, ES384PublicKey, Ed25519PublicKey, HS256Key, HS384Key, HS512Key, PS256PublicKey,
    PS384PublicKey, PS512PublicKey, RS256PublicKey, RS384PublicKey, RS512PublicKey,
};
use serde_json::{Map, Value};

/// Entries read from one set at most; a larger set is cut (and the cut logged).
pub const MAX_KEYS: usize = 100;

/// Where a key set comes from: symmetric keys are secrets, so only local configuration may hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `local_jwks`: configured by the operator.
    Local,
    /// `remote_jwks`: fetched over the network.
    Remote,
}

/// The usable keys of a JWKS.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// One entry per (JWK, algorithm): an RSA JWK without `alg` gives six.
    pub keys: Vec<Key>,
}

impl KeySet {
    /// Keys that may verify a token with this `kid`, in set order.
    pub fn for_kid<'a>(&'a self, kid: Option<&'a str>) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys.iter().filter(move |k| k.matches_kid(kid))
    }
}

/// Parses a JWKS document. Errors say why no key is usable.
pub fn parse_jwks(text: &str, origin: KeyOrigin) -> Result<KeySet, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("JWKS is not JSON: {e}"))?;
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWKS has no `keys` array")?;
    if entries.len() > MAX_KEYS {
        log::warn!(
            "jwt: JWKS has {} keys; only the first {MAX_KEYS} are read",
            entries.len()
        );
    }
    let mut keys = Vec::new();
    let mut skipped = 0usize;
    for (i, entry) in entries.iter().take(MAX_KEYS).enumerate() {
        match parse_entry(entry, origin) {
            Ok(mut found) => keys.append(&mut found),
            Err(why) => {
                skipped += 1;
                log::warn!("jwt: JWKS keys[{i}] skipped: {why}");
            }
        }
    }
    if keys.is_empty() {
        return Err(format!(
            "JWKS has no usable key ({} entries, {skipped} skipped)",
            entries.len()
        ));
    }
    Ok(KeySet { keys })
}

fn string_member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` is not a string")),
    }
}

/// One JWK into its keys (one per algorithm it may be used with).
fn parse_entry(entry: &Value, origin: KeyOrigin) -> Result<Vec<Key>, String> {
    let jwk = entry.as_object().ok_or("not a JSON object")?;
    let kty = string_member(jwk, "kty")?.ok_or("no `kty`")?;
    let kid = string_member(jwk, "kid")?.map(str::to_string);
    if let Some(key_use) = string_member(jwk, "use")? {
        if key_use != "sig" {
            return Err(format!("`use` is `{key_use}`, not `sig`"));
        }
    }
    check_key_ops(jwk, kty == "oct")?;
    let alg = match string_member(jwk, "alg")? {
        None => None,
        Some(name) => {
            Some(Alg::from_name(name).ok_or_else(|| format!("`alg` `{name}` is not supported"))?)
        }
    };
    let json = serde_json::to_string(entry).map_err(|e| e.to_string())?;
    let verifiers = match kty {
        "RSA" => rsa_verifiers(&json, alg)?,
        "EC" => vec![ec_verifier(jwk, &json, alg)?],
        "OKP" => vec![okp_verifier(jwk, &json, alg)?],
        "oct" if origin == KeyOrigin::Remote => {
            return Err("symmetric (`oct`) keys are only accepted from local_jwks".into())
        }
        "oct" => hmac_verifiers(jwk, alg)?,
        other => return Err(format!("`kty` `{other}` is not supported")),
    };
    Ok(verifiers
        .into_iter()
        .map(|verifier| Key::new(kid.clone(), verifier))
        .collect())
}

/// `key_ops`, when given, must allow verification and nothing a public key cannot do.
fn check_key_ops(jwk: &Map<String, Value>, symmetric: bool) -> Result<(), String> {
    let Some(ops) = jwk.get("key_ops") else {
        return Ok(());
    };
    let ops = ops.as_array().ok_or("`key_ops` is not an array")?;
    let mut verify = false;
    for op in ops {
        match op.as_str() {
            Some("verify") => verify = true,
            Some("sign") if symmetric => {}
            _ => {
                return Err(format!(
                    "`key_ops` has {}, not for signature verification",
                    palisade_core::json_text::value_to_string(op)
                ))
            }
        }
    }
    if verify {
        Ok(())
    } else {
        Err("`key_ops` does not allow `verify`".into())
    }
}

fn lib_error(e: jwt_simple::Error) -> String {
    format!("invalid key: {e}")
}

fn rsa_verifiers(json: &str, alg: Option<Alg>) -> Result<Vec<Verifier>, String> {
    let algs: Vec<Alg> = match alg {
        Some(a) if RSA_ALGS.contains(&a) => vec![a],
        Some(a) => return Err(format!("`alg` `{a}` is not for an RSA key")),
        None => RSA_ALGS.to_vec(),
    };
    algs.into_iter()
        .map(|a| {
            Ok(match a {
                Alg::Rs256 => Verifier::Rs256(RS256PublicKey::from_jwk(json).map_err(lib_error)?),
                Alg::Rs384 => Verifier::Rs384(RS384PublicKey::from_jwk(json).map_err(lib_error)?),
                Alg::Rs512 => Verifier::Rs512(RS512PublicKey::from_jwk(json).map_err(lib_error)?),
                Alg::Ps256 => Verifier::Ps256(PS256PublicKey::from_jwk(json).map_err(lib_error)?),
                Alg::Ps384 => Verifier::Ps384(PS384PublicKey::from_jwk(json).map_err(lib_error)?),
                _ => Verifier::Ps512(PS512PublicKey::from_jwk(json).map_err(lib_error)?),
            })
        })
        .collect()
}

/// The curve decides the algorithm; an `alg` naming another is a mismatch.
fn ec_verifier(jwk: &Map<String, Value>, json: &str, alg: Option<Alg>) -> Result<Verifier, String> {
    let crv = string_member(jwk, "crv")?.ok_or("EC key without `crv`")?;
    let curve_alg = match crv {
        "P-256" => Alg::Es256,
        "P-384" => Alg::Es384,
        "P-521" => Alg::Es512,
        other => return Err(format!("curve `{other}` is not supported")),
    };
    if let Some(a) = alg.filter(|a| *a != curve_alg) {
        return Err(format!("`alg` `{a}` does not match curve `{crv}`"));
    }
    Ok(match curve_alg {
        Alg::Es256 => Verifier::Es256(ES256PublicKey::from_jwk(json).map_err(lib_error)?),
        Alg::Es384 => Verifier::Es384(ES384PublicKey::from_jwk(json).map_err(lib_error)?),
        _ => Verifier::Es512(Box::new(p521_key(jwk)?)),
    })
}

/// P-521 public key from `x` and `y` (66 bytes each, RFC 7518 §6.2.1); the point must be on the curve.
fn p521_key(jwk: &Map<String, Value>) -> Result<p521::ecdsa::VerifyingKey, String> {
    if jwk.contains_key("d") {
        return Err("private key material (`d`) in a public key set".into());
    }
    let coordinate = |name: &str| -> Result<Vec<u8>, String> {
        let text = string_member(jwk, name)?.ok_or(format!("EC key without `{name}`"))?;
        let bytes = decode_b64url(text, name).map_err(|e| e.to_string())?;
        if bytes.len() == 66 {
            Ok(bytes)
        } else {
            Err(format!("`{name}` is {} bytes, P-521 needs 66", bytes.len()))
        }
    };
    let mut sec1 = vec![0x04];
    sec1.extend(coordinate("x")?);
    sec1.extend(coordinate("y")?);
    p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
        .map_err(|_| "P-521 point is not on the curve".to_string())
}

fn okp_verifier(
    jwk: &Map<String, Value>,
    json: &str,
    alg: Option<Alg>,
) -> Result<Verifier, String> {
    match string_member(jwk, "crv")? {
        Some("Ed25519") => {}
        Some(other) => return Err(format!("OKP curve `{other}` is not supported")),
        None => return Err("OKP key without `crv`".into()),
    }
    if let Some(a) = alg.filter(|a| *a != Alg::EdDsa) {
        return Err(format!("`alg` `{a}` is not for an Ed25519 key"));
    }
    Ok(Verifier::EdDsa(
        Ed25519PublicKey::from_jwk(json).map_err(lib_error)?,
    ))
}

/// A configured secret: each HMAC algorithm its length allows (RFC 7518 §3.2), or the one `alg` names.
fn hmac_verifiers(jwk: &Map<String, Value>, alg: Option<Alg>) -> Result<Vec<Verifier>, String> {
    let k = string_member(jwk, "k")?.ok_or("oct key without `k`")?;
    let secret = decode_b64url(k, "k").map_err(|e| e.to_string())?;
    let algs: Vec<Alg> = match alg {
        Some(a) if HMAC_ALGS.contains(&a) => vec![a],
        Some(a) => return Err(format!("`alg` `{a}` is not for a symmetric key")),
        None => HMAC_ALGS.to_vec(),
    };
    let usable: Vec<Verifier> = algs
        .into_iter()
        .filter(|a| secret.len() >= a.min_hmac_key_len())
        .map(|a| match a {
            Alg::Hs256 => Verifier::Hs256(HS256Key::from_bytes(&secret)),
            Alg::Hs384 => Verifier::Hs384(HS384Key::from_bytes(&secret)),
            _ => Verifier::Hs512(HS512Key::from_bytes(&secret)),
        })
        .collect();
    if usable.is_empty() {
        return Err(format!(
            "secret of {} bytes is shorter than its algorithm's hash",
            secret.len()
        ));
    }
    Ok(usable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::{jwk_of_es256, jwk_of_rs256_without_alg};
    use serde_json::json;

    fn algs(set: &KeySet) -> Vec<Alg> {
        set.keys.iter().map(|k| k.verifier.alg()).collect()
    }

    #[test]
    fn malformed_entries_are_skipped_and_good_ones_kept() {
        let (good, _) = jwk_of_es256("good");
        let doc = json!({"keys": [
            "not an object",
            {"kid": "no-kty"},
            {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "bad-point"},
            {"kty": "EC", "crv": "P-256", "alg": "ES384", "kid": "alg-mismatch"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny-rsa"},
            {"kty": "XYZ", "kid": "unknown-kty"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "kid": "enc"},
            good,
        ]});
        let set = parse_jwks(&doc.to_string(), KeyOrigin::Remote).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some("good"));
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        for doc in [
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"XYZ"}]}"#,
            r#"{"nokeys":1}"#,
            "not json",
        ] {
            assert!(parse_jwks(doc, KeyOrigin::Remote).is_err(), "{doc}");
        }
        let err = parse_jwks(r#"{"keys":[{"kty":"XYZ"}]}"#, KeyOrigin::Remote).unwrap_err();
        assert!(err.contains("no usable key"), "{err}");
    }

    #[test]
    fn rsa_without_alg_serves_every_rsa_algorithm_and_nothing_else() {
        let (jwk, _) = jwk_of_rs256_without_alg("r");
        let set = parse_jwks(&json!({ "keys": [jwk] }).to_string(), KeyOrigin::Remote).unwrap();
        assert_eq!(algs(&set), RSA_ALGS.to_vec());
    }

    #[test]
    fn alg_on_the_jwk_pins_the_algorithm() {
        let (mut jwk, _) = jwk_of_rs256_without_alg("r");
        jwk["alg"] = json!("PS384");
        let set = parse_jwks(&json!({ "keys": [jwk] }).to_string(), KeyOrigin::Remote).unwrap();
        assert_eq!(algs(&set), vec![Alg::Ps384]);
        let (mut ec, _) = jwk_of_es256("e");
        ec["alg"] = json!("RS256");
        assert!(parse_jwks(&json!({ "keys": [ec] }).to_string(), KeyOrigin::Remote).is_err());
    }

    #[test]
    fn symmetric_keys_only_from_local_configuration() {
        // k: 32 bytes of 0x01, base64url.
        let doc = json!({"keys":[{"kty":"oct","kid":"s","k":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}]}).to_string();
        assert!(parse_jwks(&doc, KeyOrigin::Remote).is_err());
        let set = parse_jwks(&doc, KeyOrigin::Local).unwrap();
        // 32 bytes: long enough for HS256 only (RFC 7518 §3.2).
        assert_eq!(algs(&set), vec![Alg::Hs256]);
        let short = json!({"keys":[{"kty":"oct","k":"AQEB"}]}).to_string();
        assert!(parse_jwks(&short, KeyOrigin::Local).is_err());
    }

    #[test]
    fn key_ops_and_private_material_are_checked() {
        let (mut jwk, _) = jwk_of_es256("e");
        jwk["key_ops"] = json!(["sign"]);
        assert!(parse_jwks(
            &json!({ "keys": [jwk.clone()] }).to_string(),
            KeyOrigin::Remote
        )
        .is_err());
        jwk["key_ops"] = json!(["verify"]);
        assert!(parse_jwks(
            &json!({ "keys": [jwk.clone()] }).to_string(),
            KeyOrigin::Remote
        )
        .is_ok());
        jwk["d"] = json!("AAAA");
        assert!(parse_jwks(&json!({ "keys": [jwk] }).to_string(), KeyOrigin::Remote).is_err());
    }
}
