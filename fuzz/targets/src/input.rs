//! Splitting one fuzz input into the several strings a target needs.
//!
//! Fields are separated by byte 0xFF and a header's name from its value by 0xFE: neither occurs
//! in UTF-8, so every field can still hold any character (NUL, CR, LF, `:` ...).

/// Separates fields.
pub const FIELD: u8 = 0xFF;
/// Separates a header's name from its value.
pub const NAME_VALUE: u8 = 0xFE;

/// The fields of `data`, as text (invalid UTF-8 replaced).
pub fn fields(data: &[u8]) -> Vec<String> {
    data.split(|b| *b == FIELD)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// Field `i`, or empty.
pub fn field(fields: &[String], i: usize) -> &str {
    fields.get(i).map_or("", String::as_str)
}

/// A header list: fields of `name 0xFE value`; a field without 0xFE is a name with an empty value.
pub fn header_list(data: &[u8]) -> Vec<(String, String)> {
    data.split(|b| *b == FIELD)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let mut parts = f.splitn(2, |b| *b == NAME_VALUE);
            let name = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let value = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            (name, value)
        })
        .collect()
}

/// Encodes fields the way [`fields`] reads them (for seeds and tests).
pub fn join(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(FIELD);
        }
        out.extend_from_slice(p.as_bytes());
    }
    out
}

/// Encodes a header list the way [`header_list`] reads it.
pub fn join_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (n, v)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(FIELD);
        }
        out.extend_from_slice(n.as_bytes());
        out.push(NAME_VALUE);
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// The first byte as a selector and the rest.
pub fn selector(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    }
}

/// Whether `body` is JSON whose objects never repeat a key (a problem body must be unambiguous).
pub fn is_json_with_unique_keys(body: &[u8]) -> bool {
    use serde::de::{Deserializer as _, MapAccess, SeqAccess, Visitor};
    struct Unique;
    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(UniqueSeed)?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
                }
                map.next_value_seed(UniqueSeed)?;
            }
            Ok(())
        }
    }
    struct UniqueSeed;
    impl<'de> serde::de::DeserializeSeed<'de> for UniqueSeed {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Unique)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    de.deserialize_any(Unique).is_ok() && de.end().is_ok()
}
