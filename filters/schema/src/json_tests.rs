use super::*;
use serde_json::json;

const LIMITS: JsonLimits = JsonLimits {
    max_depth: 8,
    max_number_length: 20,
    duplicate_keys: DuplicateKeys::Reject,
};

#[test]
fn ordinary_json_parses_to_the_same_value_as_serde_json() {
    let text =
        br#"{"a":[1,-2.5,1e3,true,false,null,"x\"y[{"],"b":{"c":{}},"d":18446744073709551615}"#;
    let expected: Value = serde_json::from_slice(text).unwrap();
    assert_eq!(parse(text, &LIMITS).unwrap(), expected);
}

#[test]
fn nesting_beyond_the_limit_is_refused_before_parsing() {
    let ok = format!("{}{}", "[".repeat(8), "]".repeat(8));
    assert!(parse(ok.as_bytes(), &LIMITS).is_ok());
    let deep = format!("{}{}", "[".repeat(9), "]".repeat(9));
    assert_eq!(
        parse(deep.as_bytes(), &LIMITS).unwrap_err().keyword,
        "maxDepth"
    );
    // A hostile body that would overflow a recursive parser: refused by the byte scan.
    let hostile = "[".repeat(1_000_000);
    assert_eq!(
        parse(hostile.as_bytes(), &LIMITS).unwrap_err().keyword,
        "maxDepth"
    );
    // Brackets inside strings do not count.
    let quoted = format!(r#"["{}"]"#, "[{".repeat(50));
    assert!(parse(quoted.as_bytes(), &LIMITS).is_ok());
}

#[test]
fn long_numbers_are_refused() {
    assert!(parse(b"[12345678901234567890]", &LIMITS).is_ok());
    let err = parse(b"[123456789012345678901]", &LIMITS).unwrap_err();
    assert_eq!(err.keyword, "maxNumberLength");
    let huge = format!("[1{}]", "0".repeat(100_000));
    assert_eq!(
        parse(huge.as_bytes(), &LIMITS).unwrap_err().keyword,
        "maxNumberLength"
    );
    // Long strings of digits are strings, not numbers.
    let digits = format!(r#"["{}"]"#, "9".repeat(100));
    assert!(parse(digits.as_bytes(), &LIMITS).is_ok());
}

#[test]
fn numbers_out_of_range_are_syntax_errors() {
    assert_eq!(parse(b"[1e400]", &LIMITS).unwrap_err().keyword, "syntax");
}

#[test]
fn duplicate_keys_are_refused_with_their_pointer() {
    let err = parse(
        br#"{"items":[{"price":1},{"price":1,"price":-5}]}"#,
        &LIMITS,
    )
    .unwrap_err();
    assert_eq!(err.keyword, "duplicateKey");
    assert_eq!(err.pointer, "/items/1/price");
    let err = parse(br#"{"a/b":{"x~y":1,"x~y":2}}"#, &LIMITS).unwrap_err();
    assert_eq!(err.pointer, "/a~1b/x~0y");
    // The same key in different objects is fine.
    assert!(parse(br#"[{"a":1},{"a":2}]"#, &LIMITS).is_ok());
}

#[test]
fn last_wins_policy_keeps_serde_json_behaviour() {
    let limits = JsonLimits {
        duplicate_keys: DuplicateKeys::LastWins,
        ..LIMITS
    };
    assert_eq!(parse(br#"{"a":1,"a":2}"#, &limits).unwrap(), json!({"a":2}));
}

#[test]
fn malformed_bodies_are_syntax_errors() {
    for bad in [
        &b""[..],
        b"{",
        b"{\"a\":}",
        b"[1,]",
        b"{} {}",
        b"\xff",
        b"nul",
    ] {
        let err = parse(bad, &LIMITS).unwrap_err();
        assert_eq!(err.keyword, "syntax", "{bad:?}");
    }
}
