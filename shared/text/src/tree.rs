//! A config document's text read into a tree that keeps the text's key order and duplicate
//! keys, with the path of the value a syntax error is in.

use std::cell::RefCell;
use std::fmt;

/// A JSON value as written: objects keep their keys in order, duplicates included, so a type's
/// `Deserialize` sees exactly what it would see from the text (`duplicate field` included).
#[derive(Debug)]
pub enum Node {
    Null,
    Bool(bool),
    /// serde_json's choice for a number: `u64` if it fits, else `i64`, else `f64`.
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// Where a value sits in the document, innermost last; lives on the stack of the pass.
pub enum Chain<'a> {
    Root,
    Index(&'a Chain<'a>, usize),
    Key(&'a Chain<'a>, &'a str),
    /// A key that could not be read.
    UnknownKey(&'a Chain<'a>),
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parent = match self {
            Chain::Root => return Ok(()),
            Chain::Index(parent, i) => return write!(f, "{parent}[{i}]"),
            Chain::Key(parent, _) | Chain::UnknownKey(parent) => parent,
        };
        if !matches!(parent, Chain::Root) {
            write!(f, "{parent}.")?;
        }
        match self {
            Chain::Key(_, key) => f.write_str(key),
            _ => f.write_str("?"),
        }
    }
}

/// The path of the first (that is, innermost) failing value.
#[derive(Default)]
pub struct Track(RefCell<Option<String>>);

impl Track {
    /// Records `chain` unless a deeper value already failed; passes `err` through.
    pub fn trigger<E>(&self, chain: &Chain, err: E) -> E {
        let mut path = self.0.borrow_mut();
        if path.is_none() {
            *path = Some(chain.to_string());
        }
        err
    }

    /// The recorded path; empty for the whole document.
    pub fn path(self) -> String {
        self.0.into_inner().unwrap_or_default()
    }
}

/// Reads `bytes` (one JSON document, nothing after it) into a [`Node`]. Syntax errors are
/// named where serde_json's parser under a recording seed named them (the value a bad token
/// starts, the container a bad separator is in, `?` for a bad key), in serde_json's words;
/// its parser is not linked for this (issue 13: module size).
///
/// Never inlined: one copy, outside the filters' configure functions.
#[inline(never)]
pub fn read(bytes: &[u8], track: &Track) -> Result<Node, &'static str> {
    let mut text = Text {
        bytes,
        at: 0,
        depth: 0,
        track,
    };
    let node = text.value(&Chain::Root)?;
    text.skip_whitespace();
    match text.peek() {
        None => Ok(node),
        Some(_) => Err(track.trigger(&Chain::Root, failure("trailing characters"))),
    }
}

/// serde_json's nesting limit: deeper documents are refused rather than recursed into.
const MAX_DEPTH: usize = 128;

/// serde_json's words for what is wrong with the text.
type Failure = &'static str;

fn failure(message: &'static str) -> Failure {
    message
}

/// The JSON text parser: a [`Node`] from bytes.
struct Text<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    track: &'a Track,
}

impl Text<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// The value at `chain`; an error inside it is recorded there.
    fn value(&mut self, chain: &Chain) -> Result<Node, Failure> {
        self.skip_whitespace();
        let node = match self.peek() {
            None => Err(failure("EOF while parsing a value")),
            Some(b'n') => self.word("null", Node::Null),
            Some(b't') => self.word("true", Node::Bool(true)),
            Some(b'f') => self.word("false", Node::Bool(false)),
            Some(b'"') => self.string().map(Node::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(open @ (b'[' | b'{')) => {
                if self.depth >= MAX_DEPTH {
                    Err(failure("recursion limit exceeded"))
                } else {
                    self.depth += 1;
                    self.at += 1;
                    let node = if open == b'[' {
                        self.array(chain)
                    } else {
                        self.object(chain)
                    };
                    self.depth -= 1;
                    node
                }
            }
            Some(_) => Err(failure("expected value")),
        };
        node.map_err(|e| self.track.trigger(chain, e))
    }

    fn word(&mut self, word: &str, node: Node) -> Result<Node, Failure> {
        let end = self.at + word.len();
        if self.bytes.get(self.at..end) == Some(word.as_bytes()) {
            self.at = end;
            Ok(node)
        } else {
            Err(failure("expected ident"))
        }
    }

    /// After `[`.
    fn array(&mut self, chain: &Chain) -> Result<Node, Failure> {
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            let next = match self.peek() {
                Some(b']') => {
                    self.at += 1;
                    return Ok(Node::Array(items));
                }
                Some(b',') if !items.is_empty() => {
                    self.at += 1;
                    self.skip_whitespace();
                    self.peek()
                }
                Some(b) if items.is_empty() => Some(b),
                Some(_) => return Err(failure("expected `,` or `]`")),
                None => return Err(failure("EOF while parsing a list")),
            };
            match next {
                Some(b']') => return Err(failure("trailing comma")),
                Some(_) => {
                    let item = self.value(&Chain::Index(chain, items.len()))?;
                    items.push(item);
                }
                None => return Err(failure("EOF while parsing a value")),
            }
        }
    }

    /// After `{`.
    fn object(&mut self, chain: &Chain) -> Result<Node, Failure> {
        let mut entries = Vec::new();
        loop {
            let key = self
                .key(entries.is_empty())
                .map_err(|e| self.track.trigger(&Chain::UnknownKey(chain), e))?;
            let Some(key) = key else {
                return Ok(Node::Object(entries));
            };
            self.skip_whitespace();
            match self.peek() {
                Some(b':') => self.at += 1,
                Some(_) => return Err(failure("expected `:`")),
                None => return Err(failure("EOF while parsing an object")),
            }
            let value = self.value(&Chain::Key(chain, &key))?;
            entries.push((key, value));
        }
    }

    /// The next key of an object, or none at its end (`}` read).
    fn key(&mut self, first: bool) -> Result<Option<String>, Failure> {
        self.skip_whitespace();
        let next = match self.peek() {
            Some(b'}') => {
                self.at += 1;
                return Ok(None);
            }
            Some(b',') if !first => {
                self.at += 1;
                self.skip_whitespace();
                self.peek()
            }
            Some(b) if first => Some(b),
            Some(_) => return Err(failure("expected `,` or `}`")),
            None => return Err(failure("EOF while parsing an object")),
        };
        match next {
            Some(b'"') => self.string().map(Some),
            Some(b'}') => Err(failure("trailing comma")),
            Some(_) => Err(failure("key must be a string")),
            None => Err(failure("EOF while parsing a value")),
        }
    }

    /// At `"`.
    fn string(&mut self) -> Result<String, Failure> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            let plain = self.bytes.get(start..self.at).unwrap_or_default();
            out.push_str(
                std::str::from_utf8(plain).map_err(|_| failure("invalid unicode code point"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    return Err(failure(
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    ))
                }
                None => return Err(failure("EOF while parsing a string")),
            }
        }
    }

    /// After `\`.
    fn escape(&mut self, out: &mut String) -> Result<(), Failure> {
        let Some(b) = self.peek() else {
            return Err(failure("EOF while parsing a string"));
        };
        self.at += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&unit) {
                    // A leading surrogate: its trailing one must follow as `\uDC00`-`\uDFFF`.
                    if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                        return Err(failure("lone leading surrogate in hex escape"));
                    }
                    self.at += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(failure("lone leading surrogate in hex escape"));
                    }
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                char::from_u32(code).ok_or_else(|| failure("invalid unicode code point"))?
            }
            _ => return Err(failure("invalid escape")),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Failure> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .ok_or_else(|| failure("EOF while parsing a string"))
                .and_then(|b| {
                    char::from(b)
                        .to_digit(16)
                        .ok_or_else(|| failure("invalid escape"))
                })?;
            self.at += 1;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    /// At `-` or a digit: serde_json's choice of `u64`, `i64` (negative) or `f64` (a fraction,
    /// an exponent, or too large an integer).
    fn number(&mut self) -> Result<Node, Failure> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let invalid = || failure("invalid number");
        // The digits' value while it fits, and the power of ten it is to be scaled by.
        let mut mantissa: u64 = 0;
        let mut scale: i64 = 0;
        let mut exact = true;
        let mut digits = |text: &mut Self, fraction: bool| -> usize {
            let mut count = 0;
            while let Some(d @ b'0'..=b'9') = text.peek() {
                text.at += 1;
                count += 1;
                match mantissa
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(d - b'0')))
                {
                    Some(m) => {
                        mantissa = m;
                        if fraction {
                            scale -= 1;
                        }
                    }
                    None => {
                        exact = false;
                        if !fraction {
                            scale += 1;
                        }
                    }
                }
            }
            count
        };
        let leading_zero = self.peek() == Some(b'0');
        let whole = digits(self, false);
        if whole == 0 || (leading_zero && whole > 1) {
            return Err(invalid());
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            float = true;
            if digits(self, true) == 0 {
                return Err(invalid());
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            float = true;
            let negative_exponent = match self.peek() {
                Some(b'-') => {
                    self.at += 1;
                    true
                }
                Some(b'+') => {
                    self.at += 1;
                    false
                }
                _ => false,
            };
            let mut exponent: i64 = 0;
            let mut count = 0;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                self.at += 1;
                count += 1;
                exponent = (exponent * 10 + i64::from(d - b'0')).min(100_000);
            }
            if count == 0 {
                return Err(invalid());
            }
            scale += if negative_exponent {
                -exponent
            } else {
                exponent
            };
        }
        if !float && exact {
            return Ok(if !negative {
                Node::U64(mantissa)
            } else {
                // serde_json's rule: `-0` and what does not fit an `i64` are floats.
                match 0i64.checked_sub_unsigned(mantissa) {
                    Some(v) if v < 0 => Node::I64(v),
                    _ => Node::F64(-(mantissa as f64)),
                }
            });
        }
        // Exact while both the digits and the power of ten are exact in an `f64` (|scale| up
        // to 22, the digits below 2^53); elsewhere within a few units in the last place, as
        // serde_json's default reading is.
        if mantissa == 0 {
            return Ok(Node::F64(if negative { -0.0 } else { 0.0 }));
        }
        let power = 10f64.powi(i32::try_from(scale.unsigned_abs()).unwrap_or(i32::MAX));
        let magnitude = if scale < 0 {
            mantissa as f64 / power
        } else {
            mantissa as f64 * power
        };
        if !magnitude.is_finite() {
            return Err(failure("number out of range"));
        }
        Ok(Node::F64(if negative { -magnitude } else { magnitude }))
    }
}
