//! The quick path for valid JSON bodies (issue 13): the body's bytes are checked against a plan
//! of the schema in one pass, without building a `serde_json::Value` and without boon's
//! per-node bookkeeping. It only ever answers "valid": anything it does not handle exactly as
//! [`crate::json::parse`] and boon do (a schema keyword outside the plan's set, an escape in a
//! key, a duplicate key, a depth or number length near a limit, a float literal it cannot
//! read the way serde_json does) and every invalid body go the full way (parse, then boon),
//! which decides and describes what is wrong. So the answer never depends on this module
//! except in time.
//!
//! Measured on the bench's valid orders (callgrind, release build, `cargo run --release -p
//! palisade-benches --example body_cost`): 64 KiB, parse into a `Value` 5.9 M instructions (with
//! its drop) and boon 3.6 M against 2.9 M here; 1 KiB, 80 k + 59 k against 49 k.
//!
//! The plan's keywords, with boon's semantics: `type`, `enum` (of strings), `properties`,
//! `required`, `additionalProperties`, `minProperties`, `maxProperties`, `items` (one schema),
//! `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern` (without `\`: boon hands such a
//! pattern to the `regex` crate unchanged), `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`, `multipleOf`, `allOf`, `$ref` (to a pointer in a document given in
//! config; siblings ignored in draft-07 as boon does), boolean schemas, and annotations.
//!
//! Checked against the full way, on stable by `random_schemas_and_bodies_never_pass_quickly_
//! where_the_full_way_refuses` (random schemas of these keywords, bodies near their instances;
//! `PALISADE_QUICK_ROUNDS` for longer runs) and with libFuzzer by the `schema_quick` target
//! (`cargo xtask fuzz --target schema_quick`), which also compares the filter's decisions with
//! this path on and off (`SchemaSet::disable_quick_path`, feature `fuzzing`).

use crate::json::JsonLimits;
use regex::Regex;
use serde_json::{Number, Value};
use std::collections::HashMap;

/// A node of the plan arena.
type NodeId = u32;

/// At most this many plan nodes per set: beyond it schemas take the full way only.
const MAX_NODES: usize = 100_000;

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

/// One schema's own checks (what it `$ref`s or `allOf`s is in [`Plans::flat`]).
#[derive(Debug, Default)]
struct Node {
    /// `false`.
    never: bool,
    /// Bit set of the `T_` types; 0 for any.
    types: u8,
    enum_strings: Option<Vec<String>>,
    /// Sorted by name.
    properties: Vec<(String, NodeId)>,
    additional: Additional,
    required: Vec<String>,
    min_properties: Option<usize>,
    max_properties: Option<usize>,
    items: Option<NodeId>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<Regex>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
}

/// The plans of a schema set.
#[derive(Debug, Default)]
pub(crate) struct Plans {
    nodes: Vec<Node>,
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
    plans: Plans,
    /// `url#pointer` → node (also while its children are being planned).
    memo: HashMap<String, NodeId>,
    /// `also` edges while planning: node → the nodes it `$ref`s / `allOf`s.
    also: Vec<Vec<NodeId>>,
    /// Documents known to hold no key that changes how a `$ref` resolves.
    plain_docs: HashMap<String, bool>,
    /// Nodes being built (the recursion's depth).
    depth: usize,
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
            plans: Plans::default(),
            memo: HashMap::new(),
            also: Vec::new(),
            plain_docs: HashMap::new(),
            depth: 0,
        }
    }

    /// Adds the plan of the schema at `location` (the next schema id), if it has one.
    pub(crate) fn add(&mut self, location: &str) {
        let (url, fragment) = location.split_once('#').unwrap_or((location, ""));
        let root = if fragment.is_empty() || fragment.starts_with('/') {
            let before = self.plans.nodes.len();
            let root = self.node(url, fragment);
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
        self.plans
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
        if self.plans.nodes.len() >= MAX_NODES
            || self.depth >= MAX_PLAN_DEPTH
            || pointer.contains('%')
        {
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
        schema: &Value,
        id: NodeId,
    ) -> Option<Node> {
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
                    let values = value.as_array()?;
                    let strings = values
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()?;
                    node.enum_strings = Some(strings);
                }
                "properties" => {
                    let props = value.as_object()?;
                    let mut list = Vec::with_capacity(props.len());
                    for name in props.keys() {
                        let child = self.child(url, pointer, &["properties", name])?;
                        list.push((name.clone(), child));
                    }
                    list.sort_by(|a, b| a.0.cmp(&b.0));
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
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()?;
                }
                "minProperties" => node.min_properties = Some(usize_of(value)?),
                "maxProperties" => node.max_properties = Some(usize_of(value)?),
                "items" if value.is_object() || value.is_boolean() => {
                    node.items = Some(self.child(url, pointer, &[keyword])?);
                }
                "minItems" => node.min_items = Some(usize_of(value)?),
                "maxItems" => node.max_items = Some(usize_of(value)?),
                "minLength" => node.min_length = Some(usize_of(value)?),
                "maxLength" => node.max_length = Some(usize_of(value)?),
                "pattern" => {
                    let p = value.as_str()?;
                    if p.contains('\\') {
                        return None;
                    }
                    node.pattern = Some(Regex::new(p).ok()?);
                }
                "minimum" => node.minimum = Some(value.as_f64()?),
                "maximum" => node.maximum = Some(value.as_f64()?),
                "exclusiveMinimum" if value.is_number() => {
                    node.exclusive_minimum = Some(value.as_f64()?);
                }
                "exclusiveMaximum" if value.is_number() => {
                    node.exclusive_maximum = Some(value.as_f64()?);
                }
                "multipleOf" => node.multiple_of = Some(value.as_f64()?),
                "allOf" => {
                    let n = value.as_array()?.len();
                    for i in 0..n {
                        let i = i.to_string();
                        let part = self.child(url, pointer, &["allOf", &i])?;
                        self.also.get_mut(id as usize)?.push(part);
                    }
                }
                _ => return None,
            }
        }
        Some(node)
    }

    fn reference(&mut self, url: &str, r: &str) -> Option<NodeId> {
        let (target, fragment) = r.split_once('#').unwrap_or((r, ""));
        if !(fragment.is_empty() || fragment.starts_with('/')) {
            return None;
        }
        if target.is_empty() {
            return self.node(url, fragment);
        }
        // Only a URL given in config exactly as written (relative references are not resolved).
        if target.contains("://") || target.starts_with("urn:") {
            let target = target.to_string();
            return self.node(&target, fragment);
        }
        None
    }
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

impl Plans {
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
        let Some(ids) = self.flat.get(*root as usize) else {
            return false;
        };
        let mut walk = Walk {
            plans: self,
            text,
            b: bytes,
            i: 0,
            depth: 0,
            max_depth: limits.max_depth.min(MAX_QUICK_DEPTH),
            max_number_length: limits.max_number_length,
            keys: Vec::new(),
        };
        walk.ws();
        if walk.value(ids).is_none() {
            return false;
        }
        walk.ws();
        walk.i == bytes.len()
    }
}

/// One pass over a body.
struct Walk<'p> {
    plans: &'p Plans,
    text: &'p str,
    b: &'p [u8],
    i: usize,
    depth: usize,
    max_depth: usize,
    max_number_length: usize,
    /// The keys of the objects being read (byte ranges), innermost last.
    keys: Vec<(usize, usize)>,
}

/// `None`: not decided here.
type Step = Option<()>;

fn check(ok: bool) -> Step {
    ok.then_some(())
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

    fn nodes<'a>(&self, ids: &'a [NodeId]) -> impl Iterator<Item = &'p Node> + 'a
    where
        'p: 'a,
    {
        let nodes: &'p [Node] = &self.plans.nodes;
        ids.iter().filter_map(move |&id| nodes.get(id as usize))
    }

    /// The type checks of every node, and `false` and string enums (other values never match).
    fn typed(&self, ids: &[NodeId], t: u8, integer: bool) -> Step {
        for n in self.nodes(ids) {
            check(!n.never)?;
            if n.types != 0 {
                let ok = n.types & t != 0 || (integer && n.types & T_INTEGER != 0);
                check(ok)?;
            }
            if n.enum_strings.is_some() && t != T_STRING {
                return None;
            }
        }
        Some(())
    }

    fn value(&mut self, ids: &[NodeId]) -> Step {
        match self.peek()? {
            b'{' => self.object(ids),
            b'[' => self.array(ids),
            b'"' => self.string(ids),
            b't' => self.literal(b"true", ids, T_BOOL),
            b'f' => self.literal(b"false", ids, T_BOOL),
            b'n' => self.literal(b"null", ids, T_NULL),
            b'-' | b'0'..=b'9' => self.number(ids),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], ids: &[NodeId], t: u8) -> Step {
        check(self.b.get(self.i..self.i + word.len()) == Some(word))?;
        self.i += word.len();
        self.typed(ids, t, false)
    }

    fn enter(&mut self) -> Step {
        self.depth += 1;
        self.i += 1;
        check(self.depth <= self.max_depth)
    }

    fn object(&mut self, ids: &[NodeId]) -> Step {
        self.typed(ids, T_OBJECT, false)?;
        self.enter()?;
        let mark = self.keys.len();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.eat(b'"')?;
                let (start, end) = self.key()?;
                let key = self.text.get(start..end)?;
                let earlier = self.keys.get(mark..).unwrap_or_default();
                check(earlier.len() < MAX_QUICK_MEMBERS)?;
                check(
                    !earlier
                        .iter()
                        .any(|&(s, e)| self.text.get(s..e) == Some(key)),
                )?;
                self.keys.push((start, end));
                self.eat(b':')?;
                self.ws();
                self.member(ids, key)?;
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
        let keys = self.keys.get(mark..).unwrap_or_default();
        for n in self.nodes(ids) {
            check(n.min_properties.is_none_or(|m| keys.len() >= m))?;
            check(n.max_properties.is_none_or(|m| keys.len() <= m))?;
            for name in &n.required {
                check(
                    keys.iter()
                        .any(|&(s, e)| self.text.get(s..e) == Some(name.as_str())),
                )?;
            }
        }
        self.keys.truncate(mark);
        self.depth -= 1;
        Some(())
    }

    /// A key without escapes (others are left to the full way), after its opening quote.
    fn key(&mut self) -> Option<(usize, usize)> {
        let start = self.i;
        let rest = self.b.get(start..)?;
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        check(rest.get(len) == Some(&b'"'))?;
        self.i = start + len + 1;
        Some((start, start + len))
    }

    /// The schemas of member `key` of an object checked against `ids`.
    fn member(&mut self, ids: &[NodeId], key: &str) -> Step {
        let plans = self.plans;
        let child = |n: &Node| -> Option<Option<NodeId>> {
            match n
                .properties
                .binary_search_by(|(name, _)| name.as_str().cmp(key))
            {
                Ok(i) => Some(n.properties.get(i).map(|p| p.1)),
                Err(_) => match n.additional {
                    Additional::Any => Some(None),
                    Additional::Never => None,
                    Additional::Schema(s) => Some(Some(s)),
                },
            }
        };
        if let [one] = ids {
            let n = plans.nodes.get(*one as usize)?;
            return match child(n)? {
                Some(c) => self.value(plans.flat.get(c as usize)?),
                None => self.value(&[]),
            };
        }
        let mut all = Vec::new();
        for n in self.nodes(ids) {
            if let Some(c) = child(n)? {
                all.extend_from_slice(plans.flat.get(c as usize)?);
            }
        }
        self.value(&all)
    }

    fn array(&mut self, ids: &[NodeId]) -> Step {
        self.typed(ids, T_ARRAY, false)?;
        self.enter()?;
        let plans = self.plans;
        let mut items: Vec<NodeId> = Vec::new();
        let mut item_ids: &[NodeId] = &[];
        if let [one] = ids {
            if let Some(c) = plans.nodes.get(*one as usize)?.items {
                item_ids = plans.flat.get(c as usize)?;
            }
        } else {
            for n in self.nodes(ids) {
                if let Some(c) = n.items {
                    items.extend_from_slice(plans.flat.get(c as usize)?);
                }
            }
            item_ids = &items;
        }
        let mut count = 0usize;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                self.value(item_ids)?;
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
        for n in self.nodes(ids) {
            check(n.min_items.is_none_or(|m| count >= m))?;
            check(n.max_items.is_none_or(|m| count <= m))?;
        }
        self.depth -= 1;
        Some(())
    }

    fn string(&mut self, ids: &[NodeId]) -> Step {
        self.typed(ids, T_STRING, false)?;
        self.i += 1;
        let start = self.i;
        let rest = self.b.get(start..)?;
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        let decoded;
        let s: &str = if rest.get(len) == Some(&b'"') {
            self.i = start + len + 1;
            self.text.get(start..start + len)?
        } else {
            decoded = self.escaped(start)?;
            &decoded
        };
        for n in self.nodes(ids) {
            if n.min_length.is_some() || n.max_length.is_some() {
                let chars = s.chars().count();
                check(n.min_length.is_none_or(|m| chars >= m))?;
                check(n.max_length.is_none_or(|m| chars <= m))?;
            }
            if let Some(p) = &n.pattern {
                check(p.is_match(s))?;
            }
            if let Some(values) = &n.enum_strings {
                check(values.iter().any(|v| v == s))?;
            }
        }
        Some(())
    }

    /// A string with escapes from `start` (after its opening quote), decoded as serde_json
    /// does; `\u` escapes of surrogates are left to the full way.
    fn escaped(&mut self, start: usize) -> Option<String> {
        let mut out = String::new();
        let mut i = start;
        loop {
            let rest = self.b.get(i..)?;
            let len = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            out.push_str(self.text.get(i..i + len)?);
            i += len;
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

    fn number(&mut self, ids: &[NodeId]) -> Step {
        let start = self.i;
        let digits = |b: &[u8], mut i: usize| {
            let from = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            (i, i > from)
        };
        let mut i = start;
        if self.b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        let (after_int, any) = digits(self.b, i);
        check(any)?;
        // No leading zeros.
        check(!(self.b.get(int_start) == Some(&b'0') && after_int > int_start + 1))?;
        i = after_int;
        let mut fraction = None;
        if self.b.get(i) == Some(&b'.') {
            let (next, any) = digits(self.b, i + 1);
            check(any)?;
            fraction = Some(i + 1..next);
            i = next;
        }
        let mut exponent = false;
        if matches!(self.b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(self.b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let (next, any) = digits(self.b, i);
            check(any)?;
            i = next;
            exponent = true;
        }
        check(i - start <= self.max_number_length)?;
        let literal = self.text.get(start..i)?;
        self.i = i;
        let negative = start != int_start;
        let int_digits = after_int - int_start;
        let number = match (&fraction, exponent) {
            (Some(frac), false) if int_digits + frac.len() <= 18 => {
                let significand = self
                    .b
                    .get(int_start..after_int)?
                    .iter()
                    .chain(self.b.get(frac.clone())?)
                    .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                Number::from_f64(decimal(negative, significand, frac.len())?)?
            }
            // serde_json's own reading where it is not plain: exponents, long literals, `-0`.
            (None, false) if int_digits <= 18 && literal != "-0" => {
                if negative {
                    Number::from(literal.parse::<i64>().ok()?)
                } else {
                    Number::from(literal.parse::<u64>().ok()?)
                }
            }
            _ => serde_json::from_str::<Number>(literal).ok()?,
        };
        let f = number.as_f64()?;
        let integer = number.is_i64() || number.is_u64() || f.fract() == 0.0;
        self.typed(ids, T_NUMBER, integer)?;
        for n in self.nodes(ids) {
            check(n.minimum.is_none_or(|m| f >= m))?;
            check(n.maximum.is_none_or(|m| f <= m))?;
            check(n.exclusive_minimum.is_none_or(|m| f > m))?;
            check(n.exclusive_maximum.is_none_or(|m| f < m))?;
            check(n.multiple_of.is_none_or(|m| (f / m).fract() == 0.0))?;
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
