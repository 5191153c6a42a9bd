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
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(f64),
            Text(String),
        }
        let parsed = match Raw::deserialize(d)? {
            Raw::Seconds(s) => seconds_to_duration(s),
            Raw::Text(t) => parse_duration(&t),
        };
        parsed.map(ConfigDuration).map_err(serde::de::Error::custom)
    }
}

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
        return Err(format!(
            "duration must be a non-negative number, got {}",
            display_f64(seconds)
        ));
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

/// `format!("{x}")`, written from serde_json's shortest digits (the float formatting it links
/// anyway) instead of core's, which was 20 KB of each module reading durations, for this one
/// message (issue 13). The two pick different digits only for a value exactly halfway between
/// two shortest candidates, where core rounds away from zero; that case is recognized on the
/// exact value. `tests::f64_reads_as_display` holds the two alike.
fn display_f64(x: f64) -> String {
    let Some(number) = serde_json::Number::from_f64(x) else {
        return match (x.is_nan(), x < 0.0) {
            (true, _) => "NaN".into(),
            (false, true) => "-inf".into(),
            (false, false) => "inf".into(),
        };
    };
    // `-1.5e-7`, `1e20`, `123.25`: sign, digits around a point, a power of ten.
    let text = number.to_string();
    let text = text.strip_prefix('-').unwrap_or(&text);
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let (mut digits, mut point) = significant(
        whole.chars().chain(fraction.chars()).collect(),
        len(whole) + exponent,
    );
    if let Some((exact, exact_point)) = exact_digits(x) {
        let halfway = exact.len() == digits.len() + 1
            && exact.ends_with('5')
            && exact_point == point
            && exact.get(..digits.len()) == Some(digits.as_str());
        if halfway {
            (digits, point) = round_up(&digits, point);
        }
    }
    let mut out = String::from(if x.is_sign_negative() { "-" } else { "" });
    let count = len(&digits);
    if digits.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(-point).unwrap_or(0),
        ));
        out.push_str(&digits);
    } else if point >= count {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(point - count).unwrap_or(0),
        ));
    } else {
        let (int, frac) = digits.split_at(usize::try_from(point).unwrap_or(0));
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn len(s: &str) -> i64 {
    i64::try_from(s.len()).unwrap_or(i64::MAX)
}

/// Digits without leading or trailing zeros, and where the point sits (after `point` digits).
fn significant(mut digits: String, mut point: i64) -> (String, i64) {
    let leading = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading);
    point -= i64::try_from(leading).unwrap_or(0);
    digits.truncate(digits.trim_end_matches('0').len());
    (digits, point)
}

/// `digits` plus one in the last place.
fn round_up(digits: &str, point: i64) -> (String, i64) {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return significant(String::from_utf8(bytes).unwrap_or_default(), point);
        }
    }
    significant(
        format!("1{}", String::from_utf8(bytes).unwrap_or_default()),
        point + 1,
    )
}

/// The exact decimal value of `|x|` (significant digits, point) when it could be halfway between
/// two shortest candidates: then its last significant digit is a 5 and it has at most 18 of them
/// (one more than the 17 that always suffice), so it fits in a `u64`. `None` otherwise.
fn exact_digits(x: f64) -> Option<(String, i64)> {
    let bits = x.abs().to_bits();
    let biased = i64::try_from(bits >> 52).ok()?;
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut e) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | (1 << 52), biased - 1075),
    };
    if m == 0 {
        return None;
    }
    while m & 1 == 0 {
        m >>= 1;
        e += 1;
    }
    // |x| = m * 2^e, m odd.
    let (digits, zeros) = if e >= 0 {
        // An integer ending in 5 and then e zeros: m = digits * 5^e.
        let power = 5u64.checked_pow(u32::try_from(e).ok()?)?;
        if m % power != 0 {
            return None;
        }
        (m / power, e)
    } else {
        // m * 5^k / 10^k, k = -e.
        let mut value = m;
        for _ in 0..-e {
            value = value.checked_mul(5)?;
        }
        (value, e)
    };
    let digits = digits.to_string();
    let point = len(&digits) + zeros;
    Some(significant(digits, point))
}

/// Parses `"250ms"`, `"1.5s"`, `"10m"`, `"2h"`, `"1d"` (also `"us"`, `"ns"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration `{text}` needs a unit (ns, us, ms, s, m, h, d)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("duration `{text}` does not start with a number"))?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => return Err(format!("unknown duration unit `{other}` in `{text}`")),
    };
    seconds_to_duration(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    fn f64_reads_as_display() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            -0.5,
            -1.5,
            -0.1,
            -0.3,
            -123_456_789.125,
            -1e-7,
            -1.25e-7,
            -1e15,
            -1e16,
            -1e20,
            -1e21,
            -1e22,
            -1e23,
            -9_007_199_254_740_993.0,
            // Exactly 1658206780088562.25: core writes .3, serde_json's digits end in .2.
            f64::from_bits(0x4317_9085_685d_83c9),
            -f64::from_bits(0x4317_9085_685d_83c9),
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -2.225_073_858_507_201e-308,
            -0.000_001,
            -1_000_000.000_001,
        ];
        // Bit patterns, decimals as a user writes them, and values halfway between two shortest
        // candidates (integers and quarters near 2^50..2^54, where one digit decides).
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for i in 0..200_000_u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(f64::from_bits(state));
            let decimal = format!("-{}.{}e{}", state % 10_000, i % 1000, (state >> 40) % 40);
            values.push(decimal.parse().unwrap());
            let big = (1u64 << (50 + i % 5)) + (state >> 20);
            values.push(big as f64 + 0.25 * (i % 4) as f64);
            values.push(-((big << (i % 12)) as f64));
        }
        for x in values {
            assert_eq!(display_f64(x), format!("{x}"), "{:#x}", x.to_bits());
        }
    }

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
    fn negative_seconds_are_named_as_written() {
        for (text, shown) in [
            ("-1", "-1"),
            ("-1.5", "-1.5"),
            ("-2.5e-7", "-0.00000025"),
            ("-1e21", "-1000000000000000000000"),
        ] {
            let config = format!(r#"{{"timeout": {text}}}"#);
            let err = parse::<Outer>(config.as_bytes()).unwrap_err();
            assert_eq!(err.path, "timeout");
            assert_eq!(
                err.reason,
                format!("duration must be a non-negative number, got {shown}")
            );
        }
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-5s").is_err());
        let cfg = parse::<Outer>(br#"{"timeout": 2}"#).unwrap();
        assert_eq!(cfg.timeout.get(), Duration::from_secs(2));
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
