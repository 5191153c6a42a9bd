//! Differential test of the jwt signature backends on Google's Wycheproof vectors (issue 12) and
//! the RFC 7515/7520 RS*/ES* examples as raw pairs, through a real Envoy. Wycheproof messages are arbitrary bytes, not JWS signing inputs, so
//! they go through the test-only verify-probe module (tests/verify-probe): the filter's JWKS
//! parser, backend binding and signature checks on raw (message, signature) pairs. Two Envoys
//! load it, one with `signature_backend: host` (Envoy's `verify_signature`, BoringSSL) and one
//! with `wasm` (the Rust code); every vector must get the same decision from both, and the
//! decision Wycheproof expects.
//!
//! JWS signatures are raw `r || s`: the P1363 files are sent as they are. A DER file's vector
//! is sent twice: its DER bytes as the signature (never a JWS signature: always refused), and,
//! when it is canonical DER with r and s no longer than the curve's scalar, as raw `r || s`
//! (out-of-range values included), which tests the strict raw-to-DER conversion of the host path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use wycheproof::TestResult;

/// Vectors per request (a 4096-bit batch stays well under Envoy's buffer limits).
const BATCH: usize = 64;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One vector as sent.
struct Vector {
    /// File, tcId and which form of the signature.
    name: String,
    msg: Vec<u8>,
    sig: Vec<u8>,
    expected: TestResult,
}

/// One key and its vectors.
struct Group {
    file: String,
    /// Key size and exponent, for RSA keys (the filter takes 2048-4096 bits, e = 65537).
    key: String,
    jwk: Value,
    vectors: Vec<Vector>,
}

/// The JWS algorithm, JWK curve name and scalar length of the curve/hash pairs JWS defines.
fn ecdsa_alg(name: wycheproof::ecdsa::TestName) -> Option<(&'static str, &'static str, usize)> {
    use wycheproof::ecdsa::TestName as T;
    Some(match name {
        T::EcdsaSecp256r1Sha256 | T::EcdsaSecp256r1Sha256P1363 => ("ES256", "P-256", 32),
        T::EcdsaSecp384r1Sha384 | T::EcdsaSecp384r1Sha384P1363 => ("ES384", "P-384", 48),
        T::EcdsaSecp521r1Sha512 | T::EcdsaSecp521r1Sha512P1363 => ("ES512", "P-521", 66),
        _ => return None,
    })
}

/// Why an ECDSA file is not sent.
fn ecdsa_skip(name: &str) -> &'static str {
    let n = name.to_ascii_lowercase();
    if n.contains("bitcoin") {
        "Bitcoin's low-s rule is not a JWS rule"
    } else if n.contains("secp256k1") {
        "secp256k1 (ES256K, RFC 8812) is not an algorithm the filter verifies"
    } else if !(n.contains("secp256r1") || n.contains("secp384r1") || n.contains("secp521r1")) {
        "a curve JWS does not define (RFC 7518 §3.4: P-256, P-384, P-521)"
    } else {
        "a hash JWS does not pair with this curve (ES256 = P-256/SHA-256, ES384 = P-384/SHA-384, ES512 = P-521/SHA-512)"
    }
}

/// The RS* algorithm of an RSA file, or why it is not sent.
fn rsa_alg(name: wycheproof::rsa_pkcs1_verify::TestName) -> Result<&'static str, &'static str> {
    let n = format!("{name:?}");
    if n.contains("Sha3_") || n.contains("Sha512_") || n.contains("Sha224") {
        return Err("a hash JWS RS* does not use (RFC 7518 §3.3: SHA-256, SHA-384, SHA-512)");
    }
    Ok(if n.ends_with("Sha256") {
        "RS256"
    } else if n.ends_with("Sha384") {
        "RS384"
    } else {
        "RS512"
    })
}

/// The unsigned big-endian value of a canonical DER INTEGER, or `None` (negative, non-minimal).
fn der_unsigned(int: &[u8]) -> Option<&[u8]> {
    let first = *int.first()?;
    if first & 0x80 != 0 {
        return None;
    }
    if first == 0 && int.len() > 1 {
        return (int[1] & 0x80 != 0).then(|| &int[1..]);
    }
    Some(int)
}

/// Tag, contents and the rest, for a DER TLV with a minimal definite length.
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let (len, head): (usize, usize) = match *b.get(1)? {
        l @ 0..=0x7f => (usize::from(l), 2),
        0x81 => match *b.get(2)? {
            l @ 0x80.. => (usize::from(l), 3),
            _ => return None,
        },
        0x82 => {
            let l = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
            (l >= 0x100).then_some((l, 4))?
        }
        _ => return None,
    };
    let end = head.checked_add(len)?;
    Some((tag, b.get(head..end)?, &b[end..]))
}

/// `r || s` of a canonical DER `Ecdsa-Sig-Value` whose integers fit the curve's scalar length
/// (values at or above the group order included: the filter must refuse those itself).
fn der_to_raw(der: &[u8], scalar: usize) -> Option<Vec<u8>> {
    let (0x30, body, []) = der_tlv(der)? else {
        return None;
    };
    let (0x02, r, rest) = der_tlv(body)? else {
        return None;
    };
    let (0x02, s, []) = der_tlv(rest)? else {
        return None;
    };
    let (r, s) = (der_unsigned(r)?, der_unsigned(s)?);
    if r.len() > scalar || s.len() > scalar {
        return None;
    }
    let mut raw = vec![0u8; 2 * scalar];
    raw[scalar - r.len()..scalar].copy_from_slice(r);
    raw[2 * scalar - s.len()..].copy_from_slice(s);
    Some(raw)
}

fn ecdsa_groups(skips: &mut Vec<String>) -> Vec<Group> {
    let mut groups = Vec::new();
    for name in wycheproof::ecdsa::TestName::all() {
        let Some((alg, crv, scalar)) = ecdsa_alg(name) else {
            skips.push(format!("{name:?}: {}", ecdsa_skip(&format!("{name:?}"))));
            continue;
        };
        let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
        let p1363 = format!("{name:?}").ends_with("P1363");
        for g in set.test_groups {
            let point = &g.key.key;
            assert_eq!(point.len(), 1 + 2 * scalar, "{name:?}: uncompressed point");
            let jwk = json!({
                "kty": "EC", "crv": crv, "alg": alg,
                "x": b64(&point[1..=scalar]), "y": b64(&point[1 + scalar..]),
            });
            let mut vectors = Vec::new();
            for t in g.tests {
                let id = format!("{name:?} #{} ({})", t.tc_id, t.comment);
                if p1363 {
                    vectors.push(Vector {
                        name: id,
                        msg: t.msg.to_vec(),
                        sig: t.sig.to_vec(),
                        expected: t.result,
                    });
                    continue;
                }
                if let Some(raw) = der_to_raw(&t.sig, scalar) {
                    vectors.push(Vector {
                        name: format!("{id} (as r||s)"),
                        msg: t.msg.to_vec(),
                        sig: raw,
                        expected: t.result,
                    });
                }
                vectors.push(Vector {
                    name: format!("{id} (DER as sent)"),
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                    expected: TestResult::Invalid,
                });
            }
            groups.push(Group {
                file: format!("{name:?}"),
                key: crv.to_string(),
                jwk,
                vectors,
            });
        }
    }
    groups
}

/// Unsigned big-endian without leading zeros, as a JWK carries it.
fn unsigned(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn rsa_groups(skips: &mut Vec<String>) -> Vec<Group> {
    let mut groups = Vec::new();
    for name in wycheproof::rsa_pkcs1_verify::TestName::all() {
        let alg = match rsa_alg(name) {
            Ok(alg) => alg,
            Err(why) => {
                skips.push(format!("{name:?}: {why}"));
                continue;
            }
        };
        let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).unwrap();
        for g in set.test_groups {
            let jwk = json!({
                "kty": "RSA", "alg": alg,
                "n": b64(unsigned(&g.key.n)), "e": b64(unsigned(&g.key.e)),
            });
            let vectors = g
                .tests
                .into_iter()
                .map(|t| Vector {
                    name: format!("{name:?} #{} ({})", t.tc_id, t.comment),
                    msg: t.msg.to_vec(),
                    sig: t.sig.to_vec(),
                    expected: t.result,
                })
                .collect();
            groups.push(Group {
                file: format!("{name:?}"),
                key: format!("{} bits, e = 0x{}", g.key_size, hex(unsigned(&g.key.e))),
                jwk,
                vectors,
            });
        }
    }
    groups
}

/// The public members of a JWK.
fn public(jwk: &Value) -> Value {
    let mut public = jwk.clone();
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        public.as_object_mut().unwrap().remove(private);
    }
    public
}

fn read_json(path: std::path::PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The RFC 7515 appendix and RFC 7520 RS*/ES* examples as raw (signing input, signature) pairs,
/// so their expired claims play no part: as sent (valid), and tampered (all invalid).
fn rfc_groups(skips: &mut Vec<String>) -> Vec<Group> {
    let Some(dir) = palisade_e2e::paths::conformance_dir() else {
        skips.push("RFC 7515/7520 vectors: conformance data missing".into());
        return Vec::new();
    };
    let jose = dir.join("jose");
    let mut found = Vec::new();
    let doc = read_json(jose.join("rfc7515_8037_appendix_vectors.json"));
    for v in doc["vectors"].as_array().unwrap() {
        let valid = v["expect_signature_valid"].as_bool().unwrap();
        found.push((
            v["id"].as_str().unwrap().to_string(),
            v["alg"].clone(),
            v.get("jwk").cloned(),
            v["jws"].clone(),
            valid,
        ));
    }
    for file in [
        "jws_4_1.rsa_v15_signature.json",
        "jws_4_3.ecdsa_signature.json",
    ] {
        let v = read_json(jose.join("rfc7520").join(file));
        found.push((
            format!("RFC7520 {file}"),
            v["input"]["alg"].clone(),
            Some(v["input"]["key"].clone()),
            v["output"]["compact"].clone(),
            true,
        ));
    }
    let mut groups = Vec::new();
    for (id, alg, jwk, jws, valid) in found {
        let alg = alg.as_str().unwrap();
        let Some(jwk) = jwk.filter(|_| {
            matches!(
                alg,
                "RS256" | "RS384" | "RS512" | "ES256" | "ES384" | "ES512"
            )
        }) else {
            skips.push(format!("{id} ({alg}): not an algorithm the host backend checks (compared token by token in jwt_backends.rs)"));
            continue;
        };
        let mut jwk = public(&jwk);
        jwk["alg"] = json!(alg);
        let (input, sig) = jws.as_str().unwrap().rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let mut flipped = sig.clone();
        flipped[sig.len() / 2] ^= 1;
        let mut forms = vec![
            (
                "as sent",
                sig.clone(),
                if valid {
                    TestResult::Valid
                } else {
                    TestResult::Invalid
                },
            ),
            ("bit flipped", flipped, TestResult::Invalid),
            (
                "one byte short",
                sig[..sig.len() - 1].to_vec(),
                TestResult::Invalid,
            ),
            (
                "one byte long",
                [&sig[..], &[0]].concat(),
                TestResult::Invalid,
            ),
            ("all zero", vec![0; sig.len()], TestResult::Invalid),
        ];
        if alg.starts_with("ES") {
            let (r, s) = sig.split_at(sig.len() / 2);
            forms.push(("as DER", der_of(r, s), TestResult::Invalid));
        }
        let vectors = forms
            .into_iter()
            .map(|(what, sig, expected)| Vector {
                name: format!("{id} ({what})"),
                msg: input.as_bytes().to_vec(),
                sig,
                expected,
            })
            .collect();
        groups.push(Group {
            file: id,
            key: alg.to_string(),
            jwk,
            vectors,
        });
    }
    groups
}

/// A DER `Ecdsa-Sig-Value` of r and s (big-endian), for the "DER instead of r||s" attack.
fn der_of(r: &[u8], s: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x = unsigned(x);
        let pad = x.first().is_some_and(|b| b & 0x80 != 0);
        let body = [if pad { &[0u8][..] } else { &[] }, x].concat();
        [&[0x02, body.len() as u8][..], &body].concat()
    };
    let body = [int(r), int(s)].concat();
    let len = if body.len() < 0x80 {
        vec![body.len() as u8]
    } else {
        vec![0x81, body.len() as u8]
    };
    [&[0x30][..], &len, &body].concat()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What one backend said about a group: a letter per vector, or why the key was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Said {
    Decisions(Vec<bool>),
    KeyRefused(String),
}

/// Sends a group in batches; also returns (host checks, wasm checks).
fn ask(envoy: &Envoy, group: &Group) -> (Said, u64, u64) {
    let (mut decisions, mut on_host, mut in_wasm) = (Vec::new(), 0, 0);
    for chunk in group.vectors.chunks(BATCH) {
        let vectors: Vec<[String; 2]> = chunk.iter().map(|v| [b64(&v.msg), b64(&v.sig)]).collect();
        let resp = envoy
            .request("POST", "/verify")
            .json(&json!({"jwk": group.jwk, "vectors": vectors}))
            .send();
        assert_eq!(resp.status, 200, "{}: {}", group.file, resp.text());
        let body = resp.json();
        if let Some(why) = body["key_refused"].as_str() {
            return (Said::KeyRefused(why.to_string()), 0, 0);
        }
        let letters = body["results"].as_str().unwrap();
        assert_eq!(
            letters.len(),
            chunk.len(),
            "{}: one decision per vector",
            group.file
        );
        decisions.extend(letters.chars().map(|c| c == 'V'));
        on_host += body["host_checks"].as_u64().unwrap();
        in_wasm += body["wasm_checks"].as_u64().unwrap();
    }
    (Said::Decisions(decisions), on_host, in_wasm)
}

fn probe(backend: &str, upstream: &Upstream) -> Envoy {
    let module = palisade_e2e::paths::wasm_dir().join("palisade_verify_probe.wasm");
    assert!(
        module.exists(),
        "{} is missing: cargo build --release --target wasm32-wasip1 -p palisade-verify-probe (cargo xtask build does it)",
        module.display()
    );
    Envoy::builder()
        .filter(Filter::wasm_module(
            "verify_probe",
            &module,
            json!({"signature_backend": backend}),
        ))
        .start(upstream)
        .unwrap_or_else(|e| panic!("{backend}: {}", e.log))
}

/// Per file: vectors, equal between backends, matching Wycheproof.
#[derive(Default)]
struct Tally {
    vectors: usize,
    equal: usize,
    as_expected: usize,
    key_refused: usize,
}

#[test]
fn wycheproof_vectors_get_the_same_decision_from_both_backends() {
    let mut skips = Vec::new();
    let mut groups = rfc_groups(&mut skips);
    groups.extend(ecdsa_groups(&mut skips));
    groups.extend(rsa_groups(&mut skips));
    let upstream = Upstream::start();
    let host = probe("host", &upstream);
    let wasm = probe("wasm", &upstream);

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut differences, mut unexpected, mut acceptable) = (Vec::new(), Vec::new(), Vec::new());
    let mut refused_valid = BTreeMap::<String, usize>::new();
    let (mut host_on_host, mut host_in_wasm, mut wasm_on_host, mut wasm_in_wasm) = (0, 0, 0, 0);
    for group in &groups {
        // Both backends at once: the Wasm one's RSA and P-521 checks dominate the run time.
        let ((by_host, h_host, h_wasm), (by_wasm, w_host, w_wasm)) = std::thread::scope(|s| {
            let on_host = s.spawn(|| ask(&host, group));
            let in_wasm = ask(&wasm, group);
            (on_host.join().unwrap(), in_wasm)
        });
        (host_on_host, host_in_wasm) = (host_on_host + h_host, host_in_wasm + h_wasm);
        (wasm_on_host, wasm_in_wasm) = (wasm_on_host + w_host, wasm_in_wasm + w_wasm);
        let tally = tallies.entry(group.file.clone()).or_default();
        tally.vectors += group.vectors.len();
        match (&by_host, &by_wasm) {
            (Said::KeyRefused(a), Said::KeyRefused(b)) if a == b => {
                // The shared JWKS parser refused the key: nothing was checked, on either backend.
                tally.equal += group.vectors.len();
                tally.key_refused += group.vectors.len();
                for v in &group.vectors {
                    match v.expected {
                        TestResult::Invalid => tally.as_expected += 1,
                        _ => {
                            let what = format!("{} key {}: {a}", group.file, group.key);
                            *refused_valid.entry(what).or_default() += 1;
                        }
                    }
                }
            }
            (Said::Decisions(a), Said::Decisions(b)) => {
                for ((v, &h), &w) in group.vectors.iter().zip(a).zip(b) {
                    if h != w {
                        differences.push(format!("{}: host {h}, wasm {w}", v.name));
                        continue;
                    }
                    tally.equal += 1;
                    match v.expected {
                        TestResult::Valid if h => tally.as_expected += 1,
                        TestResult::Invalid if !h => tally.as_expected += 1,
                        TestResult::Acceptable => {
                            tally.as_expected += 1;
                            acceptable.push(format!(
                                "{}: both {}",
                                v.name,
                                if h { "accept" } else { "refuse" }
                            ));
                        }
                        other => unexpected
                            .push(format!("{}: Wycheproof {other:?}, both said {h}", v.name)),
                    }
                }
            }
            (a, b) => differences.push(format!("{}: host {a:?}, wasm {b:?}", group.file)),
        }
    }

    for s in &skips {
        println!("SKIPPED {s}");
    }
    println!(
        "{:<50} {:>7} {:>7} {:>9} {:>11}",
        "file", "vectors", "equal", "expected", "key refused"
    );
    let mut total = Tally::default();
    for (file, t) in &tallies {
        println!(
            "{file:<50} {:>7} {:>7} {:>9} {:>11}",
            t.vectors, t.equal, t.as_expected, t.key_refused
        );
        total.vectors += t.vectors;
        total.equal += t.equal;
        total.as_expected += t.as_expected;
        total.key_refused += t.key_refused;
    }
    for a in &acceptable {
        println!("ACCEPTABLE {a}");
    }
    for (why, n) in &refused_valid {
        println!("KEY REFUSED (Wycheproof valid/acceptable) {n} vectors: {why}");
    }
    println!(
        "{} vectors x 2 backends: {} equal, {} different, {} as expected (Wycheproof, RFC), {} on a key the \
         filter refuses; checks: host backend {host_on_host} on the host + {host_in_wasm} in Wasm, \
         wasm backend {wasm_in_wasm} in Wasm; {} files skipped",
        total.vectors,
        total.equal,
        differences.len(),
        total.as_expected,
        total.key_refused,
        skips.len()
    );
    assert!(
        differences.is_empty(),
        "backends differ:\n{}",
        differences.join("\n")
    );
    assert!(
        unexpected.is_empty(),
        "not as Wycheproof expects:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(
        host_in_wasm, 0,
        "signature_backend host: every check on the host"
    );
    assert_eq!(wasm_on_host, 0, "signature_backend wasm: never the host");
    assert_eq!(host_on_host, wasm_in_wasm, "the same checks on both");
    let rfc: usize = tallies
        .iter()
        .filter(|(f, _)| f.starts_with("RFC"))
        .map(|(_, t)| t.vectors)
        .sum();
    assert!(
        rfc >= 25 || palisade_e2e::paths::conformance_dir().is_none(),
        "the RFC RS*/ES* examples were sent ({rfc})"
    );
    assert!(
        total.vectors > 6000,
        "the JWS files were all read ({})",
        total.vectors
    );
    // Only keys with e = 3 (the filter takes e = 65537 only) and 8192-bit keys (over 4096) are refused.
    for what in refused_valid.keys() {
        assert!(
            what.contains("e = 0x03") || what.contains("8192 bits"),
            "a key the filter should load was refused: {what}"
        );
    }
}
