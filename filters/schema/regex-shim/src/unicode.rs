//! Unicode classes and case folds spelled out as explicit ranges, so regex-lite (which has no
//! Unicode classes and folds ASCII letters only) matches what `regex` matches.
//!
//! The pattern is parsed into regex-syntax's AST only: its HIR translation would link
//! regex-syntax's Unicode tables (about 310 KB of the schema module). Every `\p{…}`/`\P{…}`, and
//! every `\d`, `\s`, `\w` where Unicode mode is on, is replaced by a bracketed class of the code
//! points it stands for, taken from ICU4X's property data (`icu_properties`, whose general
//! category data the module already has for IDNA): general categories, scripts, script
//! extensions, and the binary properties ECMA-262 defines. Every bracketed class is written out
//! as one flat list of ranges too, since regex-lite has neither nested classes nor set operations
//! (`[\w&&\p{Greek}]`, `[a-z--[aeiou]]`), which `regex` has. Names match loosely, as regex-syntax
//! matches them (case, spaces, `_`, `-` and an `is` prefix ignored). Where case is ignored
//! (`(?i)`), a literal, range or class gets every code point with the same simple case fold
//! beside it (from core's case mappings), as regex-syntax's translation does.
//!
//! What differs from `regex`: ICU4X's data is Unicode 17, regex-syntax 0.8's Unicode 16 (new
//! letters and digits match; Unicode 17 took Extended_Pictographic from 672 old symbols such as
//! U+2605); the properties outside ECMA-262 (`Age`, `Grapheme_Cluster_Break`, `Word_Break`,
//! `Sentence_Break`, binary properties such as `Hyphen`) are errors, as they are in ECMA-262.

use icu_properties::props::*;
use icu_properties::script::ScriptWithExtensions;
use icu_properties::{
    CodePointMapData, CodePointSetData, CodePointSetDataBorrowed, PropertyParser,
};
use regex_syntax::ast::{
    Ast, ClassAsciiKind, ClassBracketed, ClassPerl, ClassPerlKind, ClassSet, ClassSetBinaryOpKind,
    ClassSetItem, ClassUnicode, ClassUnicodeKind, Flag, Flags, GroupKind, Span,
};
use std::fmt::Write;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

/// Code point ranges, `(first, last)`.
type Ranges = Vec<(u32, u32)>;

/// `pattern` (whose AST is `ast`) with its Unicode classes spelled out as explicit ranges.
pub fn spell_out(pattern: &str, ast: &Ast, case_insensitive: bool) -> Result<String, String> {
    let mut walk = Walk {
        state: State {
            unicode: true,
            case_insensitive,
        },
        replace: Vec::new(),
    };
    walk.ast(ast)?;
    if walk.replace.is_empty() {
        return Ok(pattern.to_string());
    }
    // The walk meets the classes in the order they are written, and none holds another.
    let mut out = String::with_capacity(pattern.len());
    let mut at = 0;
    for (span, with) in &walk.replace {
        let before = pattern
            .get(at..span.start.offset)
            .ok_or("class spans out of order")?;
        out.push_str(before);
        out.push_str(with);
        at = span.end.offset;
    }
    out.push_str(pattern.get(at..).ok_or("class span past the end")?);
    Ok(out)
}

#[derive(Clone, Copy)]
struct State {
    unicode: bool,
    case_insensitive: bool,
}

impl State {
    fn apply(&mut self, flags: &Flags) {
        if let Some(on) = flags.flag_state(Flag::Unicode) {
            self.unicode = on;
        }
        if let Some(on) = flags.flag_state(Flag::CaseInsensitive) {
            self.case_insensitive = on;
        }
    }
}

struct Walk {
    state: State,
    replace: Vec<(Span, String)>,
}

impl Walk {
    fn ast(&mut self, ast: &Ast) -> Result<(), String> {
        match ast {
            Ast::Flags(set) => self.state.apply(&set.flags),
            Ast::Literal(lit) => self.literal(lit.span, lit.c),
            // Outside Unicode mode classes are left as written: regex-lite reads them as
            // `regex` does there (ASCII `\d`, `\s`, `\w`; `\p` an error).
            Ast::ClassUnicode(class) if self.state.unicode => {
                let ranges = self.unicode_class(class)?;
                self.replace.push((class.span, flat(ranges)));
            }
            Ast::ClassPerl(class) if self.state.unicode => {
                self.replace.push((class.span, flat(perl_class(class))));
            }
            // regex-lite has neither nested classes nor set operations: every bracketed class
            // becomes one flat list of ranges.
            Ast::ClassBracketed(class) if self.state.unicode => {
                let ranges = self.bracketed(class)?;
                self.replace.push((class.span, flat(ranges)));
            }
            Ast::Repetition(rep) => self.ast(&rep.ast)?,
            Ast::Group(group) => {
                let outer = self.state;
                if let GroupKind::NonCapturing(flags) = &group.kind {
                    self.state.apply(flags);
                }
                self.ast(&group.ast)?;
                self.state = outer;
            }
            Ast::Alternation(alt) => {
                for ast in &alt.asts {
                    self.ast(ast)?;
                }
            }
            Ast::Concat(concat) => {
                for ast in &concat.asts {
                    self.ast(ast)?;
                }
            }
            Ast::ClassUnicode(_)
            | Ast::ClassPerl(_)
            | Ast::ClassBracketed(_)
            | Ast::Empty(_)
            | Ast::Dot(_)
            | Ast::Assertion(_) => {}
        }
        Ok(())
    }

    /// `[…]`, as regex-syntax translates it: folded, then negated.
    fn bracketed(&self, class: &ClassBracketed) -> Result<Ranges, String> {
        let ranges = self.folded(self.class_set(&class.kind)?);
        Ok(if class.negated {
            complement(ranges)
        } else {
            ranges
        })
    }

    fn class_set(&self, set: &ClassSet) -> Result<Ranges, String> {
        match set {
            ClassSet::Item(item) => self.class_item(item),
            ClassSet::BinaryOp(op) => {
                let lhs = self.folded(self.class_set(&op.lhs)?);
                let rhs = self.folded(self.class_set(&op.rhs)?);
                Ok(match op.kind {
                    ClassSetBinaryOpKind::Intersection => intersection(lhs, rhs),
                    ClassSetBinaryOpKind::Difference => intersection(lhs, complement(rhs)),
                    ClassSetBinaryOpKind::SymmetricDifference => {
                        let mut either = intersection(lhs.clone(), complement(rhs.clone()));
                        either.extend(intersection(rhs, complement(lhs)));
                        either
                    }
                })
            }
        }
    }

    fn class_item(&self, item: &ClassSetItem) -> Result<Ranges, String> {
        Ok(match item {
            ClassSetItem::Empty(_) => Vec::new(),
            ClassSetItem::Literal(lit) => vec![(u32::from(lit.c), u32::from(lit.c))],
            ClassSetItem::Range(range) => {
                vec![(u32::from(range.start.c), u32::from(range.end.c))]
            }
            ClassSetItem::Ascii(class) => {
                let ranges = ascii_class(&class.kind);
                if class.negated {
                    complement(ranges)
                } else {
                    ranges
                }
            }
            ClassSetItem::Unicode(class) => self.unicode_class(class)?,
            ClassSetItem::Perl(class) => perl_class(class),
            ClassSetItem::Bracketed(class) => self.bracketed(class)?,
            ClassSetItem::Union(union) => {
                let mut ranges = Vec::new();
                for item in &union.items {
                    ranges.extend(self.class_item(item)?);
                }
                ranges
            }
        })
    }

    /// `\p{…}`, as regex-syntax translates it: folded, then negated.
    fn unicode_class(&self, class: &ClassUnicode) -> Result<Ranges, String> {
        let ranges = self.folded(unicode_ranges(&class.kind)?);
        Ok(if class.is_negated() {
            complement(ranges)
        } else {
            ranges
        })
    }

    /// A literal where case is ignored: with its simple case folds, when they go beyond what
    /// regex-lite folds itself (ASCII letters).
    fn literal(&mut self, span: Span, c: char) {
        if !self.state.case_insensitive || !self.state.unicode {
            return;
        }
        let folded = self.folded(vec![(u32::from(c), u32::from(c))]);
        let ascii_fold = |c: u32| char::from_u32(c).is_some_and(|c| c.is_ascii_alphabetic());
        if folded.iter().skip(1).any(|r| !ascii_fold(r.0)) {
            self.replace.push((span, flat(folded)));
        }
    }

    /// `ranges` and, where case is ignored, every code point with the same simple case fold as
    /// one in them (regex-syntax's `case_fold_simple`): appended after `ranges`.
    fn folded(&self, mut ranges: Ranges) -> Ranges {
        if !self.state.case_insensitive {
            return ranges;
        }
        let folds = folds();
        let mut extra = Vec::new();
        for (start, end) in &ranges {
            let from = folds.by_char.partition_point(|(c, _)| c < start);
            for (_, key) in folds
                .by_char
                .iter()
                .skip(from)
                .take_while(|(c, _)| c <= end)
            {
                let first = folds.by_key.partition_point(|(k, _)| k < key);
                extra.extend(
                    folds
                        .by_key
                        .iter()
                        .skip(first)
                        .take_while(|(k, _)| k == key)
                        .map(|(_, c)| (*c, *c)),
                );
            }
        }
        ranges.extend(extra);
        ranges
    }
}

/// `\d`, `\s`, `\w` in Unicode mode (negated for `\D`, `\S`, `\W`); never folded.
fn perl_class(class: &ClassPerl) -> Ranges {
    let ranges = perl_ranges(&class.kind);
    if class.negated {
        complement(ranges)
    } else {
        ranges
    }
}

/// `[[:alpha:]]` and the others, as regex-syntax defines them.
fn ascii_class(kind: &ClassAsciiKind) -> Ranges {
    let ranges: &[(u8, u8)] = match kind {
        ClassAsciiKind::Alnum => &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z')],
        ClassAsciiKind::Alpha => &[(b'A', b'Z'), (b'a', b'z')],
        ClassAsciiKind::Ascii => &[(0, 0x7F)],
        ClassAsciiKind::Blank => &[(b'\t', b'\t'), (b' ', b' ')],
        ClassAsciiKind::Cntrl => &[(0, 0x1F), (0x7F, 0x7F)],
        ClassAsciiKind::Digit => &[(b'0', b'9')],
        ClassAsciiKind::Graph => &[(b'!', b'~')],
        ClassAsciiKind::Lower => &[(b'a', b'z')],
        ClassAsciiKind::Print => &[(b' ', b'~')],
        ClassAsciiKind::Punct => &[(b'!', b'/'), (b':', b'@'), (b'[', b'`'), (b'{', b'~')],
        ClassAsciiKind::Space => &[(b'\t', b'\r'), (b' ', b' ')],
        ClassAsciiKind::Upper => &[(b'A', b'Z')],
        ClassAsciiKind::Word => &[(b'0', b'9'), (b'A', b'Z'), (b'_', b'_'), (b'a', b'z')],
        ClassAsciiKind::Xdigit => &[(b'0', b'9'), (b'A', b'F'), (b'a', b'f')],
    };
    ranges
        .iter()
        .map(|(s, e)| (u32::from(*s), u32::from(*e)))
        .collect()
}

/// `ranges` sorted, with overlapping and adjacent ones merged.
fn canonical(mut ranges: Ranges) -> Ranges {
    ranges.sort_unstable();
    let mut merged: Ranges = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Every code point (surrogates included: [`flat`] drops them) not in `ranges`.
fn complement(ranges: Ranges) -> Ranges {
    let mut out = Vec::new();
    let mut next = 0u32;
    for (start, end) in canonical(ranges) {
        if start > next {
            out.push((next, start - 1));
        }
        next = end.saturating_add(1);
    }
    if next <= 0x10FFFF {
        out.push((next, 0x10FFFF));
    }
    out
}

fn intersection(a: Ranges, b: Ranges) -> Ranges {
    let mut either = complement(a);
    either.extend(complement(b));
    complement(either)
}

/// Every code point that shares its simple case fold with another, with that fold's key: sorted
/// by code point, and by key.
struct Folds {
    by_char: Vec<(u32, u32)>,
    by_key: Vec<(u32, u32)>,
}

/// Unicode's simple case folds (CaseFolding.txt, statuses C and S) that are not a code point's
/// lowercase mapping: the rest are.
const FOLDS_NOT_LOWERCASE: &[(u32, u32)] = &[
    (0xB5, 0x3BC),
    (0x17F, 0x73),
    (0x345, 0x3B9),
    (0x3C2, 0x3C3),
    (0x3D0, 0x3B2),
    (0x3D1, 0x3B8),
    (0x3D5, 0x3C6),
    (0x3D6, 0x3C0),
    (0x3F0, 0x3BA),
    (0x3F1, 0x3C1),
    (0x3F5, 0x3B5),
    (0x1C80, 0x432),
    (0x1C81, 0x434),
    (0x1C82, 0x43E),
    (0x1C83, 0x441),
    (0x1C84, 0x442),
    (0x1C85, 0x442),
    (0x1C86, 0x44A),
    (0x1C87, 0x463),
    (0x1C88, 0xA64B),
    (0x1E9B, 0x1E61),
    (0x1FBE, 0x3B9),
    (0x1FD3, 0x390),
    (0x1FE3, 0x3B0),
    (0xFB05, 0xFB06),
];

/// Simple case folding: a code point folds to its lowercase (where that is one code point), or
/// as [`FOLDS_NOT_LOWERCASE`] says; two fold alike when their folds are the same. Computed on
/// first use, that is, only for a case-insensitive pattern, from core's lowercase mapping (core
/// has its uppercase table too, but only the lowercase one is linked then). Letters newer than
/// core's Unicode version fold as themselves (see the test).
fn folds() -> &'static Folds {
    static FOLDS: OnceLock<Folds> = OnceLock::new();
    FOLDS.get_or_init(|| {
        let mut by_char = Vec::new();
        // Every cased code point is below U+20000.
        for c in (0..0x2_0000).filter_map(char::from_u32) {
            let mut lower = c.to_lowercase();
            let key = match (lower.next(), lower.next()) {
                (Some(l), None) => u32::from(l),
                _ => u32::from(c),
            };
            if key != u32::from(c) {
                by_char.push((u32::from(c), key));
                by_char.push((key, key));
            }
        }
        for (c, key) in FOLDS_NOT_LOWERCASE {
            by_char.push((*c, *key));
            by_char.push((*key, *key));
        }
        by_char.sort_unstable();
        by_char.dedup();
        let mut by_key: Vec<(u32, u32)> = by_char.iter().map(|(c, k)| (*k, *c)).collect();
        by_key.sort_unstable();
        Folds { by_char, by_key }
    })
}

/// `\d`, `\s`, `\w` in Unicode mode, as regex-syntax defines them (UTS #18 Annex C).
fn perl_ranges(kind: &ClassPerlKind) -> Ranges {
    match kind {
        ClassPerlKind::Digit => gc_ranges(GeneralCategoryGroup::DecimalNumber, true),
        ClassPerlKind::Space => set_ranges(CodePointSetData::new::<WhiteSpace>()),
        ClassPerlKind::Word => {
            let mut ranges = set_ranges(CodePointSetData::new::<Alphabetic>());
            ranges.extend(set_ranges(CodePointSetData::new::<JoinControl>()));
            let word = GeneralCategoryGroup::Mark
                .union(GeneralCategoryGroup::DecimalNumber)
                .union(GeneralCategoryGroup::ConnectorPunctuation);
            ranges.extend(gc_ranges(word, true));
            ranges
        }
    }
}

fn pair(r: RangeInclusive<u32>) -> (u32, u32) {
    (*r.start(), *r.end())
}

fn set_ranges(set: CodePointSetDataBorrowed<'static>) -> Ranges {
    set.iter_ranges().map(pair).collect()
}

/// The code points whose general category is (`is`) or is not in `group`.
fn gc_ranges(group: GeneralCategoryGroup, is: bool) -> Ranges {
    CodePointMapData::<GeneralCategory>::new()
        .iter_ranges()
        .filter(|r| group.contains(r.value) == is)
        .map(|r| pair(r.range))
        .collect()
}

fn script_ranges(sc: Script) -> Ranges {
    CodePointMapData::<Script>::new()
        .iter_ranges_for_value(sc)
        .map(pair)
        .collect()
}

/// The code points of one `\p{…}` (before its negation).
fn unicode_ranges(kind: &ClassUnicodeKind) -> Result<Ranges, String> {
    match kind {
        ClassUnicodeKind::OneLetter(c) => named(&c.to_string()),
        ClassUnicodeKind::Named(name) => named(name),
        ClassUnicodeKind::NamedValue { name, value, .. } => {
            let property = normalize(name.as_bytes());
            match property.as_str() {
                "gc" | "generalcategory" => general_category(value),
                "sc" | "script" => script(value).map(script_ranges),
                "scx" | "scriptextensions" => script(value).map(|sc| {
                    ScriptWithExtensions::new()
                        .get_script_extensions_ranges(sc)
                        .map(pair)
                        .collect()
                }),
                _ => None,
            }
            .ok_or_else(|| format!("Unicode property not supported: {name}={value}"))
        }
    }
}

/// A bare name, tried in regex-syntax's order: binary property, general category, script.
fn named(name: &str) -> Result<Ranges, String> {
    let norm = normalize(name.as_bytes());
    // `Cf` is the general category (Format), not Changes_When_Casefolded.
    let as_binary = if norm == "cf" {
        None
    } else {
        BINARY
            .iter()
            .find(|(long, short, _)| {
                normalize(long) == norm
                    || normalize(short) == norm
                    // White_Space's third alias (PropertyAliases.txt), as regex-syntax has it.
                    || (norm == "space" && *long == WhiteSpace::NAME)
            })
            .map(|(_, _, set)| set_ranges(*set))
    };
    as_binary
        .or_else(|| general_category(name))
        .or_else(|| script(name).map(script_ranges))
        .ok_or_else(|| format!("Unicode property not found: {name}"))
}

fn general_category(value: &str) -> Option<Ranges> {
    match normalize(value.as_bytes()).as_str() {
        "any" => Some(vec![(0, 0x10FFFF)]),
        "ascii" => Some(vec![(0, 0x7F)]),
        "assigned" => Some(gc_ranges(GeneralCategoryGroup::Unassigned, false)),
        _ => loose::<GeneralCategoryGroup>(value).map(|group| gc_ranges(group, true)),
    }
}

fn script(value: &str) -> Option<Script> {
    loose::<Script>(value)
}

/// ICU4X's loose match (case, spaces, `_`, `-`), and regex-syntax's: also without an `is` prefix.
fn loose<T: icu_properties::props::ParseableEnumeratedProperty>(value: &str) -> Option<T> {
    let parser = PropertyParser::<T>::new();
    parser.get_loose(value).or_else(|| {
        let rest = value.get(2..)?;
        let prefix = value.get(..2)?;
        if prefix.eq_ignore_ascii_case("is") {
            parser.get_loose(rest)
        } else {
            None
        }
    })
}

/// regex-syntax's symbolic name normalization: ASCII lowercase, no spaces, `_` or `-`, no `is`
/// prefix.
fn normalize(name: &[u8]) -> String {
    let name = match name.get(..2) {
        Some(p) if p.eq_ignore_ascii_case(b"is") && name.len() > 2 => name.get(2..).unwrap_or(name),
        _ => name,
    };
    name.iter()
        .filter(|c| c.is_ascii() && !matches!(c, b' ' | b'_' | b'-'))
        .map(|c| char::from(c.to_ascii_lowercase()))
        .collect()
}

/// One end of a range in a class: ASCII letters and digits as themselves (regex-lite, ignoring
/// case, takes an escaped letter for a class of two and refuses it as a range's end), any other
/// code point as `\x{…}`.
fn push_char(out: &mut String, c: u32) {
    match char::from_u32(c) {
        Some(c) if c.is_ascii_alphanumeric() => out.push(c),
        _ => {
            let _ = write!(out, "\\x{{{c:X}}}");
        }
    }
}

/// A bracketed class of `ranges` (in any order, overlapping or not; surrogates dropped), never
/// negated; with no code point, a class regex-lite reads as matching nothing.
fn flat(ranges: Ranges) -> String {
    let mut out = String::from("[");
    let mut any = false;
    for (start, end) in canonical(ranges) {
        for (s, e) in [(start, end.min(0xD7FF)), (start.max(0xE000), end)] {
            if s <= e {
                any = true;
                push_char(&mut out, s);
                if s != e {
                    out.push('-');
                    push_char(&mut out, e);
                }
            }
        }
    }
    if !any {
        return "[^\\x{0}-\\x{10FFFF}]".to_string();
    }
    out.push(']');
    out
}

/// ECMA-262's binary properties (table-binary-unicode-properties), by ICU4X's long and short
/// names (`CodePointSetData::new_for_ecma262`'s list, without its matching code).
type Binary = (
    &'static [u8],
    &'static [u8],
    CodePointSetDataBorrowed<'static>,
);

macro_rules! binary {
    ($($p:ident),* $(,)?) => {
        &[$(($p::NAME, $p::SHORT_NAME, CodePointSetData::new::<$p>())),*]
    };
}

const BINARY: &[Binary] = binary![
    AsciiHexDigit,
    Alphabetic,
    BidiControl,
    BidiMirrored,
    CaseIgnorable,
    Cased,
    ChangesWhenCasefolded,
    ChangesWhenCasemapped,
    ChangesWhenLowercased,
    ChangesWhenNfkcCasefolded,
    ChangesWhenTitlecased,
    ChangesWhenUppercased,
    Dash,
    DefaultIgnorableCodePoint,
    Deprecated,
    Diacritic,
    Emoji,
    EmojiComponent,
    EmojiModifier,
    EmojiModifierBase,
    EmojiPresentation,
    ExtendedPictographic,
    Extender,
    GraphemeBase,
    GraphemeExtend,
    HexDigit,
    IdsBinaryOperator,
    IdsTrinaryOperator,
    IdContinue,
    IdStart,
    Ideographic,
    JoinControl,
    LogicalOrderException,
    Lowercase,
    Math,
    NoncharacterCodePoint,
    PatternSyntax,
    PatternWhiteSpace,
    QuotationMark,
    Radical,
    RegionalIndicator,
    SentenceTerminal,
    SoftDotted,
    TerminalPunctuation,
    UnifiedIdeograph,
    Uppercase,
    VariationSelector,
    WhiteSpace,
    XidContinue,
    XidStart,
];

#[cfg(test)]
mod tests {
    use super::*;
    use regex_syntax::hir::{Class, Hir, HirKind};

    use std::collections::BTreeSet;

    /// The code points regex-syntax's own translation (with its Unicode tables) gives a pattern
    /// that is a single class or literal; `None` where it has no such property.
    fn hir_set(pattern: &str) -> Option<BTreeSet<u32>> {
        let hir: Hir = regex_syntax::Parser::new().parse(pattern).ok()?;
        Some(match hir.kind() {
            HirKind::Class(Class::Unicode(c)) => c
                .ranges()
                .iter()
                .flat_map(|r| u32::from(r.start())..=u32::from(r.end()))
                .filter(|c| !(0xD800..=0xDFFF).contains(c))
                .collect(),
            // No code point at all (regex-syntax's `fail`).
            HirKind::Class(Class::Bytes(c)) if c.ranges().is_empty() => BTreeSet::new(),
            HirKind::Literal(l) => std::str::from_utf8(&l.0)
                .unwrap()
                .chars()
                .map(u32::from)
                .collect(),
            other => panic!("{pattern}: {other:?}"),
        })
    }

    /// The spelled-out class, read back by regex-syntax without case folding (it is done).
    fn spelled_set(pattern: &str) -> BTreeSet<u32> {
        let ast = regex_syntax::ast::parse::Parser::new()
            .parse(pattern)
            .unwrap();
        let spelled = spell_out(pattern, &ast, false).unwrap();
        hir_set(&spelled.replace("(?i)", "")).unwrap()
    }

    /// Where ICU4X (Unicode 17) and regex-syntax 0.8 (Unicode 16) may differ: code points
    /// Unicode 16 leaves unassigned.
    /// Properties of assigned code points change between versions too (Unicode 17 gave U+0277
    /// an uppercase, made U+0295 Lo, added Diacritics, moved U+1CF5 out of Devanagari's
    /// extensions; and ICU4X's Extended_Pictographic lacks about 700 of regex-syntax's, such as
    /// U+2605): up to `changed` of those.
    fn same_but_newer(pattern: &str, unassigned16: &BTreeSet<u32>, changed: usize) -> bool {
        let Some(theirs) = hir_set(pattern) else {
            return true; // regex-syntax lacks it (Changes_When_NFKC_Casefolded)
        };
        let ours = spelled_set(pattern);
        theirs
            .symmetric_difference(&ours)
            .filter(|c| !unassigned16.contains(c))
            .count()
            <= changed
    }

    #[test]
    fn case_folds_are_regex_syntax_simple_folds() {
        let unassigned16 = hir_set(r"\p{Cn}").unwrap();
        let mut differ = Vec::new();
        // ASCII letters are left to regex-lite, which folds them itself.
        for c in (0..0x2_0000)
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii_alphabetic() || matches!(c, 'k' | 'K' | 's' | 'S'))
            // New letters fold with old ones (U+A7D2 with U+A7D3): probed from the old side.
            .filter(|c| !unassigned16.contains(&u32::from(*c)))
        {
            let p = format!("(?i)\\x{{{:X}}}", u32::from(c));
            if !same_but_newer(&p, &unassigned16, 0) {
                differ.push(c);
            }
        }
        assert!(differ.is_empty(), "{differ:?}");
    }

    #[test]
    fn classes_are_regex_syntax_classes() {
        let unassigned16 = hir_set(r"\p{Cn}").unwrap();
        let mut differ = Vec::new();
        for (long, short, _) in BINARY {
            for n in [long, short].map(|n| std::str::from_utf8(n).unwrap()) {
                for p in [format!("\\p{{{n}}}"), format!("(?i)\\P{{{n}}}")] {
                    if !same_but_newer(&p, &unassigned16, 800) {
                        differ.push(p);
                    }
                }
            }
        }
        let mut names = Vec::new();
        for n in [
            "L",
            "Lu",
            "Letter",
            "letter",
            "isLetter",
            "Nd",
            "digit",
            "P",
            "punct",
            "Cased_Letter",
            "LC",
            "Cn",
            "C",
            "Other",
            "Cs",
            "Co",
            "Any",
            "ASCII",
            "Assigned",
            "Greek",
            "Latin",
            "Han",
            "Cyrl",
            "Common",
            "Zyyy",
            "Inherited",
            "Unknown",
            "sc=Greek",
            "scx=Greek",
            "Script_Extensions=Deva",
            "General_Category=Letter",
            "gc=L",
            "gc:Lu",
            "gc!=L",
            "space",
            "wspace",
            "White Space",
            "alphabetic",
            "isAlpha",
            "Nl",
            "Zs",
            "separator",
            "Mn",
            "Combining_Mark",
            "Sc",
            "Sm",
            "grek",
            "isGreek",
            "Hiragana",
            "sc=arab",
            "scx:Arab",
            "Zinh",
            "Zzzz",
            "cf",
            "Format",
            "XIDS",
        ] {
            names.push(n.to_string());
        }
        for n in &names {
            for neg in ["p", "P"] {
                let p = format!("\\{neg}{{{n}}}");
                if !same_but_newer(&p, &unassigned16, 80) {
                    differ.push(p.clone());
                }
                let p = format!("(?i)\\{neg}{{{n}}}");
                if !same_but_newer(&p, &unassigned16, 80) {
                    differ.push(p);
                }
            }
        }
        for p in [
            r"\d",
            r"\D",
            r"\s",
            r"\w",
            r"\W",
            r"(?i)\w",
            r"[\w&&\p{Greek}]",
            "(?i)[a-z]",
            "(?i)[^k]",
            r"[[:alpha:][:^digit:]]",
            r"(?i)[[:upper:]é]",
            r"[a-z&&[^aeiou]]",
            r"[\p{L}~~\p{Lu}]",
            r"(?i)[^\p{Ll}]",
            r"[^[^a]]",
            r"(?i)[\p{Greek}--σ]",
            r"[\d--[0-9]]",
            r"[\W&&\p{Nd}]",
            r"(?i)[^k-s]",
            r"[\s&&[^ ]]",
        ] {
            // Lowercase letters Unicode 17 changed: U+0295 is Lo now, U+0277 and U+027C have
            // new uppercase partners.
            let changed = if p.contains("Ll") { 3 } else { 0 };
            if !same_but_newer(p, &unassigned16, changed) {
                differ.push(p.to_string());
            }
        }
        assert!(differ.is_empty(), "{differ:?}");
    }
}
