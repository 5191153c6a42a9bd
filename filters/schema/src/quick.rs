//! The quick path for valid JSON bodies (issue 13): the body's bytes are checked against a plan
//! of the schema in one pass, without building a `serde_json::Value` and without boon's
//! per-node bookkeeping. It only ever answers "valid": anything it does not handle exactly as
//! [`crate::json::parse`] and boon do (a schema keyword outside the plan's set, an escape in a
//! key, a duplicate key, a depth or number length near a limit, a float literal it cannot
//! read the way serde_json does) and every invalid body go the full way (parse, then boon),
//! which decides and describes what is wrong. So the answer never depends on this module
//! except in time.
//!
//! At configure time every schema's plan is merged into shapes: all the checks that apply at one
//! place of a body (a schema, what its `$ref`s and `allOf`s reach, the `properties`,
//! `additionalProperties` and `items` of several schemas meeting there) become one `Shape`,
//! so the walk looks at one set of bounds per value; member names are found by one comparison
//! (few names) or a small hash table, repeated and required members are bits; strings are scanned
//! eight bytes at a time; anchored patterns of ASCII classes are matched without the regex
//! engine (`Pattern`).
//!
//! Measured on the bench's valid orders (callgrind, release build, `cargo run --release -p
//! palisade-benches --example body_cost -- quick SIZE_KIB N`, N rounds minus none): 64 KiB, parse
//! into a `Value` 5.9 M instructions (with its drop) and boon 3.6 M against 1.65 M here (3.1 M
//! before the shapes); 1 KiB, 80 k + 59 k against 26 k (50 k).
//!
//! The plan's keywords, with boon's semantics: `type`, `enum` (of strings and `null`),
//! `properties`, `required`, `additionalProperties`, `minProperties`, `maxProperties`, `items`
//! (one schema), `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern` (without `\`: boon
//! hands such a pattern to the `regex` crate unchanged), `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`, `allOf`, `anyOf` and `oneOf` where the
//! kind of value (null, boolean, object, array, number, string) leaves one branch that may hold
//! (the others refuse it whatever it is: OpenAPI 3.0's `nullable` beside `allOf`/`$ref`, which
//! [`crate::dialect30`] writes as `anyOf: [{type: null}, ...]`, and alternatives of different
//! types), `$ref` (to a pointer in a document given in config; siblings ignored in draft-07 as
//! boon does), boolean schemas, and annotations.
//!
//! Checked against the full way, on stable by `random_schemas_and_bodies_never_pass_quickly_
//! where_the_full_way_refuses` (random schemas of these keywords, bodies near their instances;
//! `PALISADE_QUICK_ROUNDS` for longer runs) and with libFuzzer by the `schema_quick` target
//! (`cargo xtask fuzz --target schema_quick`), which also compares the filter's decisions with
//! this path on and off (`SchemaSet::disable_quick_path`, feature `fuzzing`).

use crate::json::JsonLimits;
use regex::Regex;
use serde_json::{Number, Value};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// A node of the plan arena.
type NodeId = u32;

/// At most this many plan nodes per set (over all its batches, see [`PLAN_BATCH`]): beyond it
/// schemas take the full way only.
pub(crate) const MAX_NODES: usize = 100_000;

/// Schemas are planned and merged this many at a time, each batch's nodes dropped before the
/// next is planned (issue 13): planning all 1,000 schemas of the large bench description at
/// once held 6.9 MiB of nodes in a Wasm VM (which keeps the most memory it ever used) to merge
/// them into 1.6 MiB of shapes. A component that schemas of several batches reach is planned
/// once per batch.
pub(crate) const PLAN_BATCH: usize = 32;

/// Schemas nested deeper than this, counting each `$ref`, `allOf` part and sub-schema the planner
/// follows (it recurses), have no plan. A large description's schemas reach each other through
/// `properties`/`items`/`$ref` in long paths: without a bound, planning one overflowed the stack
/// at configure time (a chain of 200 `$ref`s in a native debug build; Wasm's stack is 1 MiB).
const MAX_PLAN_DEPTH: usize = 128;

/// A node reaching more nodes than this through `$ref`/`allOf` is left to the full way: the
/// flattening is quadratic in a chain's length (chains form across schemas planned one by one,
/// so [`MAX_PLAN_DEPTH`] does not bound them).
const MAX_REACH: usize = 64;

/// Nesting beyond this is left to the full way (serde_json's own recursion limit is 128).
const MAX_QUICK_DEPTH: usize = 100;

/// Objects with more members than this are left to the full way (duplicate keys are found by
/// comparing each key with the ones before it).
const MAX_QUICK_MEMBERS: usize = 128;

const T_NULL: u8 = 1;
const T_BOOL: u8 = 2;
const T_OBJECT: u8 = 4;
const T_ARRAY: u8 = 8;
const T_NUMBER: u8 = 16;
const T_INTEGER: u8 = 32;
const T_STRING: u8 = 64;

#[derive(Debug, Default)]
enum Additional {
    #[default]
    Any,
    Never,
    Schema(NodeId),
}

/// One schema's own checks (what it `$ref`s or `allOf`s is in [`Graph::flat`]).
#[derive(Debug, Default)]
struct Node<'d> {
    /// `false`.
    never: bool,
    /// Bit set of the `T_` types; 0 for any.
    types: u8,
    /// `enum` of strings and `null` (the strings; `null` is in `enum_null`).
    enum_strings: Option<Vec<&'d str>>,
    enum_null: bool,
    /// Sorted by name.
    properties: Vec<(&'d str, NodeId)>,
    additional: Additional,
    required: Vec<&'d str>,
    items: Option<NodeId>,
    /// The size, length, pattern and number checks, which few nodes have (out of line, so a
    /// large description's many nodes stay small while planning).
    bounds: Option<Box<Bounds<'d>>>,
    /// A node of its own for an `anyOf` (`false`) or `oneOf` (`true`): its branches. Such a node
    /// has no other checks (the schema holding the keyword reaches it like an `allOf` part).
    choice: Option<Box<(Vec<NodeId>, bool)>>,
}

/// A node's rarer checks (see [`Node::bounds`]).
#[derive(Debug, Default)]
struct Bounds<'d> {
    min_properties: Option<usize>,
    max_properties: Option<usize>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<(&'d str, Regex)>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
}

impl<'d> Node<'d> {
    fn bounds(&mut self) -> &mut Bounds<'d> {
        self.bounds.get_or_insert_with(Box::default)
    }
}

/// The schemas as planned, one node per schema object, before merging (see [`Merger`]).
#[derive(Debug, Default)]
struct Graph<'d> {
    nodes: Vec<Node<'d>>,
    /// For each node: it and every node its `$ref`/`allOf` reach, the checks a value meets.
    flat: Vec<Vec<NodeId>>,
    /// Per schema id of the set: its node, if it has a plan.
    roots: Vec<Option<NodeId>>,
}

/// Draft of a resource, as far as the plan cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draft {
    V7,
    V2020,
}

/// Builds plans from the documents given in config (the builder's copies).
pub(crate) struct Planner<'d> {
    docs: &'d HashMap<String, Value>,
    default_v2020: bool,
    assert_formats: bool,
    plans: Graph<'d>,
    /// `url#pointer` → node (also while its children are being planned).
    memo: HashMap<String, NodeId>,
    /// `also` edges while planning: node → the nodes it `$ref`s / `allOf`s.
    also: Vec<Vec<NodeId>>,
    /// Documents known to hold no key that changes how a `$ref` resolves.
    plain_docs: HashMap<String, bool>,
    /// Nodes being built (the recursion's depth).
    depth: usize,
    /// Most nodes this planner may build (what is left of [`MAX_NODES`] for the set).
    max_nodes: usize,
}

impl<'d> Planner<'d> {
    pub(crate) fn new(
        docs: &'d HashMap<String, Value>,
        default_v2020: bool,
        assert_formats: bool,
    ) -> Self {
        Self {
            docs,
            default_v2020,
            assert_formats,
            plans: Graph::default(),
            memo: HashMap::new(),
            also: Vec::new(),
            plain_docs: HashMap::new(),
            depth: 0,
            max_nodes: MAX_NODES,
        }
    }

    /// At most `max` nodes are built (what earlier batches of the set left).
    pub(crate) fn limit_nodes(&mut self, max: usize) {
        self.max_nodes = max;
    }

    /// How many nodes were built.
    pub(crate) fn nodes(&self) -> usize {
        self.plans.nodes.len()
    }

    /// Adds the plan of the schema at `location` (the next schema id), if it has one.
    pub(crate) fn add(&mut self, location: &str) {
        let (url, fragment) = location.split_once('#').unwrap_or((location, ""));
        let pointer = pointer_of(fragment);
        let root = if let Some(pointer) = pointer {
            let before = self.plans.nodes.len();
            let root = self.node(url, &pointer);
            if root.is_none() {
                // Nodes of a failed plan may be half built: forget everything planned since.
                self.plans.nodes.truncate(before);
                self.also.truncate(before);
                self.memo.retain(|_, id| (*id as usize) < before);
            }
            root
        } else {
            None
        };
        self.plans.roots.push(root);
    }

    /// The plans, with every node's reach flattened; a node in a `$ref`/`allOf` cycle (boon
    /// reports those as failures) or reaching more than [`MAX_REACH`] nodes is never passed
    /// quickly.
    pub(crate) fn finish(mut self) -> Plans {
        // The memo's `url#pointer` keys are large for a large description: gone before merging.
        self.memo = HashMap::new();
        self.plain_docs = HashMap::new();
        let mut flat = Vec::with_capacity(self.also.len());
        for start in 0..self.also.len() {
            let mut seen = vec![u32::try_from(start).unwrap_or(u32::MAX)];
            let mut todo = seen.clone();
            let mut never = false;
            while let Some(n) = todo.pop() {
                for &next in self.also.get(n as usize).into_iter().flatten() {
                    if next as usize == start {
                        // A cycle: boon reports it.
                        never = true;
                    }
                    if !seen.contains(&next) {
                        seen.push(next);
                        todo.push(next);
                    }
                }
                if seen.len() > MAX_REACH {
                    // Too far to flatten (every list holding this node declines).
                    never = true;
                    break;
                }
            }
            if never {
                // A node that can never be checked quickly.
                if let Some(node) = self.plans.nodes.get_mut(start) {
                    node.never = true;
                }
            }
            flat.push(seen);
        }
        self.plans.flat = flat;
        self.also = Vec::new();
        Merger::merge(self.plans)
    }

    fn draft(&self, doc: &Value) -> Option<Draft> {
        match doc.get("$schema") {
            None => Some(if self.default_v2020 {
                Draft::V2020
            } else {
                Draft::V7
            }),
            Some(Value::String(s)) => match s.as_str() {
                "http://json-schema.org/draft-07/schema#"
                | "http://json-schema.org/draft-07/schema" => Some(Draft::V7),
                "https://json-schema.org/draft/2020-12/schema"
                | "https://json-schema.org/draft/2020-12/schema#" => Some(Draft::V2020),
                _ => None,
            },
            Some(_) => None,
        }
    }

    fn plain(&mut self, url: &str, doc: &Value) -> bool {
        if let Some(&known) = self.plain_docs.get(url) {
            return known;
        }
        let plain = !has_base_keys(doc);
        self.plain_docs.insert(url.to_string(), plain);
        plain
    }

    /// The node of the schema at `pointer` in the document `url`.
    fn node(&mut self, url: &str, pointer: &str) -> Option<NodeId> {
        let key = format!("{url}#{pointer}");
        if let Some(&id) = self.memo.get(&key) {
            return Some(id);
        }
        if self.plans.nodes.len() >= self.max_nodes || self.depth >= MAX_PLAN_DEPTH {
            return None;
        }
        let docs = self.docs;
        let doc = docs.get(url)?;
        if !self.plain(url, doc) {
            return None;
        }
        let draft = self.draft(doc)?;
        let schema = doc.pointer(pointer)?;
        let id = NodeId::try_from(self.plans.nodes.len()).ok()?;
        self.plans.nodes.push(Node::default());
        self.also.push(Vec::new());
        self.memo.insert(key, id);
        self.depth += 1;
        let node = self.build(url, pointer, draft, pointer.is_empty(), schema, id);
        self.depth -= 1;
        *self.plans.nodes.get_mut(id as usize)? = node?;
        Some(id)
    }

    fn child(&mut self, url: &str, pointer: &str, tokens: &[&str]) -> Option<NodeId> {
        let mut p = pointer.to_string();
        for t in tokens {
            p.push('/');
            p.push_str(&t.replace('~', "~0").replace('/', "~1"));
        }
        self.node(url, &p)
    }

    fn build(
        &mut self,
        url: &str,
        pointer: &str,
        draft: Draft,
        at_root: bool,
        schema: &'d Value,
        id: NodeId,
    ) -> Option<Node<'d>> {
        let mut node = Node::default();
        let map = match schema {
            Value::Bool(true) => return Some(node),
            Value::Bool(false) => {
                node.never = true;
                return Some(node);
            }
            Value::Object(map) => map,
            _ => return None,
        };
        if let Some(Value::String(r)) = map.get("$ref") {
            let target = self.reference(url, r)?;
            self.also.get_mut(id as usize)?.push(target);
            if draft == Draft::V7 {
                // Draft-07: the keywords beside `$ref` are ignored.
                return Some(node);
            }
        }
        let usize_of = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
        for (keyword, value) in map {
            match keyword.as_str() {
                "$ref" if value.is_string() => {}
                "$schema" if at_root => {}
                "title" | "description" | "default" | "examples" | "example" | "deprecated"
                | "readOnly" | "writeOnly" | "$comment" | "$defs" | "definitions"
                | "externalDocs" | "xml" => {}
                k if k.starts_with("x-") => {}
                "format" if draft == Draft::V2020 && !self.assert_formats => {}
                "type" => node.types = types(value)?,
                "enum" => {
                    let mut strings = Vec::new();
                    for v in value.as_array()? {
                        match v {
                            Value::String(s) => strings.push(s.as_str()),
                            Value::Null => node.enum_null = true,
                            _ => return None,
                        }
                    }
                    node.enum_strings = Some(strings);
                }
                "properties" => {
                    let props = value.as_object()?;
                    let mut list = Vec::with_capacity(props.len());
                    for name in props.keys() {
                        let child = self.child(url, pointer, &["properties", name])?;
                        list.push((name.as_str(), child));
                    }
                    list.sort_by(|a, b| a.0.cmp(b.0));
                    node.properties = list;
                }
                "additionalProperties" => {
                    node.additional = match value {
                        Value::Bool(true) => Additional::Any,
                        Value::Bool(false) => Additional::Never,
                        _ => Additional::Schema(self.child(url, pointer, &[keyword])?),
                    }
                }
                "required" => {
                    node.required = value
                        .as_array()?
                        .iter()
                        .map(Value::as_str)
                        .collect::<Option<Vec<_>>>()?;
                }
                "minProperties" => node.bounds().min_properties = Some(usize_of(value)?),
                "maxProperties" => node.bounds().max_properties = Some(usize_of(value)?),
                "items" if value.is_object() || value.is_boolean() => {
                    node.items = Some(self.child(url, pointer, &[keyword])?);
                }
                "minItems" => node.bounds().min_items = Some(usize_of(value)?),
                "maxItems" => node.bounds().max_items = Some(usize_of(value)?),
                "minLength" => node.bounds().min_length = Some(usize_of(value)?),
                "maxLength" => node.bounds().max_length = Some(usize_of(value)?),
                "pattern" => {
                    let p = value.as_str()?;
                    if p.contains('\\') {
                        return None;
                    }
                    node.bounds().pattern = Some((p, Regex::new(p).ok()?));
                }
                "minimum" => node.bounds().minimum = Some(value.as_f64()?),
                "maximum" => node.bounds().maximum = Some(value.as_f64()?),
                "exclusiveMinimum" if value.is_number() => {
                    node.bounds().exclusive_minimum = Some(value.as_f64()?);
                }
                "exclusiveMaximum" if value.is_number() => {
                    node.bounds().exclusive_maximum = Some(value.as_f64()?);
                }
                "multipleOf" => node.bounds().multiple_of = Some(value.as_f64()?),
                "allOf" => {
                    let n = value.as_array()?.len();
                    for i in 0..n {
                        let i = i.to_string();
                        let part = self.child(url, pointer, &["allOf", &i])?;
                        self.also.get_mut(id as usize)?.push(part);
                    }
                }
                "anyOf" | "oneOf" => {
                    let n = value.as_array()?.len();
                    let mut branches = Vec::with_capacity(n);
                    for i in 0..n {
                        let i = i.to_string();
                        branches.push(self.child(url, pointer, &[keyword, &i])?);
                    }
                    let choice = NodeId::try_from(self.plans.nodes.len()).ok()?;
                    self.plans.nodes.push(Node {
                        choice: Some(Box::new((branches, keyword == "oneOf"))),
                        ..Node::default()
                    });
                    self.also.push(Vec::new());
                    self.also.get_mut(id as usize)?.push(choice);
                }
                _ => return None,
            }
        }
        Some(node)
    }

    fn reference(&mut self, url: &str, r: &str) -> Option<NodeId> {
        let (target, fragment) = r.split_once('#').unwrap_or((r, ""));
        let fragment = pointer_of(fragment)?;
        if target.is_empty() {
            return self.node(url, &fragment);
        }
        // Only a URL given in config exactly as written (relative references are not resolved).
        if target.contains("://") || target.starts_with("urn:") {
            let target = target.to_string();
            return self.node(&target, &fragment);
        }
        None
    }
}

/// The JSON pointer a URL fragment names (RFC 6901, section 6: percent-decoded, so a location
/// such as `#/paths/~1things~1%7Bid%7D/get` names the path template's operation); `None` for a
/// fragment that is no pointer (an anchor) or does not decode to UTF-8. Pointers the planner
/// builds itself from member names are never encoded, so every pointer it keeps is decoded.
pub(crate) fn pointer_of(fragment: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !(fragment.is_empty() || fragment.starts_with('/')) {
        return None;
    }
    percent_encoding::percent_decode_str(fragment)
        .decode_utf8()
        .ok()
}

fn types(value: &Value) -> Option<u8> {
    let one = |s: &str| match s {
        "null" => Some(T_NULL),
        "boolean" => Some(T_BOOL),
        "object" => Some(T_OBJECT),
        "array" => Some(T_ARRAY),
        "number" => Some(T_NUMBER),
        "integer" => Some(T_INTEGER),
        "string" => Some(T_STRING),
        _ => None,
    };
    match value {
        Value::String(s) => one(s),
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .try_fold(0u8, |acc, v| Some(acc | one(v.as_str()?)?)),
        _ => None,
    }
}

/// Whether anything in `v` is a key that gives a schema a base URL or a name.
fn has_base_keys(v: &Value) -> bool {
    const KEYS: [&str; 6] = [
        "$id",
        "id",
        "$anchor",
        "$dynamicAnchor",
        "$recursiveAnchor",
        "$dynamicRef",
    ];
    match v {
        Value::Object(map) => {
            KEYS.iter()
                .any(|k| map.get(*k).is_some_and(Value::is_string))
                || map.values().any(has_base_keys)
        }
        Value::Array(items) => items.iter().any(has_base_keys),
        _ => false,
    }
}

/// A `pattern` as the quick path checks it: most patterns in API descriptions are anchored runs of
/// ASCII classes (`^[A-Z]{3}-[0-9]{6}$`, `^[a-z0-9-]{1,36}$`), matched here byte by byte
/// without the regex engine's per-search setup; any other pattern goes to the `regex` crate.
#[derive(Debug, Clone)]
enum Pattern {
    Simple(Vec<Atom>),
    Regex(Regex),
}

/// One class of ASCII characters, repeated `min..=max` times.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Atom {
    /// Bit per byte (only ASCII ones are set; four words, so any byte indexes in bounds).
    set: [u64; 4],
    min: usize,
    max: usize,
}

impl Atom {
    fn has(&self, c: u8) -> bool {
        let word = self.set.get(usize::from(c >> 6)).copied().unwrap_or(0);
        word >> (c & 63) & 1 != 0
    }

    fn add(&mut self, c: u8) {
        if let Some(word) = self.set.get_mut(usize::from(c >> 6)) {
            *word |= 1 << (c & 63);
        }
    }

    fn disjoint(&self, other: &Atom) -> bool {
        self.set.iter().zip(&other.set).all(|(a, b)| a & b == 0)
    }
}

/// Characters that stand for themselves in a pattern, outside and inside a class (the `regex`
/// crate's syntax; none is special in either place, nor in ECMA-262's).
fn plain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"_@:/ ,=%!;'\"<>".contains(&c)
}

impl Pattern {
    fn new(text: &str, regex: Regex) -> Self {
        match simple_atoms(text) {
            Some(atoms) => Pattern::Simple(atoms),
            None => Pattern::Regex(regex),
        }
    }

    fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Regex(r) => r.is_match(s),
            Pattern::Simple(atoms) => {
                let b = s.as_bytes();
                let mut i = 0;
                for a in atoms {
                    let rest = b.get(i..).unwrap_or_default();
                    let n = rest.iter().take(a.max).take_while(|&&c| a.has(c)).count();
                    if n < a.min {
                        return false;
                    }
                    i += n;
                }
                i == b.len()
            }
        }
    }
}

/// `^` atoms `$`, each atom a plain character or a class of plain characters and ranges of
/// letters or digits, with `{n}`, `{n,m}`, `{n,}`, `?`, `*` or `+`; `None` for anything else,
/// and where taking as many characters as each atom can is not the only way to match: an atom
/// of varying count must share no character with any atom after it up to the next one that
/// must occur. Then every match takes each run whole, and matching greedily decides.
fn simple_atoms(text: &str) -> Option<Vec<Atom>> {
    let inner = text.strip_prefix('^')?.strip_suffix('$')?.as_bytes();
    let mut atoms: Vec<Atom> = Vec::new();
    let mut i = 0;
    while let Some(&c) = inner.get(i) {
        let mut atom = Atom {
            set: [0; 4],
            min: 1,
            max: 1,
        };
        if c == b'[' {
            let len = inner.get(i + 1..)?.iter().position(|&c| c == b']')?;
            let class = inner.get(i + 1..i + 1 + len)?;
            if class.is_empty() {
                return None;
            }
            let mut j = 0;
            while let Some(&c) = class.get(j) {
                match (class.get(j + 1), class.get(j + 2)) {
                    (Some(b'-'), Some(&hi)) => {
                        let same = |a: u8, b: u8| {
                            (a.is_ascii_digit() && b.is_ascii_digit())
                                || (a.is_ascii_lowercase() && b.is_ascii_lowercase())
                                || (a.is_ascii_uppercase() && b.is_ascii_uppercase())
                        };
                        if !same(c, hi) || c > hi {
                            return None;
                        }
                        for x in c..=hi {
                            atom.add(x);
                        }
                        j += 3;
                    }
                    _ if c == b'-' && (j == 0 || j + 1 == class.len()) => {
                        atom.add(c);
                        j += 1;
                    }
                    _ if plain_char(c) || c == b'.' || c == b'+' => {
                        atom.add(c);
                        j += 1;
                    }
                    _ => return None,
                }
            }
            i += len + 2;
        } else if plain_char(c) || c == b'-' {
            atom.add(c);
            i += 1;
        } else {
            return None;
        }
        match inner.get(i) {
            Some(b'?') => (atom.min, atom.max, i) = (0, 1, i + 1),
            Some(b'*') => (atom.min, atom.max, i) = (0, usize::MAX, i + 1),
            Some(b'+') => (atom.min, atom.max, i) = (1, usize::MAX, i + 1),
            Some(b'{') => {
                let len = inner.get(i + 1..)?.iter().position(|&c| c == b'}')?;
                let counts = std::str::from_utf8(inner.get(i + 1..i + 1 + len)?).ok()?;
                let number = |s: &str| -> Option<usize> {
                    (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| s.parse().ok())
                        .flatten()
                };
                (atom.min, atom.max) = match counts.split_once(',') {
                    None => (number(counts)?, number(counts)?),
                    Some((lo, "")) => (number(lo)?, usize::MAX),
                    Some((lo, hi)) => (number(lo)?, number(hi)?),
                };
                if atom.min > atom.max {
                    return None;
                }
                i += len + 2;
            }
            _ => {}
        }
        if matches!(inner.get(i), Some(b'?' | b'*' | b'+' | b'{')) {
            // Lazy or stacked repetition.
            return None;
        }
        atoms.push(atom);
    }
    for (k, a) in atoms.iter().enumerate() {
        if a.min != a.max {
            for b in atoms.get(k + 1..).unwrap_or_default() {
                if !a.disjoint(b) {
                    return None;
                }
                if b.min > 0 {
                    break;
                }
            }
        }
    }
    Some(atoms)
}

/// A shape of the merged plan.
type ShapeId = u32;

/// The shape that accepts everything.
const ANY: ShapeId = 0;
/// The shape that accepts nothing (also: "not decided here").
const NEVER: ShapeId = 1;

/// At most this many shapes per set: beyond it a value that would need another one is left to
/// the full way.
const MAX_SHAPES: usize = 100_000;

/// How many `anyOf`/`oneOf` a value's kind may resolve in a row (nested choices) before the
/// value is left to the full way.
const MAX_CHOICES: usize = 16;

/// The kinds of JSON value, as bits (`1 << kind index`, the index being [`kind_of`]'s).
const K_NULL: u8 = 1;
const K_BOOL: u8 = 2;
const K_OBJECT: u8 = 4;
const K_ARRAY: u8 = 8;
const K_NUMBER: u8 = 16;
const K_STRING: u8 = 32;
const K_ALL: u8 = 63;

/// The kind index of the value starting with `first`.
fn kind_of(first: u8) -> Option<usize> {
    Some(match first {
        b'n' => 0,
        b't' | b'f' => 1,
        b'{' => 2,
        b'[' => 3,
        b'-' | b'0'..=b'9' => 4,
        b'"' => 5,
        _ => return None,
    })
}

/// The kinds `type` lets through (`integer`: numbers, checked for integrality).
fn kinds_of_types(types: u8) -> u8 {
    if types == 0 {
        return K_ALL;
    }
    let mut k = 0;
    for (t, kind) in [
        (T_NULL, K_NULL),
        (T_BOOL, K_BOOL),
        (T_OBJECT, K_OBJECT),
        (T_ARRAY, K_ARRAY),
        (T_NUMBER | T_INTEGER, K_NUMBER),
        (T_STRING, K_STRING),
    ] {
        if types & t != 0 {
            k |= kind;
        }
    }
    k
}

/// Object member names to their index, for the few-instruction lookup of a key: each name's
/// length and first eight bytes as a word ([`prefix`]) are compared before any other byte.
#[derive(Debug, Default)]
struct Names {
    names: Vec<Box<[u8]>>,
    /// Per name: its length and [`prefix`].
    heads: Vec<(usize, u64)>,
    /// Open addressing over [`name_hash`], index + 1 per slot (0: empty); empty when there are
    /// few names (they are compared one by one).
    table: Vec<u32>,
}

/// Up to this many names are compared one by one.
const LINEAR_NAMES: usize = 6;

/// The first (up to) eight bytes of `name`, little-endian, zero above its length.
fn prefix(name: &[u8]) -> u64 {
    name.iter()
        .take(8)
        .rev()
        .fold(0u64, |w, &b| (w << 8) | u64::from(b))
}

/// [`prefix`] of the `len` bytes at `start` of `b`, one load where eight bytes are there.
fn prefix_at(b: &[u8], start: usize, len: usize) -> u64 {
    match b.get(start..start + 8) {
        Some(chunk) => {
            let w = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
            if len >= 8 {
                w
            } else {
                w & ((1u64 << (8 * len)) - 1)
            }
        }
        None => prefix(b.get(start..start + len).unwrap_or_default()),
    }
}

fn name_hash(len: usize, head: u64) -> usize {
    let h = (head ^ (len as u64).rotate_left(56)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    usize::try_from(h >> 40).unwrap_or(0)
}

impl Names {
    fn new(names: Vec<Box<[u8]>>) -> Self {
        let heads: Vec<(usize, u64)> = names.iter().map(|n| (n.len(), prefix(n))).collect();
        let mut table = Vec::new();
        if names.len() > LINEAR_NAMES {
            let size = (names.len() * 2).next_power_of_two();
            table = vec![0u32; size];
            for (i, &(len, head)) in heads.iter().enumerate() {
                let mut slot = name_hash(len, head) & (size - 1);
                while table.get(slot).is_some_and(|e| *e != 0) {
                    slot = (slot + 1) & (size - 1);
                }
                if let Some(e) = table.get_mut(slot) {
                    *e = u32::try_from(i + 1).unwrap_or(0);
                }
            }
        }
        Self {
            names,
            heads,
            table,
        }
    }

    fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether name `i` is `key`, whose length and prefix are `len`, `head`.
    fn is(&self, i: usize, key: &[u8], head: u64) -> bool {
        self.heads.get(i) == Some(&(key.len(), head))
            && (key.len() <= 8
                || self
                    .names
                    .get(i)
                    .is_some_and(|n| n.get(8..) == key.get(8..)))
    }

    /// The index of `key` (the bytes `start..end` of `b`).
    fn find(&self, b: &[u8], start: usize, end: usize) -> Option<usize> {
        let key = b.get(start..end)?;
        let head = prefix_at(b, start, key.len());
        if self.table.is_empty() {
            return (0..self.heads.len()).find(|&i| self.is(i, key, head));
        }
        let mask = self.table.len() - 1;
        let mut slot = name_hash(key.len(), head) & mask;
        loop {
            let e = *self.table.get(slot)?;
            let i = usize::try_from(e).ok()?.checked_sub(1)?;
            if self.is(i, key, head) {
                return Some(i);
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// All the checks a value meets at one place of a body: the schemas that apply there (a node
/// and what its `$ref`s and `allOf`s reach, or several where `properties`, `additionalProperties`
/// and `items` of several schemas meet) merged into one, at configure time.
#[derive(Debug)]
struct Shape {
    /// The kinds of value that may pass ([`K_ALL`] and so on).
    kinds: u8,
    /// For an `anyOf`/`oneOf`: the shape per kind of value (see [`Merger::resolve`]); the
    /// other fields are unused.
    switch: Option<Box<[ShapeId; 6]>>,
    /// Numbers must be integers.
    integer: bool,
    /// Some check of a string's text, or of a number's value, is set (see [`Merger::build`]).
    strings_checked: bool,
    numbers_checked: bool,
    min_length: usize,
    max_length: usize,
    patterns: Vec<Pattern>,
    enum_strings: Option<Vec<String>>,
    minimum: f64,
    maximum: f64,
    exclusive_minimum: f64,
    exclusive_maximum: f64,
    multiples: Vec<f64>,
    /// Members with their own checks: every name in `properties` and `required`.
    names: Names,
    /// Per entry of `names`, its shape.
    members: Vec<ShapeId>,
    /// Bit set over `names` (64 to a word): the required ones.
    required: Vec<u64>,
    /// The shape of any other member.
    additional: ShapeId,
    min_properties: usize,
    max_properties: usize,
    items: ShapeId,
    min_items: usize,
    max_items: usize,
}

impl Shape {
    fn any() -> Self {
        Self {
            kinds: K_ALL,
            switch: None,
            integer: false,
            strings_checked: false,
            numbers_checked: false,
            min_length: 0,
            max_length: usize::MAX,
            patterns: Vec::new(),
            enum_strings: None,
            minimum: f64::NEG_INFINITY,
            maximum: f64::INFINITY,
            exclusive_minimum: f64::NEG_INFINITY,
            exclusive_maximum: f64::INFINITY,
            multiples: Vec::new(),
            names: Names::default(),
            members: Vec::new(),
            required: Vec::new(),
            additional: ANY,
            min_properties: 0,
            max_properties: usize::MAX,
            items: ANY,
            min_items: 0,
            max_items: usize::MAX,
        }
    }

    fn never() -> Self {
        Self {
            kinds: 0,
            ..Self::any()
        }
    }

    fn string_checks(&self) -> bool {
        self.min_length > 0
            || self.max_length < usize::MAX
            || !self.patterns.is_empty()
            || self.enum_strings.is_some()
    }

    fn number_checks(&self) -> bool {
        self.integer
            || self.minimum > f64::NEG_INFINITY
            || self.maximum < f64::INFINITY
            || self.exclusive_minimum > f64::NEG_INFINITY
            || self.exclusive_maximum < f64::INFINITY
            || !self.multiples.is_empty()
    }
}

/// The plans of a schema set: merged shapes, one pass over a body each.
#[derive(Debug, Default)]
pub(crate) struct Plans {
    shapes: Vec<Shape>,
    /// Per schema id of the set: its shape, if it has a plan.
    roots: Vec<Option<ShapeId>>,
}

/// Merges the sets of nodes that apply at each place into shapes (memoized by set).
struct Merger<'d> {
    graph: Graph<'d>,
    /// Per shape id: its shape, once merged, unless it is a copy of an earlier leaf (most
    /// shapes of a large description are: found as each is merged, so they never all live at
    /// once).
    shapes: Vec<Option<Box<Shape>>>,
    /// Per shape id: the id whose shape it is (itself unless a copy).
    copy_of: Vec<ShapeId>,
    /// The leaves merged so far, by [`leaf_key`].
    leaves: HashMap<Vec<u8>, ShapeId>,
    memo: HashMap<Vec<NodeId>, ShapeId>,
    /// Shapes given an id whose checks are still to be merged.
    todo: Vec<(ShapeId, Vec<NodeId>)>,
}

impl<'d> Merger<'d> {
    fn merge(graph: Graph<'d>) -> Plans {
        let mut m = Merger {
            graph,
            shapes: vec![Some(Box::new(Shape::any())), Some(Box::new(Shape::never()))],
            copy_of: vec![ANY, NEVER],
            leaves: HashMap::new(),
            memo: HashMap::new(),
            todo: Vec::new(),
        };
        let roots = std::mem::take(&mut m.graph.roots);
        let mut out = Vec::with_capacity(roots.len());
        for root in roots {
            let shape = root.and_then(|r| {
                let set = m.graph.flat.get(r as usize)?.clone();
                let id = m.shape_of(set);
                m.run();
                Some(id)
            });
            // A root left to the full way as a whole has no plan at all.
            out.push(shape.filter(|&id| id != NEVER));
        }
        // The nodes and the memo go before the copies are found.
        let Merger {
            shapes, copy_of, ..
        } = m;
        let shapes = dedup(shapes, copy_of, &mut out);
        Plans { shapes, roots: out }
    }

    /// The shape of the set of nodes `set` (merged later, by [`Self::run`]).
    fn shape_of(&mut self, mut set: Vec<NodeId>) -> ShapeId {
        set.sort_unstable();
        set.dedup();
        if set.is_empty() {
            return ANY;
        }
        if let Some(&id) = self.memo.get(&set) {
            return id;
        }
        let Ok(id) = ShapeId::try_from(self.shapes.len()) else {
            return NEVER;
        };
        if self.shapes.len() >= MAX_SHAPES {
            return NEVER;
        }
        self.shapes.push(None);
        self.copy_of.push(id);
        self.memo.insert(set.clone(), id);
        self.todo.push((id, set));
        id
    }

    fn run(&mut self) {
        while let Some((id, set)) = self.todo.pop() {
            let shape = self.build(&set);
            if id > NEVER && is_leaf(&shape) {
                match self.leaves.entry(leaf_key(&shape)) {
                    Entry::Occupied(e) => {
                        if let Some(c) = self.copy_of.get_mut(id as usize) {
                            *c = *e.get();
                        }
                        continue;
                    }
                    Entry::Vacant(e) => {
                        e.insert(id);
                    }
                }
            }
            if let Some(slot) = self.shapes.get_mut(id as usize) {
                *slot = Some(Box::new(shape));
            }
        }
    }

    fn node(&self, id: NodeId) -> Option<&Node<'d>> {
        self.graph.nodes.get(id as usize)
    }

    fn flat(&self, id: NodeId) -> Vec<NodeId> {
        self.graph
            .flat
            .get(id as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// The kinds a node's reach may let through, ignoring its choices (so never fewer than it
    /// does).
    fn kinds(&self, id: NodeId) -> u8 {
        let mut kinds = K_ALL;
        for &n in self.graph.flat.get(id as usize).into_iter().flatten() {
            let Some(node) = self.node(n) else {
                return 0;
            };
            if node.never {
                return 0;
            }
            kinds &= kinds_of_types(node.types);
            if node.enum_strings.is_some() {
                kinds &= K_STRING | if node.enum_null { K_NULL } else { 0 };
            }
        }
        kinds
    }

    /// The set `set` holding choices, for a value of kind `kind`: each `anyOf`/`oneOf` whose
    /// branches let exactly one through for that kind is that branch (the others refuse the
    /// value whatever it is, so both keywords hold exactly when it does); none or several:
    /// [`NEVER`] (the full way decides).
    fn resolve(&mut self, set: &[NodeId], kind: usize) -> ShapeId {
        let bit = 1u8 << kind;
        let mut current = set.to_vec();
        let mut expanded: Vec<NodeId> = Vec::new();
        for _ in 0..MAX_CHOICES {
            let mut next = Vec::with_capacity(current.len());
            let mut changed = false;
            for &n in &current {
                let Some(node) = self.node(n) else {
                    return NEVER;
                };
                let Some((branches, _)) = node.choice.as_deref() else {
                    next.push(n);
                    continue;
                };
                if expanded.contains(&n) {
                    // The choice reaches itself for the same value.
                    return NEVER;
                }
                let through: Vec<NodeId> = branches
                    .iter()
                    .copied()
                    .filter(|&b| self.kinds(b) & bit != 0)
                    .collect();
                let [one] = through[..] else {
                    return NEVER;
                };
                expanded.push(n);
                next.extend(self.flat(one));
                changed = true;
            }
            if !changed {
                return self.shape_of(current);
            }
            current = next;
        }
        NEVER
    }

    /// The checks of the nodes of `set`, all of which a value meets.
    fn build(&mut self, set: &[NodeId]) -> Shape {
        if set
            .iter()
            .any(|&n| self.node(n).is_some_and(|node| node.choice.is_some()))
        {
            let mut switch = [NEVER; 6];
            for (kind, slot) in switch.iter_mut().enumerate() {
                *slot = self.resolve(set, kind);
            }
            return Shape {
                switch: Some(Box::new(switch)),
                ..Shape::any()
            };
        }
        let mut s = Shape::any();
        let mut names: Vec<String> = Vec::new();
        let mut patterns: Vec<&str> = Vec::new();
        let mut items: Vec<NodeId> = Vec::new();
        let nodes: Vec<&Node<'d>> = set.iter().filter_map(|&n| self.node(n)).collect();
        if nodes.len() != set.len() || nodes.iter().any(|n| n.never) {
            return Shape::never();
        }
        for n in &nodes {
            s.kinds &= kinds_of_types(n.types);
            if n.types != 0 && n.types & T_NUMBER == 0 && n.types & T_INTEGER != 0 {
                s.integer = true;
            }
            if let Some(values) = &n.enum_strings {
                s.kinds &= K_STRING | if n.enum_null { K_NULL } else { 0 };
                s.enum_strings = Some(match s.enum_strings.take() {
                    None => values.iter().map(|v| (*v).to_string()).collect(),
                    Some(before) => before
                        .into_iter()
                        .filter(|v| values.contains(&v.as_str()))
                        .collect(),
                });
            }
            if let Some(b) = n.bounds.as_deref() {
                if let Some(m) = b.min_length {
                    s.min_length = s.min_length.max(m);
                }
                if let Some(m) = b.max_length {
                    s.max_length = s.max_length.min(m);
                }
                if let Some((text, regex)) = &b.pattern {
                    if !patterns.contains(text) {
                        patterns.push(text);
                        s.patterns.push(Pattern::new(text, regex.clone()));
                    }
                }
                if let Some(m) = b.minimum {
                    s.minimum = s.minimum.max(m);
                }
                if let Some(m) = b.maximum {
                    s.maximum = s.maximum.min(m);
                }
                if let Some(m) = b.exclusive_minimum {
                    s.exclusive_minimum = s.exclusive_minimum.max(m);
                }
                if let Some(m) = b.exclusive_maximum {
                    s.exclusive_maximum = s.exclusive_maximum.min(m);
                }
                if let Some(m) = b.multiple_of {
                    if !s.multiples.contains(&m) {
                        s.multiples.push(m);
                    }
                }
                if let Some(m) = b.min_properties {
                    s.min_properties = s.min_properties.max(m);
                }
                if let Some(m) = b.max_properties {
                    s.max_properties = s.max_properties.min(m);
                }
                if let Some(m) = b.min_items {
                    s.min_items = s.min_items.max(m);
                }
                if let Some(m) = b.max_items {
                    s.max_items = s.max_items.min(m);
                }
            }
            for (name, _) in &n.properties {
                names.push((*name).to_string());
            }
            names.extend(n.required.iter().map(|r| (*r).to_string()));
            if let Some(i) = n.items {
                items.push(i);
            }
        }
        names.sort_unstable();
        names.dedup();
        // A member's checks: per node, its `properties` entry or else its `additionalProperties`.
        let member_sets: Vec<Option<Vec<NodeId>>> = names
            .iter()
            .map(|name| {
                let mut set = Vec::new();
                for n in &nodes {
                    match n
                        .properties
                        .binary_search_by(|(p, _)| (*p).cmp(name.as_str()))
                    {
                        Ok(i) => set.extend(n.properties.get(i).map(|p| p.1)),
                        Err(_) => match n.additional {
                            Additional::Any => {}
                            Additional::Never => return None,
                            Additional::Schema(a) => set.push(a),
                        },
                    }
                }
                Some(set)
            })
            .collect();
        let mut additional = Some(Vec::new());
        for n in &nodes {
            match (&mut additional, &n.additional) {
                (Some(set), Additional::Schema(a)) => set.push(*a),
                (_, Additional::Never) => additional = None,
                _ => {}
            }
        }
        let required: Vec<bool> = names
            .iter()
            .map(|name| nodes.iter().any(|n| n.required.contains(&name.as_str())))
            .collect();
        drop(nodes);
        let mut members = Vec::with_capacity(names.len());
        for set in member_sets {
            members.push(match set {
                Some(set) => {
                    let flat = set.into_iter().flat_map(|n| self.flat(n)).collect();
                    self.shape_of(flat)
                }
                None => NEVER,
            });
        }
        s.additional = match additional {
            Some(set) => {
                let flat = set.into_iter().flat_map(|n| self.flat(n)).collect();
                self.shape_of(flat)
            }
            None => NEVER,
        };
        let flat = items.into_iter().flat_map(|n| self.flat(n)).collect();
        s.items = self.shape_of(flat);
        s.required = vec![0; names.len().div_ceil(64)];
        for (i, _) in required.iter().enumerate().filter(|(_, r)| **r) {
            if let Some(word) = s.required.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
        }
        if s.required.iter().all(|w| *w == 0) {
            s.required.clear();
        }
        s.strings_checked = s.string_checks();
        s.numbers_checked = s.number_checks();
        s.members = members;
        s.names = Names::new(
            names
                .into_iter()
                .map(|n| n.into_bytes().into_boxed_slice())
                .collect(),
        );
        s
    }
}

/// The checks of a shape without members or alternatives, as bytes (equal for equal checks).
fn leaf_key(s: &Shape) -> Vec<u8> {
    let mut k = Vec::with_capacity(96);
    let word = |k: &mut Vec<u8>, w: u64| k.extend_from_slice(&w.to_le_bytes());
    k.push(s.kinds);
    k.push(u8::from(s.integer));
    for n in [
        s.min_length,
        s.max_length,
        s.min_properties,
        s.max_properties,
        s.min_items,
        s.max_items,
    ] {
        word(&mut k, n as u64);
    }
    for f in [
        s.minimum,
        s.maximum,
        s.exclusive_minimum,
        s.exclusive_maximum,
    ] {
        word(&mut k, f.to_bits());
    }
    word(&mut k, u64::from(s.additional));
    word(&mut k, u64::from(s.items));
    word(&mut k, s.multiples.len() as u64);
    for m in &s.multiples {
        word(&mut k, m.to_bits());
    }
    word(&mut k, s.required.len() as u64);
    word(&mut k, s.patterns.len() as u64);
    for p in &s.patterns {
        match p {
            Pattern::Regex(r) => {
                k.push(0);
                word(&mut k, r.as_str().len() as u64);
                k.extend_from_slice(r.as_str().as_bytes());
            }
            Pattern::Simple(atoms) => {
                k.push(1);
                word(&mut k, atoms.len() as u64);
                for a in atoms {
                    for w in a.set {
                        word(&mut k, w);
                    }
                    word(&mut k, a.min as u64);
                    word(&mut k, a.max as u64);
                }
            }
        }
    }
    match &s.enum_strings {
        None => k.push(0),
        Some(values) => {
            k.push(1);
            word(&mut k, values.len() as u64);
            for v in values {
                word(&mut k, v.len() as u64);
                k.extend_from_slice(v.as_bytes());
            }
        }
    }
    k
}

/// The shapes with every shape that has no shapes under it kept once per content (a large
/// description's many properties of the same type and bounds become one), references and
/// `roots` renumbered.
/// A shape without members, items, additional members or alternatives (its checks are all in
/// [`leaf_key`]).
fn is_leaf(s: &Shape) -> bool {
    s.switch.is_none()
        && s.members.is_empty()
        && matches!(s.additional, ANY | NEVER)
        && matches!(s.items, ANY | NEVER)
}

/// The shapes without the copies of leaves found while merging (`copy_of`), renumbered.
fn dedup(
    shapes: Vec<Option<Box<Shape>>>,
    remap: Vec<ShapeId>,
    roots: &mut [Option<ShapeId>],
) -> Vec<Shape> {
    let mut renumbered = vec![NEVER; shapes.len()];
    let mut kept = Vec::new();
    for (i, s) in shapes.into_iter().enumerate() {
        if remap.get(i).is_some_and(|&r| r as usize == i) {
            if let Some(slot) = renumbered.get_mut(i) {
                *slot = ShapeId::try_from(kept.len()).unwrap_or(NEVER);
            }
            kept.push(s.map_or_else(Shape::never, |b| *b));
        }
    }
    let fix = |id: ShapeId| -> ShapeId {
        remap
            .get(id as usize)
            .and_then(|&r| renumbered.get(r as usize))
            .copied()
            .unwrap_or(NEVER)
    };
    for s in &mut kept {
        s.additional = fix(s.additional);
        s.items = fix(s.items);
        for m in &mut s.members {
            *m = fix(*m);
        }
        if let Some(switch) = &mut s.switch {
            for x in switch.iter_mut() {
                *x = fix(*x);
            }
        }
    }
    for r in roots.iter_mut().flatten() {
        *r = fix(*r);
    }
    kept
}

impl Plans {
    /// Whether schema `schema` has a plan (so [`Self::accepts`] may answer `true`).
    pub(crate) fn covers(&self, schema: usize) -> bool {
        matches!(self.roots.get(schema), Some(Some(_)))
    }

    /// Appends the plans of the next schemas of the set (another batch), their shapes renumbered.
    pub(crate) fn append(&mut self, next: Plans) {
        if self.shapes.is_empty() {
            *self = next;
            return;
        }
        // Both start with [`ANY`] and [`NEVER`]; the others move up by `offset`.
        let offset = u32::try_from(self.shapes.len()).unwrap_or(u32::MAX);
        let fix = |id: ShapeId| -> ShapeId {
            if id <= NEVER {
                id
            } else {
                (id - 2).saturating_add(offset)
            }
        };
        for mut s in next.shapes.into_iter().skip(2) {
            s.additional = fix(s.additional);
            s.items = fix(s.items);
            for m in &mut s.members {
                *m = fix(*m);
            }
            if let Some(switch) = &mut s.switch {
                for x in switch.iter_mut() {
                    *x = fix(*x);
                }
            }
            self.shapes.push(s);
        }
        self.roots
            .extend(next.roots.into_iter().map(|r| r.map(fix)));
    }

    /// Whether `bytes` is JSON within `limits` that the schema `schema` (an index of the set)
    /// accepts, decided quickly; `false` also for "not decided here".
    pub(crate) fn accepts(&self, schema: usize, bytes: &[u8], limits: &JsonLimits) -> bool {
        let Some(Some(root)) = self.roots.get(schema) else {
            return false;
        };
        if limits.max_number_length == 0 {
            return false;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return false;
        };
        let mut walk = Walk {
            shapes: &self.shapes,
            text,
            b: bytes,
            i: 0,
            depth: 0,
            max_depth: limits.max_depth.min(MAX_QUICK_DEPTH),
            max_number_length: limits.max_number_length,
            keys: Vec::new(),
            seen: Vec::new(),
        };
        walk.ws();
        if walk.value(*root).is_none() {
            return false;
        }
        walk.ws();
        walk.i == bytes.len()
    }
}

/// One pass over a body.
struct Walk<'p> {
    shapes: &'p [Shape],
    text: &'p str,
    b: &'p [u8],
    i: usize,
    depth: usize,
    max_depth: usize,
    max_number_length: usize,
    /// The keys of the objects being read that are in no shape's `names` (byte ranges),
    /// innermost last.
    keys: Vec<(usize, usize)>,
    /// The members with checks seen so far, bits over the shape's names, innermost last.
    seen: Vec<u64>,
}

/// `None`: not decided here.
type Step = Option<()>;

fn check(ok: bool) -> Step {
    ok.then_some(())
}

/// Eight bytes with `b` in each.
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// Where the string from `start` (after its quote) ends or has something to look at: the first
/// `"`, `\` or control character, eight bytes at a time.
fn string_stop(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
        let quote = w ^ splat(b'"');
        let backslash = w ^ splat(b'\\');
        let found = (quote.wrapping_sub(splat(1)) & !quote)
            | (backslash.wrapping_sub(splat(1)) & !backslash)
            | (w.wrapping_sub(splat(0x20)) & !w);
        let found = found & splat(0x80);
        if found != 0 {
            // The lowest flagged byte is exact (a borrow only flags bytes above a true one).
            return Some(i + found.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    let rest = b.get(i..)?;
    let len = rest
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    Some(i + len)
}

impl<'p> Walk<'p> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Step {
        self.ws();
        check(self.peek() == Some(byte))?;
        self.i += 1;
        Some(())
    }

    fn value(&mut self, id: ShapeId) -> Step {
        let first = self.peek()?;
        let kind = kind_of(first)?;
        let mut shape = self.shapes.get(id as usize)?;
        if let Some(switch) = &shape.switch {
            shape = self.shapes.get(*switch.get(kind)? as usize)?;
        }
        check(shape.kinds & (1 << kind) != 0)?;
        match first {
            b'{' => self.object(shape),
            b'[' => self.array(shape),
            b'"' => self.string(shape),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(shape),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Step {
        check(self.b.get(self.i..self.i + word.len()) == Some(word))?;
        self.i += word.len();
        Some(())
    }

    fn enter(&mut self) -> Step {
        self.depth += 1;
        self.i += 1;
        check(self.depth <= self.max_depth)
    }

    fn object(&mut self, shape: &'p Shape) -> Step {
        self.enter()?;
        let keys_mark = self.keys.len();
        // Members seen: bits here for up to 64 names, else words on `self.seen`.
        let wide = shape.names.len() > 64;
        let mut bits = 0u64;
        let seen_mark = self.seen.len();
        if wide {
            self.seen
                .resize(seen_mark + shape.names.len().div_ceil(64), 0);
        }
        let mut count = 0usize;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.eat(b'"')?;
                let (start, end) = self.key()?;
                let key = self.b.get(start..end)?;
                count += 1;
                let member = match shape.names.find(self.b, start, end) {
                    Some(at) => {
                        let word = if wide {
                            self.seen.get_mut(seen_mark + at / 64)?
                        } else {
                            &mut bits
                        };
                        let bit = 1u64 << (at % 64);
                        // A repeated key.
                        check(*word & bit == 0)?;
                        *word |= bit;
                        *shape.members.get(at)?
                    }
                    None => {
                        let earlier = self.keys.get(keys_mark..).unwrap_or_default();
                        check(earlier.len() < MAX_QUICK_MEMBERS)?;
                        check(!earlier.iter().any(|&(s, e)| self.b.get(s..e) == Some(key)))?;
                        self.keys.push((start, end));
                        shape.additional
                    }
                };
                self.eat(b':')?;
                self.ws();
                self.value(member)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        check(count >= shape.min_properties && count <= shape.max_properties)?;
        if wide {
            for (w, required) in shape.required.iter().enumerate() {
                let seen = self.seen.get(seen_mark + w)?;
                check(seen & required == *required)?;
            }
        } else if let Some(required) = shape.required.first() {
            check(bits & required == *required)?;
        }
        self.keys.truncate(keys_mark);
        self.seen.truncate(seen_mark);
        self.depth -= 1;
        Some(())
    }

    /// A key without escapes (others are left to the full way), after its opening quote.
    fn key(&mut self) -> Option<(usize, usize)> {
        let start = self.i;
        let end = string_stop(self.b, start)?;
        check(self.b.get(end) == Some(&b'"'))?;
        self.i = end + 1;
        Some((start, end))
    }

    fn array(&mut self, shape: &'p Shape) -> Step {
        self.enter()?;
        let mut count = 0usize;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                self.value(shape.items)?;
                count += 1;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        check(count >= shape.min_items && count <= shape.max_items)?;
        self.depth -= 1;
        Some(())
    }

    fn string(&mut self, shape: &Shape) -> Step {
        self.i += 1;
        let start = self.i;
        let stop = string_stop(self.b, start)?;
        let decoded;
        // The string's bytes, and as text (the body was checked as UTF-8 as a whole).
        let (bytes, s): (&[u8], &str) = if self.b.get(stop) == Some(&b'"') {
            self.i = stop + 1;
            if !shape.strings_checked {
                return Some(());
            }
            (self.b.get(start..stop)?, self.text.get(start..stop)?)
        } else {
            decoded = self.escaped(start)?;
            (decoded.as_bytes(), decoded.as_str())
        };
        if shape.min_length > 0 || shape.max_length < usize::MAX {
            // Characters are at most the bytes and at least a quarter of them.
            let n = bytes.len();
            if n > shape.max_length || n.div_ceil(4) < shape.min_length {
                let chars = s.chars().count();
                check(chars >= shape.min_length && chars <= shape.max_length)?;
            }
        }
        for p in &shape.patterns {
            check(p.is_match(s))?;
        }
        if let Some(values) = &shape.enum_strings {
            check(values.iter().any(|v| v.as_bytes() == bytes))?;
        }
        Some(())
    }

    /// A string with escapes from `start` (after its opening quote), decoded as serde_json
    /// does; `\u` escapes of surrogates are left to the full way.
    fn escaped(&mut self, start: usize) -> Option<String> {
        let mut out = String::new();
        let mut i = start;
        loop {
            let stop = string_stop(self.b, i)?;
            out.push_str(self.text.get(i..stop)?);
            i = stop;
            match self.b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some(out);
                }
                b'\\' => {
                    let c = match self.b.get(i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.text.get(i + 2..i + 6)?;
                            check(hex.bytes().all(|h| h.is_ascii_hexdigit()))?;
                            let code = u32::from_str_radix(hex, 16).ok()?;
                            i += 4;
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    out.push(c);
                    i += 2;
                }
                _ => return None,
            }
        }
    }

    fn number(&mut self, shape: &Shape) -> Step {
        let b = self.b;
        let start = self.i;
        let mut i = start;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        // The digits, read as one integer while they fit in 18 digits.
        let mut significand = 0u64;
        let int_start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            significand = significand
                .wrapping_mul(10)
                .wrapping_add(u64::from(d - b'0'));
            i += 1;
        }
        let int_digits = i - int_start;
        check(int_digits > 0)?;
        // No leading zeros.
        check(!(b.get(int_start) == Some(&b'0') && int_digits > 1))?;
        let mut frac_digits = None;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let from = i;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                significand = significand
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(d - b'0'));
                i += 1;
            }
            check(i > from)?;
            frac_digits = Some(i - from);
        }
        let mut exponent = false;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let from = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            check(i > from)?;
            exponent = true;
        }
        check(i - start <= self.max_number_length)?;
        self.i = i;
        let plain = match frac_digits {
            Some(scale) => int_digits + scale <= 18,
            None => int_digits <= 18,
        };
        if !shape.numbers_checked && plain && !exponent {
            // Read as serde_json reads it, whatever its value: nothing to compare.
            return Some(());
        }
        let (f, integer) = match (frac_digits, exponent) {
            (Some(scale), false) if int_digits + scale <= 18 => {
                let f = decimal(negative, significand, scale)?;
                (f, f.fract() == 0.0)
            }
            // `-0` is a float to serde_json.
            (None, false) if int_digits <= 18 && !(negative && significand == 0) => {
                // As serde_json's `as_f64` of the i64/u64 it reads (the cast rounds the same).
                #[allow(clippy::cast_precision_loss)]
                let f = significand as f64;
                (if negative { -f } else { f }, true)
            }
            // serde_json's own reading where it is not plain: exponents, long literals, `-0`.
            _ => {
                let number = serde_json::from_str::<Number>(self.text.get(start..i)?).ok()?;
                let f = number.as_f64()?;
                (f, number.is_i64() || number.is_u64() || f.fract() == 0.0)
            }
        };
        check(f.is_finite())?;
        check(integer || !shape.integer)?;
        check(
            f >= shape.minimum
                && f <= shape.maximum
                && f > shape.exclusive_minimum
                && f < shape.exclusive_maximum,
        )?;
        for m in &shape.multiples {
            check((f / m).fract() == 0.0)?;
        }
        Some(())
    }
}

/// Powers of ten that are exact in an f64 (serde_json's table has the same values).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A decimal literal without exponent (`-12.50`) as serde_json reads it without its
/// `float_roundtrip` feature: all its digits as an integer (`significand`, at most 18 digits),
/// divided by the power of ten of its fraction's length (`scale`); `None` for a longer fraction.
fn decimal(negative: bool, significand: u64, scale: usize) -> Option<f64> {
    // The cast rounds as serde_json's does.
    #[allow(clippy::cast_precision_loss)]
    let f = significand as f64 / POW10.get(scale)?;
    Some(if negative { -f } else { f })
}

#[cfg(test)]
#[path = "quick_tests.rs"]
mod tests;
