//! OpenAPI 3.0's schema dialect, mapped onto draft-07 (which shares its `$ref` semantics):
//! `nullable: true` adds `null` to `type` (and `enum`), boolean `exclusiveMinimum`/`Maximum`
//! become draft-07's numeric form.
//!
//! `nullable: true` next to `oneOf`/`anyOf`/`allOf`/`$ref` (with or without `type`) accepts `null`
//! too: the schema becomes `anyOf: [{type: null}, <the rest>]`. OpenAPI 3.0.3 says `nullable` only
//! applies with `type`, but large real descriptions write `{$ref: ..., nullable: true}` to mean
//! "or null" ("set to null to remove"): refusing such valid traffic is worse than accepting a
//! `null` the author may not have meant. Only places that hold schemas are rewritten, so a property
//! that happens to be called `nullable` is left alone.

use serde_json::{Map, Value};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Rewrites every request-side schema of an OpenAPI 3.0 document in place.
pub fn translate_document(doc: &mut Value) {
    if let Some(components) = doc.get_mut("components") {
        for schema in values_mut(components.get_mut("schemas")) {
            translate_schema(schema);
        }
        for param in values_mut(components.get_mut("parameters")) {
            translate_parameter(param);
        }
        for header in values_mut(components.get_mut("headers")) {
            translate_parameter(header);
        }
        for body in values_mut(components.get_mut("requestBodies")) {
            translate_content(body.get_mut("content"));
        }
    }
    for item in values_mut(doc.get_mut("paths")) {
        for param in array_mut(item.get_mut("parameters")) {
            translate_parameter(param);
        }
        for method in METHODS {
            let Some(op) = item.get_mut(method) else {
                continue;
            };
            for param in array_mut(op.get_mut("parameters")) {
                translate_parameter(param);
            }
            if let Some(body) = op.get_mut("requestBody") {
                translate_content(body.get_mut("content"));
            }
        }
    }
}

fn values_mut(v: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    v.and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(Map::values_mut)
}

fn array_mut(v: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    v.and_then(Value::as_array_mut).into_iter().flatten()
}

fn translate_parameter(param: &mut Value) {
    if let Some(schema) = param.get_mut("schema") {
        translate_schema(schema);
    }
    translate_content(param.get_mut("content"));
}

fn translate_content(content: Option<&mut Value>) {
    for media in values_mut(content) {
        if let Some(schema) = media.get_mut("schema") {
            translate_schema(schema);
        }
    }
}

/// Rewrites one 3.0 schema and its sub-schemas.
pub fn translate_schema(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let nullable = obj.remove("nullable") == Some(Value::Bool(true));
    if nullable {
        if let Some(t) = obj.get_mut("type") {
            if let Value::String(name) = t {
                *t = Value::Array(vec![
                    Value::String(std::mem::take(name)),
                    Value::from("null"),
                ]);
            }
            if let Some(Value::Array(values)) = obj.get_mut("enum") {
                if !values.contains(&Value::Null) {
                    values.push(Value::Null);
                }
            }
        }
    }
    for (bound, exclusive) in [
        ("minimum", "exclusiveMinimum"),
        ("maximum", "exclusiveMaximum"),
    ] {
        match obj.get(exclusive) {
            Some(Value::Bool(true)) => match obj.remove(bound) {
                Some(limit) => {
                    obj.insert(exclusive.to_string(), limit);
                }
                None => {
                    obj.remove(exclusive);
                }
            },
            Some(Value::Bool(false)) => {
                obj.remove(exclusive);
            }
            _ => {}
        }
    }
    for key in ["properties", "patternProperties"] {
        for sub in values_mut(obj.get_mut(key)) {
            translate_schema(sub);
        }
    }
    for key in ["additionalProperties", "not", "items"] {
        match obj.get_mut(key) {
            Some(Value::Array(subs)) => subs.iter_mut().for_each(translate_schema),
            Some(sub) => translate_schema(sub),
            None => {}
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for sub in array_mut(obj.get_mut(key)) {
            translate_schema(sub);
        }
    }
    let composed = ["allOf", "anyOf", "oneOf", "$ref"]
        .iter()
        .any(|k| obj.contains_key(*k));
    if nullable && composed {
        // Draft-07 ignores `$ref`'s siblings, so `null` is added beside the schema, not inside.
        let rest = std::mem::take(obj);
        obj.insert(
            "anyOf".into(),
            Value::Array(vec![
                serde_json::json!({"type": "null"}),
                Value::Object(rest),
            ]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(mut s: Value) -> Value {
        translate_schema(&mut s);
        s
    }

    #[test]
    fn nullable_adds_null_to_type_and_enum() {
        assert_eq!(
            t(json!({"type":"string","nullable":true})),
            json!({"type":["string","null"]})
        );
        assert_eq!(
            t(json!({"type":"string","enum":["a"],"nullable":true})),
            json!({"type":["string","null"],"enum":["a",null]})
        );
        assert_eq!(
            t(json!({"type":"string","nullable":false})),
            json!({"type":"string"})
        );
        // Without `type`, a schema without composition already accepts `null`.
        assert_eq!(
            t(json!({"minLength":1,"nullable":true})),
            json!({"minLength":1})
        );
    }

    #[test]
    fn nullable_beside_composition_or_ref_accepts_null() {
        assert_eq!(
            t(json!({"allOf":[{"$ref":"#/x"}],"nullable":true,"description":"d"})),
            json!({"anyOf":[{"type":"null"},{"allOf":[{"$ref":"#/x"}],"description":"d"}]})
        );
        assert_eq!(
            t(json!({"$ref":"#/x","nullable":true})),
            json!({"anyOf":[{"type":"null"},{"$ref":"#/x"}]})
        );
        for key in ["oneOf", "anyOf"] {
            let s = t(
                json!({key:[{"type":"integer","nullable":true},{"type":"string"}],"nullable":true}),
            );
            assert_eq!(s["anyOf"][0], json!({"type":"null"}));
            assert_eq!(s["anyOf"][1][key][0]["type"], json!(["integer", "null"]));
        }
        assert_eq!(
            t(json!({"$ref":"#/x","nullable":false})),
            json!({"$ref":"#/x"})
        );
        assert_eq!(
            t(json!({"type":"object","allOf":[{"$ref":"#/x"}],"nullable":true})),
            json!({"anyOf":[{"type":"null"},{"type":["object","null"],"allOf":[{"$ref":"#/x"}]}]}),
            "with `type` too, the composed schema would refuse null"
        );
    }

    #[test]
    fn boolean_exclusive_bounds_become_numbers() {
        assert_eq!(
            t(
                json!({"type":"number","minimum":0,"exclusiveMinimum":true,"maximum":10,"exclusiveMaximum":false})
            ),
            json!({"type":"number","exclusiveMinimum":0,"maximum":10})
        );
    }

    #[test]
    fn nested_schemas_are_rewritten_but_property_names_are_not() {
        let s = t(json!({"type":"object","properties":{
            "nullable":{"type":"boolean"},
            "tags":{"type":"array","items":{"type":"string","nullable":true}},
            "meta":{"additionalProperties":{"type":"integer","nullable":true}},
            "pick":{"oneOf":[{"type":"integer","nullable":true}],"not":{"type":"string","nullable":true}}
        }}));
        assert_eq!(s["properties"]["nullable"], json!({"type":"boolean"}));
        assert_eq!(
            s["properties"]["tags"]["items"]["type"],
            json!(["string", "null"])
        );
        assert_eq!(
            s["properties"]["meta"]["additionalProperties"]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(
            s["properties"]["pick"]["oneOf"][0]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(
            s["properties"]["pick"]["not"]["type"],
            json!(["string", "null"])
        );
    }

    #[test]
    fn documents_are_rewritten_where_schemas_live() {
        let mut doc = json!({
            "components":{
                "schemas":{"Id":{"type":"integer","nullable":true}},
                "parameters":{"P":{"name":"p","in":"query","schema":{"type":"string","nullable":true}}},
                "requestBodies":{"B":{"content":{"application/json":{"schema":{"type":"object","nullable":true}}}}}
            },
            "paths":{"/x":{
                "parameters":[{"name":"q","in":"query","schema":{"type":"string","nullable":true}}],
                "post":{
                    "parameters":[{"name":"h","in":"header","content":{"application/json":{"schema":{"type":"object","nullable":true}}}}],
                    "requestBody":{"content":{"application/json":{"schema":{"type":"number","minimum":1,"exclusiveMinimum":true}}}}
                }
            }}
        });
        translate_document(&mut doc);
        let n = json!(["integer", "null"]);
        assert_eq!(doc["components"]["schemas"]["Id"]["type"], n);
        assert_eq!(
            doc["components"]["parameters"]["P"]["schema"]["type"],
            json!(["string", "null"])
        );
        assert_eq!(
            doc["components"]["requestBodies"]["B"]["content"]["application/json"]["schema"]
                ["type"],
            json!(["object", "null"])
        );
        assert_eq!(
            doc["paths"]["/x"]["parameters"][0]["schema"]["type"],
            json!(["string", "null"])
        );
        assert_eq!(
            doc["paths"]["/x"]["post"]["parameters"][0]["content"]["application/json"]["schema"]
                ["type"],
            json!(["object", "null"])
        );
        assert_eq!(
            doc["paths"]["/x"]["post"]["requestBody"]["content"]["application/json"]["schema"],
            json!({"type":"number","exclusiveMinimum":1})
        );
    }
}
