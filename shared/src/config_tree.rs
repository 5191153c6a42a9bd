//! A config document read in two passes: first into a tree that keeps the text's key order and
//! duplicate keys, then through serde from that tree, naming the path of the value every error
//! comes from (`rules[2].match.prefix`).
//!
//! Why not `serde_path_to_error` over serde_json's text parser: that compiles every config type's
//! `Deserialize` against a wrapped text parser, 40–130 KB of Wasm per filter (issue 13). Here each
//! type is compiled against the small [`Walker`] and the text parser once, for [`Node`]. Paths and
//! messages are the same (`tests::agrees_with_serde_path_to_error`): an error is reported at the
//! deepest value it was raised in, a key error at its key (`?` when the key itself is unreadable),
//! and syntax errors before type errors.

pub(crate) use palisade_json_text::{Chain, Node, Track};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use std::fmt;

/// An error of a config document: serde_json's words (its type and value errors name a
/// `null` and a float as it does), without serde_json's error type, whose float wording
/// links its float formatting (issue 13: module size; [`palisade_json_text::write_f64`] writes the float).
///
/// Boxed, so that it is one pointer as serde_json's is: a `Result<T, Error>` of every config
/// type stays as small (measured: a `Box<str>`, two words, grew the jwt module by 24 KB).
#[derive(Debug)]
#[allow(clippy::box_collection)]
pub(crate) struct Error(Box<String>);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string().into())
    }

    #[cold]
    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Error(format!("invalid type: {}, expected {exp}", Unexpected(unexp)).into())
    }

    #[cold]
    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Error(format!("invalid value: {}, expected {exp}", Unexpected(unexp)).into())
    }
}

/// serde's words for an unexpected value, as serde_json says them (`null`, a float written
/// as serde_json writes it).
struct Unexpected<'a>(de::Unexpected<'a>);

impl fmt::Display for Unexpected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use de::Unexpected as U;
        match self.0 {
            U::Bool(b) => write!(f, "boolean `{b}`"),
            U::Unsigned(i) => write!(f, "integer `{i}`"),
            U::Signed(i) => write!(f, "integer `{i}`"),
            U::Float(v) => {
                let mut text = String::new();
                palisade_json_text::write_f64(&mut text, v);
                write!(f, "floating point `{text}`")
            }
            U::Char(c) => write!(f, "character `{c}`"),
            U::Str(s) => write!(f, "string {s:?}"),
            U::Bytes(_) => f.write_str("byte array"),
            U::Unit => f.write_str("null"),
            U::Option => f.write_str("Option value"),
            U::NewtypeStruct => f.write_str("newtype struct"),
            U::Seq => f.write_str("sequence"),
            U::Map => f.write_str("map"),
            U::Enum => f.write_str("enum"),
            U::UnitVariant => f.write_str("unit variant"),
            U::NewtypeVariant => f.write_str("newtype variant"),
            U::TupleVariant => f.write_str("tuple variant"),
            U::StructVariant => f.write_str("struct variant"),
            U::Other(other) => f.write_str(other),
        }
    }
}

/// Deserializes a `T` from `node`, recording the failing path in `track`.
pub(crate) fn walk<T: de::DeserializeOwned>(node: &Node, track: &Track) -> Result<T, Error> {
    T::deserialize(Walker {
        node,
        chain: &Chain::Root,
        track,
    })
}

/// Reads `bytes` (one JSON document, nothing after it) into a [`Node`] (see
/// [`palisade_json_text::read`]).
pub(crate) fn read(bytes: &[u8], track: &Track) -> Result<Node, Error> {
    palisade_json_text::read(bytes, track).map_err(|e| Error(Box::new(e.to_string())))
}

/// serde's view of a [`Node`] at `chain`: what serde_json's text parser shows a type there.
#[derive(Clone, Copy)]
struct Walker<'de, 'a> {
    node: &'de Node,
    chain: &'a Chain<'a>,
    track: &'a Track,
}

impl Walker<'_, '_> {
    fn fail(self, err: Error) -> Error {
        self.track.trigger(self.chain, err)
    }
}

/// serde_json's words for an array or object with entries its visitor left.
fn trailing_characters() -> Error {
    de::Error::custom("trailing characters")
}

/// serde_json's words for an enum that is neither a string nor a one-key object.
fn expected_value() -> Error {
    de::Error::custom("expected value")
}

impl<'de> Walker<'de, '_> {
    /// [`Deserializer::deserialize_any`] for every value but an array, which is refused as a
    /// struct is. Kept apart so a struct's visitor is never compiled against [`Elements`]: that
    /// `visit_seq` (a struct filled by position) would be code no config reaches.
    fn deserialize_not_array<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match self.node {
            Node::Null => visitor.visit_unit(),
            Node::Bool(v) => visitor.visit_bool(*v),
            Node::U64(v) => visitor.visit_u64(*v),
            Node::I64(v) => visitor.visit_i64(*v),
            Node::F64(v) => visitor.visit_f64(*v),
            Node::String(v) => visitor.visit_borrowed_str(v),
            Node::Array(_) => Err(de::Error::invalid_type(de::Unexpected::Seq, &"an object")),
            Node::Object(entries) => {
                let mut map = Entries {
                    entries: entries.iter(),
                    value: None,
                    chain: self.chain,
                    track: self.track,
                };
                let value = visitor.visit_map(&mut map);
                value.and_then(|v| match map.entries.len() {
                    0 => Ok(v),
                    _ => Err(trailing_characters()),
                })
            }
        };
        result.map_err(|e| self.fail(e))
    }
}

impl<'de> Deserializer<'de> for Walker<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Array(items) => {
                let mut seq = Elements {
                    items: items.iter(),
                    index: 0,
                    chain: self.chain,
                    track: self.track,
                };
                let value = visitor.visit_seq(&mut seq);
                value
                    .and_then(|v| match seq.items.len() {
                        0 => Ok(v),
                        _ => Err(trailing_characters()),
                    })
                    .map_err(|e| self.fail(e))
            }
            _ => self.deserialize_not_array(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| self.fail(e))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self).map_err(|e| self.fail(e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = match self.node {
            Node::String(name) => visitor.visit_enum(Variant {
                name,
                node: None,
                chain: self.chain,
                track: self.track,
            }),
            Node::Object(entries) => match entries.as_slice() {
                [(name, node), rest @ ..] => visitor
                    .visit_enum(Variant {
                        name,
                        node: Some(node),
                        chain: self.chain,
                        track: self.track,
                    })
                    .and_then(|v| match rest {
                        [] => Ok(v),
                        _ => Err(expected_value()),
                    }),
                [] => Err(expected_value()),
            },
            _ => Err(expected_value()),
        };
        result.map_err(|e| self.fail(e))
    }

    /// A struct is an object only: serde would also fill one from an array, by position, which
    /// no config of ours means (and the published JSON Schemas refuse).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_not_array(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::String(v) => visitor
                .visit_borrowed_bytes(v.as_bytes())
                .map_err(|e| self.fail(e)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    /// serde_json skips the value without looking into it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit().map_err(|e| self.fail(e))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// An array's elements, each at its index.
struct Elements<'de, 'a> {
    items: std::slice::Iter<'de, Node>,
    index: usize,
    chain: &'a Chain<'a>,
    track: &'a Track,
}

impl<'de> SeqAccess<'de> for Elements<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let chain = Chain::Index(self.chain, self.index);
        self.index += 1;
        let walker = Walker {
            node,
            chain: &chain,
            track: self.track,
        };
        seed.deserialize(walker)
            .map(Some)
            .map_err(|e| self.track.trigger(&chain, e))
    }
}

/// An object's entries in the text's order, each value at its key.
struct Entries<'de, 'a> {
    entries: std::slice::Iter<'de, (String, Node)>,
    /// The entry whose key was just read.
    value: Option<&'de (String, Node)>,
    chain: &'a Chain<'a>,
    track: &'a Track,
}

impl<'de> MapAccess<'de> for Entries<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        seed.deserialize(Key(&entry.0))
            .map(Some)
            .map_err(|e| self.track.trigger(&Chain::Key(self.chain, &entry.0), e))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, node)) = self.value.take() else {
            return Err(de::Error::custom("expected `:`"));
        };
        let chain = Chain::Key(self.chain, key);
        let walker = Walker {
            node,
            chain: &chain,
            track: self.track,
        };
        seed.deserialize(walker)
            .map_err(|e| self.track.trigger(&chain, e))
    }
}

/// An object key. Config maps are keyed by names, so keys are strings only (serde_json would
/// also read `"42"` as a number for a map keyed by integers).
struct Key<'de>(&'de str);

impl<'de> Deserializer<'de> for Key<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let name: de::value::StrDeserializer<Error> = self.0.into_deserializer();
        visitor.visit_enum(name)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// An externally tagged enum: `"variant"`, or `{"variant": value}`.
struct Variant<'de, 'a> {
    name: &'de str,
    /// The value; none when written as a string (a unit variant).
    node: Option<&'de Node>,
    chain: &'a Chain<'a>,
    track: &'a Track,
}

impl<'de: 'a, 'a> EnumAccess<'de> for Variant<'de, 'a> {
    type Error = Error;
    type Variant = VariantValue<'de, 'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let name: de::value::StrDeserializer<Error> = self.name.into_deserializer();
        let variant = seed
            .deserialize(name)
            .map_err(|e| self.track.trigger(self.chain, e))?;
        let value = VariantValue {
            node: self.node,
            chain: Chain::Key(self.chain, self.name),
            track: self.track,
        };
        Ok((variant, value))
    }
}

/// The value of an externally tagged enum, at the variant's name.
struct VariantValue<'de, 'a> {
    node: Option<&'de Node>,
    chain: Chain<'a>,
    track: &'a Track,
}

impl<'de> VariantValue<'de, '_> {
    /// The value's walker; serde_json's error when the variant was written as a string.
    fn walker(&self, expected: &'static str) -> Result<Walker<'de, '_>, Error> {
        let node = self
            .node
            .ok_or_else(|| de::Error::invalid_type(de::Unexpected::UnitVariant, &expected));
        node.map(|node| Walker {
            node,
            chain: &self.chain,
            track: self.track,
        })
        .map_err(|e| self.fail(e))
    }

    fn fail(&self, err: Error) -> Error {
        self.track.trigger(&self.chain, err)
    }
}

impl<'de> VariantAccess<'de> for VariantValue<'de, '_> {
    type Error = Error;

    /// serde_json reads `{"variant": null}` as the unit variant too.
    fn unit_variant(self) -> Result<(), Error> {
        match self.node {
            None => Ok(()),
            Some(_) => self
                .walker("unit variant")
                .and_then(<() as de::Deserialize>::deserialize)
                .map_err(|e| self.fail(e)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        self.walker("newtype variant")
            .and_then(|w| seed.deserialize(w))
            .map_err(|e| self.fail(e))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.walker("tuple variant")
            .and_then(|w| w.deserialize_seq(visitor))
            .map_err(|e| self.fail(e))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.walker("struct variant")
            .and_then(|w| w.deserialize_any(visitor))
            .map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
#[path = "config_tree_tests.rs"]
mod tests;
