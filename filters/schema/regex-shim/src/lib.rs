//! `regex` 1.x, as `regex-lite` provides it (issue 13: module size).
//!
//! boon, the schema filter's JSON Schema validator, compiles `pattern` and `patternProperties`
//! with `regex` after translating ECMA-262 syntax (`\d`, `\w`, `\s` become the explicit classes
//! ECMA-262 defines). `regex` brings its automata, literal searchers and prefilters: about 800 KB
//! of the schema module, which V8 compiles whole when Envoy loads it (start time and memory follow
//! a module's size). regex-lite, by the same authors, has the same API and syntax without them,
//! but no Unicode classes of its own and ASCII-only case folding; so a pattern is first parsed
//! into regex-syntax's AST (which boon parses anyway), every Unicode class (`\p{Letter}`) and
//! case fold is spelled out as explicit ranges from ICU4X's data (`unicode`), and that is what
//! regex-lite compiles: the same language as `regex` accepts, matched by a smaller engine.
//!
//! The root `Cargo.toml` puts this crate in place of `regex` for the workspace
//! (`[patch.crates-io]`); a crate that needs `regex` features this one lacks (criterion) keeps the
//! real one.
#![forbid(unsafe_code)]

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

// Everything but `Error`, `Regex` and `RegexBuilder` (defined here; they shadow the glob).
pub use regex_lite::*;

mod unicode;

/// A compiled regular expression: regex-lite's, from the pattern with every Unicode class and
/// case fold spelled out.
#[derive(Clone)]
pub struct Regex {
    lite: regex_lite::Regex,
    pattern: String,
}

impl Regex {
    /// Compiles `pattern` (`regex` syntax).
    pub fn new(pattern: &str) -> Result<Regex, Error> {
        RegexBuilder::new(pattern).build()
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl Deref for Regex {
    type Target = regex_lite::Regex;

    fn deref(&self) -> &regex_lite::Regex {
        &self.lite
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Regex").field(&self.pattern).finish()
    }
}

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl FromStr for Regex {
    type Err = Error;

    fn from_str(s: &str) -> Result<Regex, Error> {
        Regex::new(s)
    }
}

/// Builds a [`Regex`] with options.
#[derive(Clone, Debug)]
pub struct RegexBuilder {
    pattern: String,
    case_insensitive: bool,
    size_limit: Option<usize>,
    nest_limit: Option<u32>,
}

impl RegexBuilder {
    /// A builder for `pattern`.
    pub fn new(pattern: &str) -> RegexBuilder {
        RegexBuilder {
            pattern: pattern.to_string(),
            case_insensitive: false,
            size_limit: None,
            nest_limit: None,
        }
    }

    /// Case-insensitive matching (Unicode simple case folding, spelled out).
    pub fn case_insensitive(&mut self, yes: bool) -> &mut RegexBuilder {
        self.case_insensitive = yes;
        self
    }

    /// regex-lite's limit on the compiled size.
    pub fn size_limit(&mut self, bytes: usize) -> &mut RegexBuilder {
        self.size_limit = Some(bytes);
        self
    }

    /// The limit on nesting.
    pub fn nest_limit(&mut self, limit: u32) -> &mut RegexBuilder {
        self.nest_limit = Some(limit);
        self
    }

    /// Compiles the pattern.
    pub fn build(&self) -> Result<Regex, Error> {
        let mut parser = regex_syntax::ast::parse::ParserBuilder::new();
        if let Some(limit) = self.nest_limit {
            parser.nest_limit(limit);
        }
        // What regex-syntax cannot parse, regex-lite cannot either: its error is the answer.
        let lite = match parser.build().parse(&self.pattern) {
            Ok(ast) => {
                let spelled = unicode::spell_out(&self.pattern, &ast, self.case_insensitive)
                    .map_err(|message| Error { message })?;
                self.lite(&spelled)?
            }
            Err(_) => self.lite(&self.pattern)?,
        };
        Ok(Regex {
            lite,
            pattern: self.pattern.clone(),
        })
    }

    fn lite(&self, pattern: &str) -> Result<regex_lite::Regex, Error> {
        let mut b = regex_lite::RegexBuilder::new(pattern);
        if let Some(bytes) = self.size_limit {
            b.size_limit(bytes);
        }
        if let Some(limit) = self.nest_limit {
            b.nest_limit(limit);
        }
        b.case_insensitive(self.case_insensitive)
            .build()
            .map_err(|e| Error {
                message: e.to_string(),
            })
    }
}

/// Why a pattern does not compile: regex-lite's message, or why its Unicode classes cannot be
/// spelled out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_classes_and_folds_match_as_regex_would() {
        let letters = Regex::new(r"^\p{Letter}+$").unwrap();
        assert!(letters.is_match("Hello"));
        assert!(letters.is_match("π"));
        assert!(letters.is_match("Größe"));
        assert!(!letters.is_match("123"));
        assert_eq!(letters.as_str(), r"^\p{Letter}+$");
        let fold = Regex::new(r"(?i)^straße$").unwrap();
        assert!(fold.is_match("STRAẞE"));
        assert!(Regex::new(r"^\P{Nd}$").unwrap().is_match("x"));
        assert!(!Regex::new(r"^\P{Nd}$").unwrap().is_match("٣"));
        assert!(Regex::new(r"^.$").unwrap().is_match("😀"));
        assert!(!Regex::new(r"^.$").unwrap().is_match("\n"));
        assert!(Regex::new(r"\bword\b").unwrap().is_match("a word here"));
        let caps = Regex::new(r"(?<y>\d{4})-(\d{2})").unwrap();
        let c = caps.captures("on 2026-12").unwrap();
        assert_eq!(&c["y"], "2026");
        assert_eq!(c.get(2).map(|m| m.as_str()), Some("12"));
    }

    #[test]
    fn classes_inside_brackets_negations_and_folds_match_as_regex_would() {
        let m = |p: &str, t: &str| Regex::new(p).unwrap().is_match(t);
        assert!(m(r"^[\p{Greek}0-9]+$", "αβ12"));
        assert!(!m(r"^[\p{Greek}0-9]+$", "ab"));
        assert!(m(r"^[^\p{L}]+$", "12 !"));
        assert!(!m(r"^[^\p{L}]+$", "1a"));
        assert!(m(r"^[\P{L}x]+$", "1x2"));
        assert!(!m(r"^[\P{L}x]+$", "1y"));
        assert!(m(r"^[\p{L}&&\p{Greek}]$", "λ"));
        assert!(!m(r"^[\p{L}&&\p{Greek}]$", "l"));
        assert!(m(r"^[\p{L}--\p{Latin}]+$", "λж"));
        assert!(!m(r"^[\p{L}--\p{Latin}]+$", "λa"));
        assert!(m(r"^\p{gc=Lu}\p{sc:Cyrillic}\p{scx=Grek}$", "Aжλ"));
        assert!(m(r"^\p{gc!=Lu}$", "a"));
        assert!(!m(r"^\p{gc!=Lu}$", "A"));
        assert!(m(r"^\p{Any}\p{ASCII}\p{Assigned}$", "😀aé"));
        assert!(!m(r"^\p{Assigned}$", "\u{378}"));
        assert!(m(r"^\p{Emoji_Presentation}$", "😀"));
        assert!(m(r"^\p{White_Space}\p{space}$", "\u{3000} "));
        // Digits, spaces and word characters as Unicode defines them (boon gives ASCII ones).
        assert!(m(r"^\d\s\w$", "٣\u{3000}é"));
        assert!(m(r"(?-u:^\d$)", "7"));
        assert!(!m(r"(?-u:^\d$)", "٣"));
        // Case folds beyond ASCII, in literals, ranges and classes.
        assert!(m(r"(?i)^é$", "É"));
        assert!(m(r"(?i)^[à-ä]+$", "ÄÀ"));
        assert!(m(r"(?i)^\p{Lu}+$", "abc"));
        assert!(m(r"(?i)^k$", "\u{212A}"));
        assert!(m(r"(?i)^σ+$", "Σς"));
        assert!(!m(r"(?i)^[^k]$", "\u{212A}"));
        assert!(m(r"(?i:é)É", "éÉ"));
        assert!(!m(r"(?i:é)É", "éé"));
        assert!(!m(r"^é$", "É"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        // Not ECMA-262 properties (nor spelled out here): `regex` has them, regex-lite not.
        for bad in [r"\p{Age=3.0}", r"\p{Word_Break=ALetter}", r"\p{Hyphen}"] {
            assert!(Regex::new(bad).is_err(), "{bad}");
        }
        for bad in ["(", r"\p{NoSuchClass}", "a{2,1}", "[z-a]"] {
            assert!(Regex::new(bad).is_err(), "{bad}");
        }
        let mut b = RegexBuilder::new("a{1000}{1000}");
        assert!(b.size_limit(1 << 10).build().is_err());
    }
}
