//! OpenAPI parameter decoding: every location × allowed style × explode, for primitive, array
//! and object schemas, plus JSON-content parameters, over a request built from the input.
//! Property: every violation is about the parameter it was found for.

use crate::input::{field, fields};
use palisade_schema::coerce::TypeHint;
use palisade_schema::params::{ParamCheck, ParamSpec, Style};
use palisade_schema::request_parts::{decode, RequestParts};
use palisade_schema::validator::{Dialect, SchemaSet, SchemaSetBuilder};
use palisade_schema::violation::{Location, Violations};
use serde_json::{json, Value};

const STYLES: [&str; 7] = [
    "simple",
    "label",
    "matrix",
    "form",
    "spaceDelimited",
    "pipeDelimited",
    "deepObject",
];

fn schemas() -> [Value; 5] {
    [
        json!({"type": "integer", "minimum": 0}),
        json!({"type": "string", "maxLength": 16}),
        json!({"type": "array", "items": {"type": "integer"}, "maxItems": 4}),
        json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}},
               "additionalProperties": {"type": "string"}}),
        json!({"type": ["number", "array"], "items": {"type": "number"}}),
    ]
}

thread_local! {
    static SPECS: (Vec<ParamSpec>, SchemaSet) = build();
}

fn build() -> (Vec<ParamSpec>, SchemaSet) {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, true);
    let mut specs = Vec::new();
    let mut n = 0;
    let locations = [
        (Location::Path, "p"),
        (Location::Query, "q"),
        (Location::Header, "x-h"),
        (Location::Cookie, "c"),
    ];
    for (location, name) in locations {
        for schema in schemas() {
            let url = format!("urn:palisade:fuzz:param:{n}");
            n += 1;
            b.add_resource(&url, schema.clone()).expect("resource");
            let id = b.compile(&url).expect("compiles");
            let hint = TypeHint::from_schema(&schema, &json!({}));
            for style in STYLES {
                let Ok(style) = Style::parse(style, location) else {
                    continue;
                };
                for explode in [false, true] {
                    specs.push(ParamSpec {
                        name: name.into(),
                        location,
                        required: true,
                        check: ParamCheck::Styled {
                            schema: Some(id),
                            hint: hint.clone(),
                            style,
                            explode,
                        },
                    });
                }
            }
            specs.push(ParamSpec {
                name: name.into(),
                location,
                required: false,
                check: ParamCheck::Json { schema: Some(id) },
            });
        }
    }
    (specs, b.finish())
}

/// Fields: path with query, path parameter `p`'s raw value, header `x-h`, the `cookie` header.
pub fn run(data: &[u8]) {
    let f = fields(data);
    let (path_query, path_value, header, cookie) =
        (field(&f, 0), field(&f, 1), field(&f, 2), field(&f, 3));
    let headers = vec![
        (":path".to_string(), path_query.to_string()),
        ("x-h".to_string(), header.to_string()),
        ("cookie".to_string(), cookie.to_string()),
    ];
    let parts = RequestParts::new(path_query, &headers, vec![("p".into(), path_value.into())]);
    let _ = decode(path_value, false);
    let _ = decode(path_query, true);
    SPECS.with(|(specs, set)| {
        for spec in specs {
            let mut out = Violations::new(usize::MAX);
            spec.check(&parts, set, &mut out);
            for v in out.iter() {
                assert_eq!(v.location, spec.location);
                let token = format!("/{}", spec.name);
                assert!(
                    v.pointer == token || v.pointer.starts_with(&format!("{token}/")),
                    "violation at `{}` for parameter `{}`",
                    v.pointer,
                    spec.name
                );
            }
        }
    });
}
