use crate::config::{parse, ConfigDuration, ConfigError};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use wasm_bindgen_test::wasm_bindgen_test;

/// What `parse` did before issue 13: serde_path_to_error over serde_json's text parser.
fn reference<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::at(path, strip(&e.into_inner().to_string()))
    })?;
    de.end()
        .map_err(|e| ConfigError::at(".", strip(&e.to_string())))?;
    Ok(value)
}

fn strip(message: &str) -> String {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
        .to_string()
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    name: String,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    limits: BTreeMap<String, u16>,
    #[serde(default)]
    labels: HashMap<String, String>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    timeout: Option<ConfigDuration>,
    #[serde(default)]
    extra: Option<serde_json::Value>,
    #[serde(default)]
    pair: Option<(u8, String)>,
    #[serde(default)]
    ratio: Option<f64>,
    #[serde(default)]
    offset: Option<i32>,
    #[serde(default)]
    wrapped: Option<Wrapped>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(rename = "match")]
    matcher: Match,
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Match {
    Prefix(String),
    Exact {
        path: String,
        #[serde(default)]
        ignore_case: bool,
    },
    Any,
    Pair(String, u32),
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    #[default]
    Strict,
    Lenient,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Action {
    Deny { status: u16 },
    Allow,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Wrapped(u32);

const DOCUMENTS: &[&str] = &[
    // Accepted.
    "",
    "{}",
    r#"{"name":"a","rules":[{"match":{"prefix":"/a"}},{"match":"any","enabled":true}]}"#,
    r#"{"rules":[{"match":{"exact":{"path":"/x","ignore_case":true}},"tags":["a","b"]}]}"#,
    r#"{"rules":[{"match":{"pair":["k",7]}}],"limits":{"a":1,"b":65535},"labels":{"x":"y"}}"#,
    r#"{"mode":"lenient","action":{"type":"deny","status":403},"timeout":"1.5s"}"#,
    r#"{"action":{"type":"allow"},"timeout":2,"extra":{"b":[1,-2,3.5,null,true],"a":{}}}"#,
    r#"{"pair":[1,"x"],"ratio":1,"offset":-5,"wrapped":9}"#,
    r#"{"rules":[{"match":{"any":null}}],"extra":{"k":1,"k":2},"labels":{"a":"1","a":"2"}}"#,
    r#"  {"name":"\u00e9\n"}  "#,
    // Type errors.
    r#"{"nme":"a"}"#,
    r#"{"name":1}"#,
    r#"{"name":null}"#,
    r#"{"name":1.5}"#,
    r#"{"name":[]}"#,
    r#"{"name":{}}"#,
    r#"{"rules":{}}"#,
    r#"{"rules":[{}]}"#,
    r#"{"rules":[{"match":{"prefix":"/"}},{"match":{"prefx":"/"}}]}"#,
    r#"{"rules":[{"match":{"prefix":1}}]}"#,
    r#"{"rules":[{"match":{"exact":{"path":"/","bad":1}}}]}"#,
    r#"{"rules":[{"match":{"exact":{}}}]}"#,
    r#"{"rules":[{"match":{"prefix":"/","exact":{"path":"/"}}}]}"#,
    r#"{"rules":[{"match":{}}]}"#,
    r#"{"rules":[{"match":7}]}"#,
    r#"{"rules":[{"match":"prefix"}]}"#,
    r#"{"rules":[{"match":{"any":1}}]}"#,
    r#"{"rules":[{"match":{"pair":["k"]}}]}"#,
    r#"{"rules":[{"match":{"pair":["k",1,2]}}]}"#,
    r#"{"rules":[{"match":"any","tags":["a",2]}]}"#,
    r#"{"rules":[{"match":"any","enabled":true,"enabled":false}]}"#,
    r#"{"name":"a","name":"b"}"#,
    r#"{"limits":{"a":70000}}"#,
    r#"{"limits":{"a":-1}}"#,
    r#"{"limits":{"a":"1"}}"#,
    r#"{"labels":{"a":1}}"#,
    r#"{"mode":"loose"}"#,
    r#"{"mode":{"strict":null}}"#,
    r#"{"mode":1}"#,
    r#"{"action":{"status":403}}"#,
    r#"{"action":{"type":"deny"}}"#,
    r#"{"action":{"type":"deny","status":"x"}}"#,
    r#"{"action":{"type":"block"}}"#,
    r#"{"action":{"type":"allow","x":1}}"#,
    r#"{"timeout":"2 weeks"}"#,
    r#"{"timeout":-1}"#,
    r#"{"timeout":true}"#,
    r#"{"pair":[1]}"#,
    r#"{"pair":[1,"x",3]}"#,
    r#"{"pair":[300,"x"]}"#,
    r#"{"ratio":"x"}"#,
    r#"{"offset":3000000000}"#,
    r#"{"offset":1.0}"#,
    r#"{"wrapped":-1}"#,
    r#"1"#,
    r#"null"#,
    r#""x""#,
];

/// Malformed JSON: the same path; the words may differ, as serde_json words a bad token by the
/// type it expected there (`tru` is "expected value" for an enum, "expected ident" for any value).
const MALFORMED: &[&str] = &[
    r#"{"name":"a",}"#,
    r#"{"name" "a"}"#,
    r#"{"rules":[{"match":"any"},]}"#,
    r#"{"rules":[{"match":"any"} {"match":"any"}]}"#,
    r#"{"rules":[{"match":tru}]}"#,
    r#"{"rules":[{"match":"any","tags":["a\x"]}]}"#,
    r#"{"extra":{"a":[1,2}}"#,
    r#"{"extra":{1:2}}"#,
    r#"{"name":"a""#,
    r#"{"name":"#,
    r#"{"#,
    r#"{} x"#,
    r#"{}}"#,
    r#"x"#,
];

#[test]
#[wasm_bindgen_test]
fn agrees_with_serde_path_to_error() {
    for doc in DOCUMENTS {
        let bytes = if doc.is_empty() { "{}" } else { doc };
        assert_eq!(
            parse::<Config>(doc.as_bytes()),
            reference::<Config>(bytes.as_bytes()),
            "{doc}"
        );
    }
}

#[test]
#[wasm_bindgen_test]
fn malformed_json_is_refused_at_the_same_path() {
    for doc in MALFORMED {
        let (Err(ours), Err(theirs)) = (
            parse::<Config>(doc.as_bytes()),
            reference::<Config>(doc.as_bytes()),
        ) else {
            panic!("{doc} was accepted");
        };
        assert_eq!(
            ours.path, theirs.path,
            "{doc}: {} / {}",
            ours.reason, theirs.reason
        );
    }
}

#[test]
#[wasm_bindgen_test]
fn duplicate_keys_reach_the_type() {
    let err = parse::<Config>(br#"{"rules":[{"match":"any","enabled":true,"enabled":false}]}"#)
        .unwrap_err();
    assert_eq!(err.path, "rules[0]");
    assert_eq!(err.reason, "duplicate field `enabled`");
    // A map keeps the last value, as serde_json does.
    let cfg = parse::<Config>(br#"{"labels":{"a":"1","a":"2"}}"#).unwrap();
    assert_eq!(cfg.labels.get("a").map(String::as_str), Some("2"));
}

#[test]
#[wasm_bindgen_test]
fn a_syntax_error_is_named_before_a_type_error() {
    let err = parse::<Config>(br#"{"nme":1,"rules":[1,]}"#).unwrap_err();
    assert_eq!(err.path, "rules");
    assert_eq!(err.reason, "trailing comma");
}

#[test]
#[wasm_bindgen_test]
fn a_struct_is_never_read_from_an_array() {
    // serde's derive would fill both from arrays, by position (found by the config fuzz target).
    for doc in [&b"[]"[..], b"[1]", b"[\"name\", []]"] {
        let err = parse::<Config>(doc).unwrap_err();
        assert_eq!(err.path, ".");
        assert_eq!(err.reason, "invalid type: sequence, expected an object");
    }
    let err = parse::<Config>(br#"{"rules":[["any",true]]}"#).unwrap_err();
    assert_eq!(err.path, "rules[0]");
    assert_eq!(err.reason, "invalid type: sequence, expected an object");
}

/// The text parser reads what serde_json reads, as the same numbers and strings.
#[test]
#[wasm_bindgen_test]
fn the_text_parser_reads_what_serde_json_reads() {
    use super::{read, Node, Track};
    use serde_json::Value;
    fn value(node: Node) -> Value {
        match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::U64(v) => Value::from(v),
            Node::I64(v) => Value::from(v),
            Node::F64(v) => Value::from(v),
            Node::String(s) => Value::String(s),
            Node::Array(items) => Value::Array(items.into_iter().map(value).collect()),
            Node::Object(entries) => {
                Value::Object(entries.into_iter().map(|(k, v)| (k, value(v))).collect())
            }
        }
    }
    for doc in [
        "0",
        "-0",
        "7",
        "-7",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "0.1",
        "-0.25",
        "1.5e3",
        "1E-7",
        "2e+2",
        "123.456e-2",
        "0e999999",
        "1e-400",
        "100000000000000000000000000000",
        " \t\r\n[ 1 , {\"a\" : [ ] } , \"\" ] ",
        r#""\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00 é 😀""#,
        r#"{"k":{"n":[true,false,null,{"x":"y"}]},"e":{}}"#,
    ] {
        let ours = read(doc.as_bytes(), &Track::default())
            .map(value)
            .unwrap_or_else(|e| panic!("{doc}: {e}"));
        let theirs: Value = serde_json::from_str(doc).unwrap();
        assert_eq!(ours, theirs, "{doc}");
        if let (Some(a), Some(b)) = (ours.as_f64(), theirs.as_f64()) {
            assert_eq!(a.to_bits(), b.to_bits(), "{doc}");
        }
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    for doc in [
        &b"01"[..],
        b"-",
        b"1.",
        b"1e",
        b".5",
        b"+1",
        b"1e999",
        b"\"\\x\"",
        b"\"\\u12\"",
        b"\"\\uD800\"",
        b"\"\\uD800\\u0041\"",
        b"\"\x01\"",
        b"\"\xff\"",
        b"\"abc",
        b"nul",
        b"[1 2]",
        b"{\"a\" 1}",
        deep.as_bytes(),
    ] {
        let text = String::from_utf8_lossy(doc);
        assert!(read(doc, &Track::default()).is_err(), "{text}");
        assert!(serde_json::from_slice::<Value>(doc).is_err(), "{text}");
    }
}
