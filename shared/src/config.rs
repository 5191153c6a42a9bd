//! Config parsing that names the exact field and reason of every error.
//!
//! Filters parse their JSON config with [`parse`] (serde, `deny_unknown_fields`), then compile it
//! into an immutable structure, reporting compile errors with [`ConfigError::at`]. Either error makes
//! `on_configure` return `false` and log [`ConfigError`]'s one line.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// A configuration error: where (`rules[2].match.regex`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the failing field, `.` for the whole document.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// An error at `path`.
    pub fn at(path: impl Into<String>, reason: impl Into<String>) -> Self {
        let path = path.into();
        Self {
            path: if path.is_empty() { ".".into() } else { path },
            reason: reason.into(),
        }
    }

    /// Puts `parent` in front of the path, for errors raised by a nested part.
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        let path = if self.path == "." {
            parent.to_string()
        } else if self.path.starts_with('[') {
            format!("{parent}{}", self.path)
        } else {
            format!("{parent}.{}", self.path)
        };
        Self { path, ..self }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration at `{}`: {}",
            self.path, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// Parses a JSON config. An empty configuration is read as `{}`. The error names the innermost
/// failing field; a syntax error comes before any type error (see [`crate::config_tree`]).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let track = crate::config_tree::Track::default();
    let value = crate::config_tree::read(bytes, &track)
        .and_then(|node| crate::config_tree::walk(&node, &track));
    value.map_err(|e| ConfigError::at(track.path(), strip_position(&e.to_string())))
}

/// serde_json appends " at line 1 column 42"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message.get(i..).is_some_and(|t| t.contains(" column ")) => {
            message.get(..i).unwrap_or(message).to_string()
        }
        _ => message.to_string(),
    }
}

/// A duration in config: `"250ms"`, `"1.5s"`, `"10m"`, `"2h"`, `"1d"`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

/// Reads a number of seconds or a text with a unit, without buffering the value (an untagged
/// enum would) and without float formatting or parsing (issue 13: about 25 KB of Wasm).
struct DurationVisitor;

impl<'de> serde::de::Visitor<'de> for DurationVisitor {
    type Value = ConfigDuration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration: seconds as a number, or a text such as \"250ms\" or \"1.5s\"")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(ConfigDuration(Duration::from_secs(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(|v| ConfigDuration(Duration::from_secs(v)))
            .map_err(|_| E::custom(NEGATIVE))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        seconds_to_duration(v)
            .map(ConfigDuration)
            .map_err(E::custom)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_duration(v).map(ConfigDuration).map_err(E::custom)
    }
}

const NEGATIVE: &str = "duration must be a non-negative number of seconds";

/// Written as the parser reads it: a non-negative number of seconds, or a number with a unit.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for ConfigDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "palisade_core::config::ConfigDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: seconds as a number (`1.5`), or a number with a unit: `250ms`, `1.5s`, `10m`, `2h`, `1d` (also `ns`, `us`).",
            "oneOf": [
                { "type": "number", "minimum": 0 },
                { "type": "string", "pattern": DURATION_PATTERN }
            ]
        })
    }
}

/// What [`parse_duration`] accepts, as an ECMA-262 regular expression (for the JSON Schema).
#[cfg(feature = "schema")]
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|ms|s|m|h|d)\s*$";

fn seconds_to_duration(seconds: f64) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(NEGATIVE.to_string());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| "duration is too long".to_string())
}

/// Parses `"250ms"`, `"1.5s"`, `"10m"`, `"2h"`, `"1d"` (also `"us"`, `"ns"`): exact, in integer
/// nanoseconds (a fraction finer than a nanosecond is dropped).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration `{text}` needs a unit (ns, us, ms, s, m, h, d)"))?;
    let (number, unit) = text.split_at(split);
    let unit_nanos: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        other => return Err(format!("unknown duration unit `{other}` in `{text}`")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(format!("duration `{text}` does not start with a number"));
    }
    let too_long = || format!("duration `{text}` is too long");
    let mut nanos: u128 = 0;
    for digit in whole.bytes() {
        nanos = nanos
            .checked_mul(10)
            .and_then(|n| n.checked_add(u128::from(digit - b'0')))
            .ok_or_else(too_long)?;
    }
    nanos = nanos.checked_mul(unit_nanos).ok_or_else(too_long)?;
    // Each fraction digit is worth a tenth of the one before it, in nanoseconds of this unit.
    let mut place = unit_nanos;
    for digit in fraction.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos = nanos.saturating_add(u128::from(digit - b'0') * place);
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        limit: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        #[serde(default)]
        rules: Vec<Inner>,
        #[serde(default)]
        timeout: ConfigDuration,
    }

    #[test]
    #[wasm_bindgen_test]
    fn unknown_field_names_its_path() {
        let err = parse::<Outer>(br#"{"rules":[{"limit":1},{"limit":2,"limt":3}]}"#).unwrap_err();
        assert_eq!(err.path, "rules[1].limt");
        assert!(
            err.reason.contains("unknown field `limt`"),
            "{}",
            err.reason
        );
        assert!(!err.reason.contains("line"), "{}", err.reason);
    }

    #[test]
    #[wasm_bindgen_test]
    fn wrong_type_names_its_path() {
        let err = parse::<Outer>(br#"{"rules":[{"limit":"ten"}]}"#).unwrap_err();
        assert_eq!(err.path, "rules[0].limit");
        assert!(err.reason.contains("invalid type"), "{}", err.reason);
        assert_eq!(
            err.to_string(),
            format!("invalid configuration at `rules[0].limit`: {}", err.reason)
        );
    }

    #[test]
    #[wasm_bindgen_test]
    fn empty_config_is_an_empty_object() {
        let cfg = parse::<Outer>(b"  ").unwrap();
        assert!(cfg.rules.is_empty());
        assert_eq!(cfg.timeout.get(), Duration::ZERO);
    }

    #[test]
    #[wasm_bindgen_test]
    fn trailing_garbage_is_refused() {
        let err = parse::<Outer>(b"{} x").unwrap_err();
        assert_eq!(err.path, ".");
    }

    #[test]
    #[wasm_bindgen_test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-5s").is_err());
        // Exact: no float rounding on the way.
        assert_eq!(parse_duration("0.1s").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1.000000001s").unwrap(), Duration::new(1, 1));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration(".25m").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("1.9999ns").unwrap(), Duration::from_nanos(1));
        assert!(parse_duration("99999999999999999999999999d").is_err());
        let cfg = parse::<Outer>(br#"{"timeout": 2}"#).unwrap();
        assert_eq!(cfg.timeout.get(), Duration::from_secs(2));
        let cfg = parse::<Outer>(br#"{"timeout": 0.25}"#).unwrap();
        assert_eq!(cfg.timeout.get(), Duration::from_millis(250));
        for bad in [
            r#"{"timeout": -1}"#,
            r#"{"timeout": -0.5}"#,
            r#"{"timeout": [1]}"#,
        ] {
            assert_eq!(
                parse::<Outer>(bad.as_bytes()).unwrap_err().path,
                "timeout",
                "{bad}"
            );
        }
        let err = parse::<Outer>(br#"{"timeout": "2 weeks"}"#).unwrap_err();
        assert_eq!(err.path, "timeout");
    }

    /// The JSON Schema's pattern accepts exactly the texts the parser accepts (bar overflow).
    #[cfg(feature = "schema")]
    #[test]
    fn duration_pattern_agrees_with_the_parser() {
        let pattern = regex_lite::Regex::new(DURATION_PATTERN).unwrap();
        for text in [
            "250ms", "1.5s", "10m", " 2h ", "1d", "3us", "7ns", "1.s", ".5s", "0s",
        ] {
            assert!(parse_duration(text).is_ok(), "{text}");
            assert!(pattern.is_match(text), "{text}");
        }
        for text in [
            "10",
            "5 parsecs",
            "-5s",
            "s",
            ".s",
            "1.2.3s",
            "1e3s",
            "ms",
            "",
            "1 s",
            "2w",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
            assert!(!pattern.is_match(text), "{text}");
        }
    }

    #[test]
    #[wasm_bindgen_test]
    fn nested_errors_get_their_parent_path() {
        let e = ConfigError::at("match.regex", "bad").within("rules[3]");
        assert_eq!(e.path, "rules[3].match.regex");
        let e = ConfigError::at("[0]", "bad").within("rules");
        assert_eq!(e.path, "rules[0]");
        let e = ConfigError::at("", "bad").within("rules");
        assert_eq!(e.path, "rules");
    }
}
